"""SQL for tags: names in a repository pointing at one of its manifests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import TagRow

_SELECT = (
    "SELECT t.name, t.manifest_id, t.pushed_at, m.digest, m.image_created_at"
    " FROM tags t JOIN manifests m ON m.id = t.manifest_id"
)


async def upsert_tag(
    db: Writer, repository_id: int, name: str, manifest_id: int, now: datetime
) -> None:
    """Point a tag at a manifest; re-pushing the same manifest keeps the tag's push time.

    A manifest that gains a tag is referenced again; one that loses its last tag is marked
    unreferenced from ``now`` (garbage collection counts its grace period from then).
    """
    # Locked: a concurrent push of the same tag waits, then reads what this one wrote, so
    # each manifest the tag leaves is stamped (on SQLite the single writer does this).
    previous = await fetch_one(
        db,
        "SELECT manifest_id FROM tags WHERE repository_id = ? AND name = ?"
        + dialect_of(db).for_update,
        (repository_id, name),
    )
    await execute(
        db,
        "INSERT INTO tags (repository_id, name, manifest_id, pushed_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (repository_id, name) DO UPDATE SET"
        " manifest_id = excluded.manifest_id, pushed_at = excluded.pushed_at"
        " WHERE tags.manifest_id <> excluded.manifest_id",
        (repository_id, name, manifest_id, format_time(now)),
    )
    await execute(db, "DELETE FROM unreferenced_manifests WHERE manifest_id = ?", (manifest_id,))
    if previous is not None and previous[0] != manifest_id:
        await mark_unreferenced(db, [previous[0]], now)


async def mark_unreferenced(
    db: Writer, manifest_ids: Sequence[int], now: datetime
) -> None:
    """Stamp those of ``manifest_ids`` that no tag points at any more."""
    # One statement for the whole set: a cleanup batch passes thousands of ids. An earlier
    # stamp stays (unreferenced since then). Joined with manifests, so one deleted since (by
    # digest) is skipped rather than a foreign-key error failing the whole batch.
    await db.execute(
        "INSERT INTO unreferenced_manifests (manifest_id, since)"
        f" SELECT m.id, ? FROM {dialect_of(db).ints('?')} j"
        f" {dialect_of(db).ordered_join} manifests m ON m.id = j.value"
        " WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)"
        " ON CONFLICT DO NOTHING",
        (format_time(now), json.dumps(sorted(set(manifest_ids)))),
    )


async def select_tag(db: Reader, repository_id: int, name: str) -> TagRow | None:
    row = await fetch_one(db, f"{_SELECT} WHERE t.repository_id = ? AND t.name = ?",
                          (repository_id, name))
    return TagRow.from_row(row) if row else None


class TagDates(NamedTuple):
    """What a cleanup plans with, for one tag: lighter than ``TagRow`` (100,000 of them are
    read for a large repository). A named tuple: it is built three times faster than a frozen
    dataclass, a tenth of a large cleanup's planning."""

    name: str
    manifest_id: int
    created_at: datetime | None  # the image's build date (Decision 4)
    pushed_at: datetime


# A query answering 100,000 rows hands the GIL back and forth 100,000 times (sqlite3 releases
# it around each step). Beside a busy event loop each hand-over waits for the loop to let go:
# reading a large repository's tags took 0.1 s alone and 99 s next to a thread running Python.
# Aggregated, it is one step: one JSON array per column (not one per tag, which would be
# 100,000 lists for the garbage collector to walk), and parsing each is one C call.
class TagDatesDocument(NamedTuple):
    names: str
    manifest_ids: str
    created_ats: str
    pushed_ats: str


async def select_tag_dates(db: Reader, repository_id: int) -> TagDatesDocument:
    """Every tag of a repository with its manifest and dates, in no particular order, as
    columns for ``parse_tag_dates`` (best called on a worker thread: it is CPU work)."""
    agg = dialect_of(db).array_agg
    row = await fetch_one(
        db,
        # Aggregates of one SELECT see the rows in the same order: the arrays line up.
        f"SELECT {agg('t.name')}, {agg('t.manifest_id')},"
        f" {agg('m.image_created_at')}, {agg('t.pushed_at')}"
        " FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ?",
        (repository_id,),
    )
    assert row is not None  # an aggregate without GROUP BY always answers one row
    return TagDatesDocument(row[0], row[1], row[2], row[3])


def parse_tag_dates(document: TagDatesDocument) -> list[TagDates]:
    parse = datetime.fromisoformat  # the catalog's fixed format (see db.format_time)
    names, manifest_ids, created_ats, pushed_ats = map(json.loads, document)
    return [
        TagDates(name, manifest_id, parse(created) if created is not None else None, parse(pushed))
        for name, manifest_id, created, pushed in zip(
            names, manifest_ids, created_ats, pushed_ats, strict=True
        )
    ]


async def select_tag_names(
    db: Reader, repository_id: int, *, after: str | None, limit: int, descending: bool = False
) -> list[str]:
    """Tag names in byte order (or its reverse), from the first one past ``after`` in that
    order; ``limit`` < 0 means all."""
    if after is not None and "\x00" in after:
        # PostgreSQL's text cannot hold NUL. No tag name contains one, so "past ``after``"
        # is "past its part before the NUL" ascending, and "up to and with it" descending.
        after, inclusive = after.partition("\x00")[0], descending
    else:
        inclusive = False
    below = "<=" if inclusive else "<"
    bound = "" if after is None else (f"AND name {below} ?" if descending else "AND name > ?")
    direction = "DESC" if descending else "ASC"
    # One JSON value, one SQLite step, however many tags (see select_tag_dates on the GIL).
    row = await fetch_one(
        db,
        f"SELECT {dialect_of(db).array_agg('name')} FROM (SELECT name FROM tags"
        f" WHERE repository_id = ? {bound} ORDER BY name {direction} LIMIT ?) page",
        (repository_id, *(() if after is None else (after,)), dialect_of(db).limit(limit)),
    )
    # An aggregate's input order is not promised; already in order, sorting is one pass.
    # (Python's order is code point order, which UTF-8 byte order, SQLite's, preserves.)
    return sorted(json.loads(row[0]), reverse=descending) if row else []


