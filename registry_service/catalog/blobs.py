"""SQL for blobs (one row per digest) and the links that let a repository read one."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader, Writer


async def insert_blob(
    db: Writer, digest: str, size_bytes: int, now: datetime
) -> None:
    """Record a blob whose file is durably in the store (idempotent)."""
    await execute(
        db,
        "INSERT INTO blobs (digest, size_bytes, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (digest) DO NOTHING",
        (digest, size_bytes, format_time(now)),
    )


async def insert_blobs(
    db: Writer, blobs: Sequence[tuple[str, int]], now: datetime
) -> int:
    """Record many blobs (digest, size) that are durably in the store; returns how many were
    new (seeding)."""
    created_at = format_time(now)
    return await db.executemany(
        "INSERT INTO blobs (digest, size_bytes, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (digest) DO NOTHING",
        [(digest, size, created_at) for digest, size in blobs],
    )


async def link_blobs(
    db: Writer, repository_id: int, digests: Sequence[str], now: datetime
) -> None:
    """Let a repository read many blobs (seeding); existing links keep their time."""
    linked_at = format_time(now)
    await db.executemany(
        "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, ?)"
        " ON CONFLICT (repository_id, digest) DO NOTHING",
        [(repository_id, digest, linked_at) for digest in digests],
    )


async def lock_blob_rows(tx: Writer, digests: Collection[str]) -> None:
    """Keep the rows of ``digests`` (those that exist) from being deleted until ``tx`` ends:
    taken before a write checks that blobs are there and then references them, so garbage
    collection, which locks them ``FOR UPDATE`` and re-checks (``catalog/garbage.py``),
    either sees the new reference or has deleted them before the check. In digest order,
    as garbage collection locks them. Nothing to do on SQLite (its single writer)."""
    lock = dialect_of(tx).for_key_share
    if not lock or not digests:
        return
    await fetch_all(
        tx,
        f"SELECT digest FROM blobs WHERE digest IN {dialect_of(tx).texts('?')}"
        " ORDER BY digest" + lock,
        (json.dumps(sorted(digests)),),
    )


async def select_blob_size(db: Reader, digest: str) -> int | None:
    row = await fetch_one(db, "SELECT size_bytes FROM blobs WHERE digest = ?", (digest,))
    return int(row[0]) if row else None


async def link_blob(
    db: Writer, repository_id: int, digest: str, now: datetime
) -> None:
    await execute(
        db,
        "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, ?)"
        " ON CONFLICT (repository_id, digest) DO UPDATE SET linked_at = excluded.linked_at",
        (repository_id, digest, format_time(now)),
    )


async def select_linked_blob_size(
    db: Reader, repository_id: int, digest: str
) -> int | None:
    """The blob's size if this repository may read it, else None."""
    row = await fetch_one(
        db,
        "SELECT b.size_bytes FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest"
        " WHERE rb.repository_id = ? AND rb.digest = ?",
        (repository_id, digest),
    )
    return int(row[0]) if row else None


async def unlink_blob(db: Writer, repository_id: int, digest: str) -> bool:
    return (
        await execute(
            db,
            "DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?",
            (repository_id, digest),
        )
        == 1
    )
