"""Running one job: claim its intent under a lease, keep the lease alive, record the outcome.

Both runners call ``execute_job``; neither knows what a job does. A job body is a coroutine
``(context, job, progress) → Outcome``. It must be idempotent: after a crash its job is claimed
again and the body runs from the start, reading back whatever progress it saved. What it saves
and returns is typed (``services.job_data``), and written as that codec encodes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from jobs.context import JobContext
from registry_service.catalog import jobs as job_rows
from registry_service.catalog.protocols import Writer
from registry_service.catalog.rows import JobRow
from registry_service.services.job_data import JobCounts, JobResult

log = logging.getLogger("registry_service.jobs")


def lease_for(ctx: JobContext) -> timedelta:
    """How long a claim or a renewal holds the job (``jobs.lease_seconds``)."""
    return timedelta(seconds=ctx.settings.jobs.lease_seconds)


class LeaseLost(Exception):
    """Another runner took the job over (this one stalled past its lease): stop quietly."""


class RetryLater(Exception):
    """The job cannot run now; put it back in the queue for ``after``."""

    def __init__(self, after: timedelta, reason: str) -> None:
        super().__init__(reason)
        self.after = after
        self.reason = reason


class JobFailed(Exception):
    """The job ends as ``failed`` with this message, and with the counts given."""

    def __init__(self, reason: str, counts: JobCounts | None = None) -> None:
        super().__init__(reason)
        self.counts = counts


@dataclass
class Outcome:
    # Both are merged over what the job saved as it went: members left unset stay as saved,
    # and None keeps all of it.
    counts: JobCounts | None = None
    result: JobResult | None = None


class Progress:
    """Saves a job's counts (and, once, its result) inside the caller's transaction, checking
    that this runner still holds the job."""

    def __init__(self, job_id: int, owner: str) -> None:
        self._job_id = job_id
        self._owner = owner

    async def save(
        self,
        tx: Writer,
        counts: JobCounts,
        result: JobResult | None = None,
    ) -> None:
        saved = await job_rows.record_progress(
            tx,
            self._job_id,
            self._owner,
            counts.encode(),
            result.encode() if result is not None else None,
        )
        if not saved:
            raise LeaseLost(f"job {self._job_id}")


JobBody = Callable[[JobContext, JobRow, Progress], Awaitable[Outcome]]


async def execute_job(
    ctx: JobContext, job_id: int, bodies: Mapping[str, JobBody]
) -> JobRow | None:
    """Claim and run the job if it is due and unclaimed; the final row, or None if not run."""
    # Each claim has an owner name of its own: a runner that stalled past its lease and then
    # claims the same job again must not pass the ownership checks of its first, stale run.
    ctx = dataclasses.replace(ctx, owner=f"{ctx.owner}/{uuid.uuid4().hex[:8]}")
    now = ctx.clock.now()
    async with ctx.catalog.transaction() as tx:
        job = await job_rows.claim_job(tx, job_id, ctx.owner, now + lease_for(ctx), now)
    if job is None:
        return None
    return await run_claimed_job(ctx, job, bodies)


async def run_claimed_job(
    ctx: JobContext, job: JobRow, bodies: Mapping[str, JobBody]
) -> JobRow | None:
    """Run a job ``ctx.owner`` has already claimed; the final row (None if the lease was lost)."""
    job_id = job.id
    body = bodies.get(job.kind)
    heartbeat = asyncio.create_task(_keep_lease(ctx, job_id))
    try:
        if body is None:
            raise JobFailed(f"unknown job kind {job.kind!r}")
        outcome = await body(ctx, job, Progress(job_id, ctx.owner))
    except LeaseLost:
        log.warning("job %d: lease lost to another runner; stopping", job_id)
        return None
    except RetryLater as retry:
        log.info("job %d: %s; retrying in %s", job_id, retry.reason, retry.after)
        async with ctx.catalog.transaction() as tx:
            await job_rows.defer_job(
                tx, job_id, ctx.owner, run_after=ctx.clock.now() + retry.after, error=retry.reason
            )
    except JobFailed as failed:
        await _finish(ctx, job, "failed", Outcome(failed.counts), str(failed))
    except Exception as exc:
        log.exception("job %d (%s) failed", job_id, job.kind)
        await _finish(ctx, job, "failed", Outcome(), f"{type(exc).__name__}: {exc}")
    else:
        await _finish(ctx, job, "done", outcome, None)
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    return await job_rows.select_job(ctx.catalog.reader, job_id)


async def _finish(
    ctx: JobContext, job: JobRow, state: str, outcome: Outcome, error: str | None
) -> None:
    # The outcome is merged into the saved counts and result by SQLite (a JSON merge patch:
    # a key set to None goes), not read back into Python: a large cleanup's saved plan is
    # megabytes, and parsing it on the event loop stalled every request.
    async with ctx.catalog.transaction() as tx:
        await job_rows.finish_job(
            tx,
            job.id,
            ctx.owner,
            state=state,
            counts_patch=outcome.counts.encode_patch() if outcome.counts is not None else "{}",
            result_patch=outcome.result.encode_patch() if outcome.result is not None else None,
            error=error,
            now=ctx.clock.now(),
        )


async def _keep_lease(ctx: JobContext, job_id: int) -> None:
    while True:
        await asyncio.sleep(lease_for(ctx).total_seconds() / 4)
        async with ctx.catalog.transaction() as tx:
            held = await job_rows.renew_lease(
                tx, job_id, ctx.owner, ctx.clock.now() + lease_for(ctx)
            )
        if not held:
            return
