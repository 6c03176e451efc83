"""SQL for garbage collection: what is unreferenced, and deletes that re-check it.

Candidates are read without a lock, so by the time a batch is deleted a push may have
referenced one again. Every DELETE here therefore repeats the whole garbage condition in its
WHERE clause, inside the writer's transaction: a row that came back into use is simply not
deleted.

A manifest is garbage when no tag points at it, no index of its repository lists it, it is
not a referrer of a manifest still in its repository, and it has been like that since before
the cutoff (its ``unreferenced_manifests`` stamp, or its push time if it never had a tag).

A blob is garbage when no manifest (of any repository) lists it, no repository linked it
after the cutoff, and its row is older than the cutoff.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

import aiosqlite

from registry_service.catalog.db import Reader, fetch_all, fetch_one, format_time

_MANIFEST_IS_GARBAGE = (
    "COALESCE((SELECT u.since FROM unreferenced_manifests u WHERE u.manifest_id = m.id),"
    "         m.created_at) < :cutoff"
    " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)"
    " AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.parent_id"
    "                 WHERE c.child_digest = m.digest AND p.repository_id = m.repository_id)"
    " AND NOT (m.subject_digest IS NOT NULL AND EXISTS ("
    "     SELECT 1 FROM manifests s"
    "     WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest))"
)

_STAMP_UNTAGGED = (
    "INSERT INTO unreferenced_manifests (manifest_id, since) SELECT m.id, ? FROM manifests m"
    " WHERE m.repository_id = ? AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)"
)

# :spared is a JSON array of manifest ids whose references do not count (a dry run passes the
# manifests it would delete; a real run has deleted them already and passes []).
_BLOB_IS_GARBAGE = (
    "b.created_at < :cutoff"
    " AND NOT EXISTS (SELECT 1 FROM repository_blobs rb"
    "                 WHERE rb.digest = b.digest AND rb.linked_at >= :cutoff)"
    " AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest"
    "                 AND mb.manifest_id NOT IN (SELECT value FROM json_each(:spared)))"
)


async def select_garbage_manifests(db: Reader, cutoff: datetime) -> list[int]:
    rows = await fetch_all(
        db,
        f"SELECT m.id FROM manifests m WHERE {_MANIFEST_IS_GARBAGE} ORDER BY m.id",
        {"cutoff": format_time(cutoff)},
    )
    return [r[0] for r in rows]


async def delete_garbage_manifests(
    tx: aiosqlite.Connection, manifest_ids: Sequence[int], cutoff: datetime, now: datetime
) -> int:
    """Delete those of ``manifest_ids`` that are still garbage; returns how many.

    What they referenced loses a reference now: index children and referrers left with no tag
    are stamped unreferenced from ``now``, so they get a full grace period of their own.
    """
    deleted = 0
    stamp = format_time(now)
    for manifest_id in manifest_ids:
        params = {"id": manifest_id, "cutoff": format_time(cutoff)}
        doomed = await fetch_one(
            tx,
            f"SELECT m.repository_id, m.digest FROM manifests m"
            f" WHERE m.id = :id AND {_MANIFEST_IS_GARBAGE}",
            params,
        )
        if doomed is None:
            continue
        repository_id, digest = doomed[0], doomed[1]
        children = await fetch_all(
            tx, "SELECT child_digest FROM manifest_children WHERE parent_id = ?", (manifest_id,)
        )
        await tx.execute("DELETE FROM manifests WHERE id = ?", (manifest_id,))
        deleted += 1
        # A tagged one is not stamped: its grace starts when its last tag goes.
        await tx.executemany(
            f"{_STAMP_UNTAGGED} AND m.digest = ? ON CONFLICT DO NOTHING",
            [(stamp, repository_id, c[0]) for c in children],
        )
        await tx.execute(
            f"{_STAMP_UNTAGGED} AND m.subject_digest = ? ON CONFLICT DO NOTHING",
            (stamp, repository_id, digest),
        )
    return deleted


async def select_garbage_blobs(
    db: Reader, cutoff: datetime, spared: Collection[int] = ()
) -> list[tuple[str, int]]:
    """(digest, size) of the garbage blobs, counting ``spared`` manifests as already gone."""
    rows = await fetch_all(
        db,
        f"SELECT b.digest, b.size_bytes FROM blobs b WHERE {_BLOB_IS_GARBAGE} ORDER BY b.digest",
        {"cutoff": format_time(cutoff), "spared": json.dumps(sorted(spared))},
    )
    return [(r[0], r[1]) for r in rows]


async def delete_garbage_blobs(
    tx: aiosqlite.Connection, digests: Sequence[str], cutoff: datetime
) -> list[tuple[str, int]]:
    """Delete the rows (and repository links) of those of ``digests`` still garbage; returns
    (digest, size) of each deleted. The files are the caller's to remove afterwards."""
    deleted: list[tuple[str, int]] = []
    for digest in digests:
        params = {"digest": digest, "cutoff": format_time(cutoff), "spared": "[]"}
        still = await fetch_one(
            tx, f"SELECT b.size_bytes FROM blobs b WHERE b.digest = :digest AND {_BLOB_IS_GARBAGE}",
            params,
        )
        if still is None:
            continue
        await tx.execute("DELETE FROM repository_blobs WHERE digest = ?", (digest,))
        await tx.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
        deleted.append((digest, still[0]))
    return deleted


async def blob_rows_among(db: Reader, digests: Collection[str]) -> set[str]:
    """Which of ``digests`` have a blob row."""
    rows = await fetch_all(
        db,
        "SELECT digest FROM blobs WHERE digest IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(digests)),),
    )
    return {r[0] for r in rows}


async def select_last_collection(db: Reader) -> tuple[str, str] | None:
    """(state, created_at) of the newest garbage collection job, if any."""
    row = await fetch_one(
        db,
        "SELECT state, created_at FROM jobs WHERE kind = 'collect_garbage'"
        " ORDER BY id DESC LIMIT 1",
    )
    return (row[0], row[1]) if row else None
