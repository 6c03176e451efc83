"""Online garbage collection: untagged manifests, unused blobs, and files nothing catalogs.

It runs while the registry serves pushes. Three phases, each in small transactions so a push
never waits long for the writer:

1. manifests no tag, index or subject keeps, unreferenced for longer than
   ``gc.manifest_grace_seconds``;
2. blob rows no manifest lists and no repository linked within ``gc.blob_grace_seconds``;
   then their files;
3. files in the store with no blob row (a crash between rename and row), older than the blob
   grace.

**The race with pushes.** A push places a blob's file and writes its row in one catalog write
transaction (``services/blobs.py``); finding the file already there, it keeps the existing copy
and drops its own. So GC never unlinks a file except inside a write transaction that first
checks that the digest has no row (``_unlink_unless_cataloged``). SQLite's write lock, which
holds across processes (server, arq workers, the CLI), orders the two: either the push's row is
there and the file stays, or the unlink happens first and the push then renames its own bytes
in. On PostgreSQL, whose writers run side by side, the same order comes from a per-digest file
lock both take (``catalog/locks.py``). A manifest push checks in its own transaction that every
blob it lists is linked (locking those blob rows first, on PostgreSQL), and the row deletes here
lock and then re-check the garbage condition in theirs, so a manifest is either stored with all
its blobs kept or refused with MANIFEST_BLOB_UNKNOWN — never stored pointing at a deleted
blob. The grace periods are what keep pushes from seeing that refusal: a blob linked a moment
ago is not garbage until its grace has passed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from jobs.context import JobContext
from jobs.execute import Outcome, Progress, lease_for
from registry_service.catalog import garbage
from registry_service.catalog import jobs as job_rows
from registry_service.catalog.db import format_time
from registry_service.catalog.locks import SCHEDULE_COLLECTION, lock_blob_files, lock_names
from registry_service.catalog.protocols import CatalogBackend, Writer
from registry_service.catalog.rows import JobRow
from registry_service.digests import parse_digest
from registry_service.services.job_data import (
    CollectionCounts,
    CollectionParams,
    CollectionResult,
)
from registry_service.services.jobs import JobQueue, submit_job
from registry_service.settings import GcSettings
from registry_service.storage.base import BlobStore

log = logging.getLogger("registry_service.gc")

# Per write transaction. Manifests go in a few set-wide statements per batch (~60 ms for
# 2,000, the longest a push then waits); blobs are deleted file by file after their batch.
MANIFEST_BATCH = 2_000
BATCH = 500
T = TypeVar("T")

# (phase, done, total) — the CLI draws it on a terminal.
Report = Callable[[str, int, int], None]


def _no_report(phase: str, done: int, total: int) -> None:
    return None


@dataclass
class Collected:
    manifests: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    orphan_files: int = 0
    orphan_bytes: int = 0

    @property
    def bytes_freed(self) -> int:
        return self.blob_bytes + self.orphan_bytes

    def counts(self) -> dict[str, int]:
        return {**asdict(self), "bytes_freed": self.bytes_freed}

    def job_counts(self) -> CollectionCounts:
        """The counts as the collection job records them."""
        return CollectionCounts(**self.counts())


def _batches(items: Sequence[T], size: int = BATCH) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def collect_garbage(
    catalog: CatalogBackend,
    store: BlobStore,
    gc: GcSettings,
    now: datetime,
    *,
    dry_run: bool = False,
    report: Report | None = None,
) -> Collected:
    """Run one collection (or, with ``dry_run``, count what it would remove, changing
    nothing) and return the counts."""
    manifest_cutoff = now - timedelta(seconds=gc.manifest_grace_seconds)
    blob_cutoff = now - timedelta(seconds=gc.blob_grace_seconds)
    done = Collected()
    report = report or _no_report

    doomed = await garbage.select_garbage_manifests(catalog.scan_reader, manifest_cutoff)
    if dry_run:
        done.manifests = len(doomed)
    else:
        for ids in _batches(doomed, MANIFEST_BATCH):
            async with catalog.transaction() as tx:
                done.manifests += await garbage.delete_garbage_manifests(
                    tx, ids, manifest_cutoff, now
                )
            report("manifests", done.manifests, len(doomed))

    spared = doomed if dry_run else ()
    blobs = await garbage.select_garbage_blobs(catalog.scan_reader, blob_cutoff, spared)
    if dry_run:
        done.blobs = len(blobs)
        done.blob_bytes = sum(size for _, size in blobs)
    else:
        for digests in _batches([digest for digest, _ in blobs]):
            async with catalog.transaction() as tx:
                deleted = await garbage.delete_garbage_blobs(tx, digests, blob_cutoff)
            await _unlink_unless_cataloged(catalog, store, [d for d, _ in deleted])
            done.blobs += len(deleted)
            done.blob_bytes += sum(size for _, size in deleted)
            report("blobs", done.blobs, len(blobs))

    orphans = await _orphan_files(catalog, store, blob_cutoff)
    if dry_run:
        done.orphan_files = len(orphans)
        done.orphan_bytes = sum(size for _, size in orphans)
    else:
        sizes = dict(orphans)
        for files in _batches([digest for digest, _ in orphans]):
            removed = await _unlink_unless_cataloged(catalog, store, files)
            done.orphan_files += len(removed)
            done.orphan_bytes += sum(sizes[d] for d in removed)
            report("files", done.orphan_files, len(orphans))
    return done


async def _unlink_unless_cataloged(
    catalog: CatalogBackend, store: BlobStore, digests: Sequence[str]
) -> list[str]:
    """Unlink the files of those ``digests`` that have no blob row, holding their file locks
    so no push can place and catalog one of them meanwhile (see the module doc)."""
    removed: list[str] = []
    if not digests:
        return removed
    async with catalog.transaction() as tx:
        await lock_blob_files(tx, digests)
        cataloged = await garbage.blob_rows_among(tx, digests)
        for digest in digests:
            if digest not in cataloged and await store.delete(parse_digest(digest)):
                removed.append(digest)
    return removed


async def _orphan_files(
    catalog: CatalogBackend, store: BlobStore, cutoff: datetime
) -> list[tuple[str, int]]:
    """(digest, size) of files older than ``cutoff`` whose digest has no blob row."""
    on_disk: list[str] = [str(d) async for d in store.iter_digests()]
    cataloged: set[str] = set()
    for names in _batches(on_disk):
        cataloged |= await garbage.blob_rows_among(catalog.scan_reader, names)
    found: list[tuple[str, int]] = []
    for text in on_disk:
        if text in cataloged:
            continue
        age = await store.file_age(parse_digest(text))
        if age is not None and age[0] < cutoff:
            found.append((text, age[1]))
    return found


# --- as a job ------------------------------------------------------------------------------


async def collect_garbage_job(ctx: JobContext, job: JobRow, progress: Progress) -> Outcome:
    """The job body: idempotent, since every delete re-checks its condition."""
    done = await collect_garbage(
        ctx.catalog, ctx.storage.store, ctx.settings.gc, ctx.clock.now()
    )
    return collection_outcome(done, ctx.settings.gc)


def collection_outcome(done: Collected, gc: GcSettings) -> Outcome:
    """What a collection job records: its counts, and why when it removed nothing."""
    log.info("garbage collection: %s", done.counts())
    if done.manifests or done.blobs or done.orphan_files:
        return Outcome(done.job_counts())
    why = (
        "nothing was garbage: no untagged manifest unreferenced for "
        f"{gc.manifest_grace_seconds}s, no unused blob or uncataloged file older than "
        f"{gc.blob_grace_seconds}s"
    )
    return Outcome(done.job_counts(), CollectionResult(nothing_deleted_because=why))


async def schedule_collection(
    catalog: CatalogBackend, queue: JobQueue, gc: GcSettings, now: datetime
) -> int | None:
    """Submit a collection if none is queued or running and the last one started at least
    ``gc.interval_seconds`` ago; the new job's id, or None. Runners call this on every sweep;
    several workers racing here submit at most one job per interval, since the check and the
    insert share one write transaction under one named lock."""
    if gc.interval_seconds <= 0:
        return None
    last = await garbage.select_last_collection(catalog.reader)
    if last is not None and not _interval_passed(last, gc, now):
        return None
    async with catalog.transaction() as tx:
        # Nothing to lock yet (the job is not inserted): a named lock makes the check and
        # the insert one step for every replica (SQLite's single writer already does).
        await lock_names(tx, [SCHEDULE_COLLECTION])
        last = await garbage.select_last_collection(tx)
        if last is not None and not _interval_passed(last, gc, now):
            return None
        job_id = await _insert_collection(tx, now)
    await queue.enqueue(job_id)
    return job_id


def _interval_passed(last: tuple[str, str], gc: GcSettings, now: datetime) -> bool:
    state, created_at = last
    if state in {"queued", "running"}:
        return False
    return created_at <= format_time(now - timedelta(seconds=gc.interval_seconds))


async def _insert_collection(tx: Writer, now: datetime) -> int:
    return await job_rows.insert_job(
        tx,
        kind=CollectionParams.kind,
        params=CollectionParams().encode(),
        requester_id=None,
        project_id=None,
        repository_id=None,
        now=now,
    )


async def start_collection(ctx: JobContext) -> JobRow:
    """A collection recorded as already running under ``ctx.owner``, to be run right away by
    the caller (``registry-service gc``) with ``run_claimed_job``."""
    now = ctx.clock.now()
    async with ctx.catalog.transaction() as tx:
        job_id = await job_rows.insert_claimed_job(
            tx,
            kind=CollectionParams.kind,
            params=CollectionParams().encode(),
            requester_id=None,
            owner=ctx.owner,
            lease_until=now + lease_for(ctx),
            now=now,
        )
        job = await job_rows.select_job(tx, job_id)
    assert job is not None
    return job


async def submit_collection(
    catalog: CatalogBackend, queue: JobQueue, now: datetime, requester_id: int | None = None
) -> int:
    """A collection on demand, queued for the runners."""
    return await submit_job(
        catalog, queue, CollectionParams(), requester_id=requester_id, now=now
    )
