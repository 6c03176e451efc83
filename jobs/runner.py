"""The in-process runner: the embedded default, inside ``serve``, no Redis.

It is the ``JobQueue`` the services enqueue into. ``enqueue`` only wakes it: the catalog is the
queue, so the runner's loop claims whatever is due — new intents, deferred retries, and jobs a
crash left ``running``.

One runner per catalog is active. Every ``serve`` process (each of ``--workers``, or separate
processes on one data directory) builds one, but only the process holding the ``flock`` on its
gate, ``<data>/jobs-runner.lock`` (passed in by ``serve``), sweeps and claims; the others stand
by, retrying every ``POLL_S``, and their ``enqueue`` wakes nobody (the active runner finds the
job within ``POLL_S``). The lock is per data directory, so per catalog while the catalog is the
SQLite file inside it, and the kernel drops it the moment its holder dies: a standby takes over
within ``POLL_S`` of a crash, with no lease to wait out. On taking it, a runner returns every
``running`` job to the queue, since no live runner holds one then. Job leases (``execute.py``)
remain the guard of each job, also against ``registry-service gc``, which records its own job
already claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from jobs.bodies import JOB_BODIES
from jobs.context import JobContext
from jobs.execute import JobBody, execute_job
from jobs.schedule import schedule_due_work
from registry_service.catalog import jobs as job_rows
from registry_service.storage import file_locks

log = logging.getLogger("registry_service.jobs")

POLL_S = 5.0


class InProcessRunner:
    def __init__(
        self,
        ctx: JobContext,
        *,
        concurrency: int = 2,
        bodies: Mapping[str, JobBody] = JOB_BODIES,
        gate: Path | None = None,
    ) -> None:
        """``gate``: the file whose ``flock`` makes this runner the active one (``serve`` passes
        the data directory's ``jobs-runner.lock``); None, always active."""
        self.ctx = ctx
        self._gate_path = gate
        self._bodies = bodies
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._pausing = False
        self._gate: int | None = None  # the gate's locked descriptor while active

    async def enqueue(self, job_id: int) -> None:
        self._wake.set()

    @property
    def active(self) -> bool:
        """Whether this runner sweeps and claims (holds its gate, or has none)."""
        return self._gate is not None or self._gate_path is None

    async def start(self) -> None:
        if not await self._take_gate():
            log.info("job runner standing by: another process runs this catalog's jobs")
        self._pausing = False
        self._loop_task = asyncio.create_task(self._loop(), name="job-runner")

    async def stop(self) -> None:
        """Stop claiming and cancel running jobs; they resume from their saved progress on
        the next start."""
        tasks = [t for t in (self._loop_task, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._gate is not None:
            file_locks.unlock(self._gate)
            self._gate = None

    async def _take_gate(self) -> bool:
        if self._gate is not None:
            return True
        if self._gate_path is not None:
            self._gate = await asyncio.to_thread(file_locks.try_lock, self._gate_path)
            if self._gate is None:
                return False
        elif self._loop_task is not None:
            return True  # no gate: jobs were returned to the queue at start
        async with self.ctx.catalog.transaction() as tx:
            released = await job_rows.release_running_jobs(tx)
        if released:
            log.info("resuming %d job(s) interrupted by the last shutdown or crash", released)
        return True

    async def pause(self) -> None:
        """Stop claiming and wait for the running jobs to end (fixture mode's reset); ``start``
        resumes. Unlike ``stop`` nothing is cancelled, so no job is cut off mid-write."""
        if self._loop_task is not None:
            # Not cancelled either: the loop ends at its next wait, between two sweeps.
            self._pausing = True
            self._wake.set()
            await self._loop_task
            self._loop_task = None
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def run_until_idle(self) -> None:
        """Run every job that is due now, and whatever they lead to, then return (tests and
        fixture mode)."""
        while True:
            await self._claim_due()
            if not self._running:
                return
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _loop(self) -> None:
        while not self._pausing:
            if not await self._take_gate():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_S)
                self._wake.clear()
                continue
            try:
                await schedule_due_work(
                    self.ctx.catalog, self, self.ctx.settings, self.ctx.clock.now()
                )
                await self._claim_due()
            except Exception:
                log.exception("job runner: sweep failed; retrying")
            if self._pausing:
                return
            self._wake.clear()
            timeout = await self._sleep_for()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _sleep_for(self) -> float:
        due = await job_rows.select_next_run_after(self.ctx.catalog.reader)
        if due is None:
            return POLL_S
        wait = (due - self.ctx.clock.now()) / timedelta(seconds=1)
        return min(max(wait, 0.01), POLL_S)

    async def _claim_due(self) -> None:
        due = await job_rows.select_due_jobs(self.ctx.catalog.reader, self.ctx.clock.now())
        for job_id, _ in due:
            if job_id not in self._running:
                task = asyncio.create_task(self._run(job_id), name=f"job-{job_id}")
                self._running[job_id] = task

    async def _run(self, job_id: int) -> None:
        try:
            async with self._slots:
                await execute_job(self.ctx, job_id, self._bodies)
        except Exception:
            log.exception("job %d: runner error", job_id)
        finally:
            self._running.pop(job_id, None)
            self._wake.set()