async def count_tags(db: Reader, repository_id: int) -> int:
    # Kept by triggers (migration 0005): counting 100,000 index entries took milliseconds.
    row = await fetch_one(db, "SELECT tags_count FROM repositories WHERE id = ?", (repository_id,))
    return int(row[0]) if row else 0


async def delete_tag(
    db: Writer, repository_id: int, name: str, now: datetime
) -> bool:
    """Remove one tag (and only it: other tags on the same manifest stay)."""
    row = await fetch_one(
        db,
        "DELETE FROM tags WHERE repository_id = ? AND name = ? RETURNING manifest_id",
        (repository_id, name),
    )
    if row is None:
        return False
    await mark_unreferenced(db, [row[0]], now)
    return True


async def delete_tags_if_unchanged(
    db: Writer, repository_id: int, tags: Sequence[tuple[str, int]], now: datetime
) -> int:
    """Delete each (name, manifest id) whose tag still points at that manifest; a tag moved
    to another manifest since it was planned is left alone. Returns how many went."""
    # One statement for the batch, not one per tag: see select_tag_dates on the GIL. CROSS
    # JOIN keeps the planner walking the list and looking each tag up, never the reverse.
    # The count excludes the rows the tag-count trigger updates.
    deleted = await db.execute(
        f"DELETE FROM tags WHERE id IN (SELECT t.id FROM {dialect_of(db).pairs('?')} j"
        f" {dialect_of(db).ordered_join} tags t ON t.repository_id = ? AND t.name = j.name"
        " AND t.manifest_id = j.id)",
        (json.dumps(tags), repository_id),
    )
    await mark_unreferenced(db, [manifest_id for _, manifest_id in tags], now)
    return deleted


async def select_existing_names(db: Reader, repository_id: int, names: Sequence[str]) -> set[str]:
    """Which of ``names`` are tags of the repository."""
    rows = await fetch_all(
        db,
        "SELECT name FROM tags WHERE repository_id = ?"
        f" AND name IN {dialect_of(db).texts('?')}",
        (repository_id, json.dumps(list(names))),
    )
    return {r[0] for r in rows}


async def select_tag_manifest_ids(db: Reader, repository_id: int) -> dict[str, int]:
    """Every tag of a repository and the id of its manifest."""
    rows = await fetch_all(
        db, "SELECT name, manifest_id FROM tags WHERE repository_id = ?", (repository_id,)
    )
    return {row[0]: row[1] for row in rows}


async def insert_tags(
    db: Writer, repository_id: int, tags: Sequence[tuple[str, int]], now: datetime
) -> None:
    """Add many new tags (name, manifest id) in a few statements (seeding); as ``upsert_tag``
    does, each manifest that gains a tag counts as referenced again."""
    pushed_at = format_time(now)
    await db.executemany(
        "INSERT INTO tags (repository_id, name, manifest_id, pushed_at) VALUES (?, ?, ?, ?)",
        [(repository_id, name, manifest_id, pushed_at) for name, manifest_id in tags],
    )
    await db.execute(
        "DELETE FROM unreferenced_manifests WHERE manifest_id IN"
        f" {dialect_of(db).ints('?')}",
        (json.dumps(sorted({manifest_id for _, manifest_id in tags})),),
    )


async def select_tag_names_page(
    db: Reader, repository_id: int, *, limit: int, offset: int
) -> list[str]:
    """One page of tag names in byte order (GitLab's offset pagination of tags)."""
    rows = await fetch_all(
        db,
        "SELECT name FROM tags WHERE repository_id = ? ORDER BY name LIMIT ? OFFSET ?",
        (repository_id, limit, offset),
    )
    return [r[0] for r in rows]


async def select_tag_names_of_repositories(
    db: Reader, repository_ids: Sequence[int]
) -> dict[int, list[str]]:
    """Every tag name of each repository, in byte order (repositories without tags map to
    an empty list)."""
    found: dict[int, list[str]] = {repository_id: [] for repository_id in repository_ids}
    if not repository_ids:
        return found
    marks = ",".join("?" * len(repository_ids))
    # A row per repository with its names as one JSON value (see select_tag_names).
    rows = await fetch_all(
        db,
        f"SELECT repository_id, {dialect_of(db).array_agg('name')} FROM tags"
        f" WHERE repository_id IN ({marks})"
        " GROUP BY repository_id",
        tuple(repository_ids),
    )
    for repository_id, names in rows:
        found[repository_id] = sorted(json.loads(names))
    return found


async def count_tags_of_repositories(
    db: Reader, repository_ids: Sequence[int]
) -> dict[int, int]:
    """How many tags each repository has."""
    found = dict.fromkeys(repository_ids, 0)
    if not repository_ids:
        return found
    marks = ",".join("?" * len(repository_ids))
    rows = await fetch_all(
        db, f"SELECT id, tags_count FROM repositories WHERE id IN ({marks})", tuple(repository_ids)
    )
    found.update({r[0]: int(r[1]) for r in rows})
    return found


async def select_tag_names_of_manifest(db: Reader, manifest_id: int) -> list[str]:
    """The tags pointing at one manifest (what deleting it by digest would take along)."""
    rows = await fetch_all(
        db, "SELECT name FROM tags WHERE manifest_id = ? ORDER BY name", (manifest_id,)
    )
    return [row[0] for row in rows]
