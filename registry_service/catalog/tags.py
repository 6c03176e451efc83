"""SQL for tags: names in a repository pointing at one of its manifests."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from registry_service.catalog.db import Reader, execute, fetch_all, fetch_one, format_time
from registry_service.catalog.rows import TagRow

_SELECT = (
    "SELECT t.name, t.manifest_id, t.pushed_at, m.digest, m.image_created_at"
    " FROM tags t JOIN manifests m ON m.id = t.manifest_id"
)


async def upsert_tag(
    db: aiosqlite.Connection, repository_id: int, name: str, manifest_id: int, now: datetime
) -> None:
    """Point a tag at a manifest; re-pushing the same manifest keeps the tag's push time."""
    await execute(
        db,
        "INSERT INTO tags (repository_id, name, manifest_id, pushed_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (repository_id, name) DO UPDATE SET"
        " manifest_id = excluded.manifest_id, pushed_at = excluded.pushed_at"
        " WHERE tags.manifest_id <> excluded.manifest_id",
        (repository_id, name, manifest_id, format_time(now)),
    )


async def select_tag(db: Reader, repository_id: int, name: str) -> TagRow | None:
    row = await fetch_one(db, f"{_SELECT} WHERE t.repository_id = ? AND t.name = ?",
                          (repository_id, name))
    return TagRow.from_row(row) if row else None


async def select_tags(db: Reader, repository_id: int) -> list[TagRow]:
    """Every tag of a repository, by name (byte order)."""
    rows = await fetch_all(
        db, f"{_SELECT} WHERE t.repository_id = ? ORDER BY t.name", (repository_id,)
    )
    return [TagRow.from_row(r) for r in rows]


async def select_tag_names(
    db: Reader, repository_id: int, *, after: str | None, limit: int
) -> list[str]:
    """Tag names in lexical order, starting after ``after``; ``limit`` < 0 means all."""
    rows = await fetch_all(
        db,
        "SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?",
        (repository_id, after or "", limit),
    )
    return [r[0] for r in rows]


async def count_tags(db: Reader, repository_id: int) -> int:
    row = await fetch_one(db, "SELECT COUNT(*) FROM tags WHERE repository_id = ?", (repository_id,))
    return int(row[0]) if row else 0


async def delete_tag(db: aiosqlite.Connection, repository_id: int, name: str) -> bool:
    """Remove one tag (and only it: other tags on the same manifest stay)."""
    return (
        await execute(
            db, "DELETE FROM tags WHERE repository_id = ? AND name = ?", (repository_id, name)
        )
        == 1
    )
