"""Claims and ownership: what keeps two runs of one job from both writing."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from jobs.context import JobContext
from jobs.execute import Outcome, Progress, execute_job, run_claimed_job
from jobs.gc import start_collection
from registry_service.catalog import jobs as job_rows
from registry_service.catalog.db import Catalog
from registry_service.catalog.rows import JobRow
from registry_service.clock import SettableClock
from registry_service.services.blobs import Storage
from registry_service.services.job_data import CollectionCounts, CollectionParams
from registry_service.services.jobs import NO_RUNNER, JobKind, submit_job
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.jobs.conftest import RunnerHandle

# Which run wrote the counts, as a number a count can hold.
RUNS = {"first": 1, "second": 2}


async def test_a_stalled_run_cannot_write_after_the_same_runner_claimed_the_job_again(
    catalog: Catalog, clock: SettableClock, settings: Settings
) -> None:
    store = FilesystemBlobStore(settings.data_path)
    ctx = JobContext(catalog, Storage.on(store), clock, settings, owner="one-runner")
    job_id = await submit_job(
        catalog, NO_RUNNER, CollectionParams(), requester_id=None, now=clock.now()
    )
    stalled = asyncio.Event()
    resume = asyncio.Event()
    writes: list[str] = []

    async def body(ctx: JobContext, job: JobRow, progress: Progress) -> Outcome:
        run = "first" if not writes and not stalled.is_set() else "second"
        if run == "first":
            stalled.set()
            await resume.wait()  # stalls past its lease
        async with ctx.catalog.transaction() as tx:
            await progress.save(tx, CollectionCounts(manifests=RUNS[run]))
        writes.append(run)
        return Outcome(CollectionCounts(manifests=RUNS[run]))

    bodies = {JobKind.COLLECT_GARBAGE: body}
    first = asyncio.create_task(execute_job(ctx, job_id, bodies))
    await stalled.wait()
    clock.advance(timedelta(seconds=settings.jobs.lease_seconds + 1))
    second = await execute_job(ctx, job_id, bodies)
    resume.set()

    assert await first is None  # its lease was lost: it stopped without writing
    assert second is not None and second.state == "done"
    assert writes == ["second"]
    assert json.loads(second.counts) == {"manifests": RUNS["second"]}
    assert second.attempts == 2
    await store.aclose()


async def test_a_collection_started_by_the_cli_is_not_taken_by_a_running_runner(
    runner: RunnerHandle, catalog: Catalog, clock: SettableClock, settings: Settings
) -> None:
    store = FilesystemBlobStore(settings.data_path)
    ctx = JobContext(catalog, Storage.on(store), clock, settings, owner="cli:test")
    job = await start_collection(ctx)

    await runner.poke()
    await asyncio.sleep(0.3)
    row = await job_rows.select_job(catalog.reader, job.id)
    assert row is not None and (row.state, row.lease_owner) == ("running", "cli:test")

    async def body(ctx: JobContext, job: JobRow, progress: Progress) -> Outcome:
        return Outcome(CollectionCounts(blobs=7))

    final = await run_claimed_job(ctx, job, {JobKind.COLLECT_GARBAGE: body})
    assert final is not None and final.state == "done"
    assert json.loads(final.counts) == {"blobs": 7}
    assert final.attempts == 1
    await store.aclose()
