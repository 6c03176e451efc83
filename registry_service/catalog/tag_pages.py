"""SQL for the web interface's tag table: one keyset page of a repository's tags sorted by
name, build date or push date, optionally filtered by a part of the name, and the platforms
of the indexes on that page. Only SQL lives here.

Each page is one statement that walks an index in the page's order — ``tags(repository_id,
name)``, ``tags_pushed``, or ``manifests_built`` (migration 0006; the build date lives on the
manifest) — and stops after ``limit`` rows, so its cost does not grow with the repository
(bench/web_repository_page.py). A name filter is a substring test: a filter that matches few
tags reads many index entries to fill a page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog.db import fetch_all, parse_time
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader

# The column each order sorts by; the tag name breaks ties (and is the whole key for "name").
SORT_KEYS = {
    "name": "t.name",
    "pushed": "t.pushed_at",
    # An image without a build date sorts first (oldest); '' keeps the comparison total.
    "built": "COALESCE(m.image_created_at, '')",
}


@dataclass(frozen=True)
class TagListRow:
    name: str
    manifest_id: int
    digest: str
    media_type: str
    size_bytes: int | None
    built_at: datetime | None
    pushed_at: datetime
    # The value of the sort key, for the next page's cursor.
    sort_value: str


async def select_tag_page(
    db: Reader,
    repository_id: int,
    *,
    sort: str,
    descending: bool,
    name_contains: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[TagListRow]:
    """Up to ``limit`` tags in the order (``sort``, name), after the cursor (sort value, name)."""
    key = SORT_KEYS[sort]
    op = "<" if descending else ">"
    direction = "DESC" if descending else "ASC"
    where = ["t.repository_id = ?"]
    params: list[object] = [repository_id]
    if name_contains:
        where.append(dialect_of(db).contains("t.name", "?"))
        params.append(name_contains)
    if after is not None:
        if sort == "name":
            where.append(f"t.name {op} ?")
            params.append(after[1])
        else:
            where.append(f"({key}, t.name) {op} (?, ?)")
            params.extend(after)
    order = f"t.name {direction}" if sort == "name" else f"{key} {direction}, t.name {direction}"
    if sort == "built":
        # Walk the repository's manifests in date order (manifests_built) and their tags;
        # CROSS JOIN keeps SQLite from sorting every tag of the repository instead.
        where.append("m.repository_id = ?")
        params.append(repository_id)
        tables = f"manifests m {dialect_of(db).ordered_join} tags t ON t.manifest_id = m.id"
    else:
        tables = "tags t JOIN manifests m ON m.id = t.manifest_id"
    rows = await fetch_all(
        db,
        f"SELECT t.name, t.manifest_id, t.pushed_at, m.digest, m.media_type,"
        f" m.total_size_bytes, m.image_created_at, {key} AS sort_value"
        f" FROM {tables} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?",
        (*params, limit),
    )
    return [
        TagListRow(
            name=r["name"],
            manifest_id=r["manifest_id"],
            digest=r["digest"],
            media_type=r["media_type"],
            size_bytes=r["total_size_bytes"],
            built_at=parse_time(r["image_created_at"]),
            pushed_at=_required(r["pushed_at"]),
            sort_value=str(r["sort_value"]),
        )
        for r in rows
    ]


def _required(text: str) -> datetime:
    when = parse_time(text)
    assert when is not None
    return when


async def select_children_platforms(
    db: Reader, manifest_ids: Sequence[int]
) -> dict[int, list[str | None]]:
    """The platform JSON of each listed child, in order, of those manifests that are indexes."""
    found: dict[int, list[str | None]] = {}
    if not manifest_ids:
        return found
    rows = await fetch_all(
        db,
        "SELECT parent_id, platform FROM manifest_children"
        f" WHERE parent_id IN {dialect_of(db).ints('?')} ORDER BY parent_id, position",
        (json.dumps(sorted(set(manifest_ids))),),
    )
    for parent_id, platform in rows:
        found.setdefault(parent_id, []).append(platform)
    return found


async def select_children(db: Reader, manifest_id: int) -> list[tuple[str, str | None]]:
    """(child digest, platform JSON) of an index's children, in order."""
    rows = await fetch_all(
        db,
        "SELECT child_digest, platform FROM manifest_children WHERE parent_id = ?"
        " ORDER BY position",
        (manifest_id,),
    )
    return [(r[0], r[1]) for r in rows]
