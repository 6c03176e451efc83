"""SQL for garbage collection: what is unreferenced, and deletes that re-check it.

Candidates are read without a lock, so by the time a batch is deleted a push may have
referenced one again. Every delete here therefore repeats the whole garbage condition inside
the writer's transaction: a row that came back into use is simply not deleted. On PostgreSQL,
where writers run side by side, the batch's rows are first locked ``FOR UPDATE`` (in a fixed
order) and only then re-checked: a push referencing one locks it ``FOR KEY SHARE``, so either
the push commits first and the re-check, a statement started after the lock, sees its rows, or
the delete commits first and the push finds the row gone (MANIFEST_BLOB_UNKNOWN, or a fresh
manifest row). Blob deletes also hold the blobs' file locks (``catalog/locks.py``), so an
ingest of the same digest never writes its rows between the re-check and the delete.

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

from registry_service.catalog.db import fetch_all, fetch_one, format_time
from registry_service.catalog.dialect import Dialect, dialect_of
from registry_service.catalog.locks import lock_blob_files
from registry_service.catalog.protocols import Reader, Writer

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

# :spared is a JSON array of manifest ids whose references do not count (a dry run passes the
# manifests it would delete; a real run has deleted them already and passes []).
def _blob_is_garbage(dialect: Dialect) -> str:
    return (
        "b.created_at < :cutoff"
        " AND NOT EXISTS (SELECT 1 FROM repository_blobs rb"
        "                 WHERE rb.digest = b.digest AND rb.linked_at >= :cutoff)"
        " AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest"
        f"                 AND mb.manifest_id NOT IN {dialect.ints(':spared')})"
    )


# The lists below can be long (every manifest a large cleanup untagged): each is read as one
# JSON value, in one SQLite step, not one row per step (see tags.select_tag_dates on the GIL),
# and each batch is changed by a few set-wide statements rather than a few per manifest.


async def select_garbage_manifests(db: Reader, cutoff: datetime) -> list[int]:
    row = await fetch_one(
        db,
        f"SELECT {dialect_of(db).array_agg('id')} FROM"
        f" (SELECT m.id FROM manifests m WHERE {_MANIFEST_IS_GARBAGE} ORDER BY m.id) garbage",
        {"cutoff": format_time(cutoff)},
    )
    ids: list[int] = json.loads(row[0]) if row else []
    return ids


async def delete_garbage_manifests(
    tx: Writer, manifest_ids: Sequence[int], cutoff: datetime, now: datetime
) -> int:
    """Delete those of ``manifest_ids`` that are still garbage; returns how many.

    What they referenced loses a reference now: index children and referrers left with no tag
    are stamped unreferenced from ``now``, so they get a full grace period of their own.
    Deleting one of the batch never makes another of it garbage or not (a manifest some
    other keeps is not garbage to begin with), so checking them all first is the same as
    checking each just before its delete.
    """
    dialect = dialect_of(tx)
    if dialect.for_update:
        await fetch_all(
            tx,
            f"SELECT id FROM manifests WHERE id IN {dialect.ints('?')} ORDER BY id"
            + dialect.for_update,
            (json.dumps(list(manifest_ids)),),
        )
    row = await fetch_one(
        tx,
        # CROSS JOIN: walk the given ids and look each up, never scan manifests.
        f"SELECT {dialect.array_agg('m.id')}, COUNT(*) FROM {dialect.ints(':ids')} j"
        f" {dialect.ordered_join} manifests m ON m.id = j.value WHERE {_MANIFEST_IS_GARBAGE}",
        {"ids": json.dumps(list(manifest_ids)), "cutoff": format_time(cutoff)},
    )
    if row is None or not row[1]:
        return 0
    doomed, count = row[0], int(row[1])
    stamp = {"doomed": doomed, "now": format_time(now)}
    # A tagged one is not stamped: its grace starts when its last tag goes.
    await tx.execute(
        "INSERT INTO unreferenced_manifests (manifest_id, since)"
        f" SELECT DISTINCT c.id, :now FROM {dialect.ints(':doomed')} d"
        f" {dialect.ordered_join} manifest_children mc ON mc.parent_id = d.value"
        f" {dialect.ordered_join} manifests p ON p.id = d.value"
        f" {dialect.ordered_join} manifests c ON c.repository_id = p.repository_id"
        "                       AND c.digest = mc.child_digest"
        " WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = c.id)"
        " ON CONFLICT DO NOTHING",
        stamp,
    )
    await tx.execute(
        "INSERT INTO unreferenced_manifests (manifest_id, since)"
        f" SELECT DISTINCT r.id, :now FROM {dialect.ints(':doomed')} d"
        f" {dialect.ordered_join} manifests p ON p.id = d.value"
        f" {dialect.ordered_join} manifests r ON r.repository_id = p.repository_id"
        "                       AND r.subject_digest = p.digest"
        " WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = r.id)"
        " ON CONFLICT DO NOTHING",
        stamp,
    )
    # Cascades to their blob lists, children lists and their own stamps.
    await tx.execute(
        f"DELETE FROM manifests WHERE id IN {dialect.ints('?')}", (doomed,)
    )
    return count


async def select_garbage_blobs(
    db: Reader, cutoff: datetime, spared: Collection[int] = ()
) -> list[tuple[str, int]]:
    """(digest, size) of the garbage blobs, counting ``spared`` manifests as already gone."""
    dialect = dialect_of(db)
    row = await fetch_one(
        db,
        f"SELECT {dialect.array_agg(dialect.pair('digest', 'size_bytes'))} FROM"
        f" (SELECT b.digest, b.size_bytes FROM blobs b WHERE {_blob_is_garbage(dialect)}"
        "  ORDER BY b.digest) garbage",
        {"cutoff": format_time(cutoff), "spared": json.dumps(sorted(spared))},
    )
    return [(digest, size) for digest, size in json.loads(row[0])] if row else []


async def delete_garbage_blobs(
    tx: Writer, digests: Sequence[str], cutoff: datetime
) -> list[tuple[str, int]]:
    """Delete the rows (and repository links) of those of ``digests`` still garbage; returns
    (digest, size) of each deleted. The files are the caller's to remove afterwards."""
    dialect = dialect_of(tx)
    if dialect.for_update:
        await lock_blob_files(tx, digests)
        await fetch_all(
            tx,
            f"SELECT digest FROM blobs WHERE digest IN {dialect.texts('?')} ORDER BY digest"
            + dialect.for_update,
            (json.dumps(list(digests)),),
        )
    row = await fetch_one(
        tx,
        f"SELECT {dialect.array_agg(dialect.pair('b.digest', 'b.size_bytes'))}"
        f" FROM {dialect.texts(':digests')} j"
        f" {dialect.ordered_join} blobs b ON b.digest = j.value WHERE {_blob_is_garbage(dialect)}",
        {"digests": json.dumps(list(digests)), "cutoff": format_time(cutoff), "spared": "[]"},
    )
    deleted: list[tuple[str, int]] = [(d, size) for d, size in json.loads(row[0])] if row else []
    if deleted:
        gone = json.dumps([digest for digest, _ in deleted])
        await tx.execute(
            f"DELETE FROM repository_blobs WHERE digest IN {dialect.texts('?')}",
            (gone,),
        )
        await tx.execute(
            f"DELETE FROM blobs WHERE digest IN {dialect.texts('?')}", (gone,)
        )
    return deleted


async def blob_rows_among(db: Reader, digests: Collection[str]) -> set[str]:
    """Which of ``digests`` have a blob row."""
    rows = await fetch_all(
        db,
        f"SELECT digest FROM blobs WHERE digest IN {dialect_of(db).texts('?')}",
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
