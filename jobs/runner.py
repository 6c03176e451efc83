"""The in-process runner: the embedded default, inside ``serve``, no Redis.

It is the ``JobQueue`` the services enqueue into. ``enqueue`` only wakes it: the catalog is the
queue, so the runner's loop claims whatever is due — new intents, deferred retries, and jobs a
crash left ``running``.

One runner per catalog is active. Every ``serve`` process (each of ``--workers``, separate
processes on one data directory, replicas on other hosts sharing the catalog) builds one, but only
the one whose ``RunnerGate`` (``runner_gate.py``) holds the catalog lease ``jobs-runner`` sweeps and
claims. A task renews the lease every ``jobs.runner_renew_seconds``; the others try to take it on
the same beat, and their ``enqueue`` wakes nobody (the active runner finds the job within
``POLL_S``). A runner that loses its lease stops claiming at once; the jobs it is running go on
under their own job leases (``execute.py``), which are what guards each job against a second run,
also against ``registry-service gc``, which records its own job already claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta

from jobs.bodies import JOB_BODIES
from jobs.context import JobContext
from jobs.execute import JobBody, execute_job
from jobs.runner_gate import RunnerGate
from jobs.schedule import schedule_due_work
from registry_service.catalog import jobs as job_rows

log = logging.getLogger("registry_service.jobs")

POLL_S = 5.0


class InProcessRunner:
    def __init__(
        self,
        ctx: JobContext,
        *,
        concurrency: int = 2,
        bodies: Mapping[str, JobBody] = JOB_BODIES,
        gate: RunnerGate | None = None,
    ) -> None:
        """``gate``: the lease that makes this runner the active one of its catalog (``serve``
        passes one, taken as ``ctx.owner``); None, always active (tests)."""
        if gate is not None and gate.owner != ctx.owner:
            raise ValueError("the gate's owner must be the runner's: its jobs are claimed so")
        self.ctx = ctx
        self._gate = gate
        self._bodies = bodies
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._renewal: asyncio.Task[None] | None = None
        self._pausing = False
        self._started = False

    async def enqueue(self, job_id: int) -> None:
        self._wake.set()

    @property
    def active(self) -> bool:
        """Whether this runner is its catalog's active one (holds the lease, or has no gate)."""
        return self._gate is None or self._gate.active

    def _may_claim(self) -> bool:
        return self._gate is None or self._gate.holds()

    async def start(self) -> None:
        if not self._started:
            self._started = True
            if self._gate is None:
                # No gate: the only runner, so whatever is running was this process's last life.
                async with self.ctx.catalog.transaction() as tx:
                    released = await job_rows.release_running_jobs(tx)
                if released:
                    log.info(
                        "resuming %d job(s) interrupted by the last shutdown or crash",
                        released,
                    )
            else:
                await self._gate.open()
                if not await self._gate.tick():
                    log.info("job runner standing by: another process runs this catalog's jobs")
                self._renewal = asyncio.create_task(self._keep_gate(), name="job-runner-lease")
        self._pausing = False
        self._loop_task = asyncio.create_task(self._loop(), name="job-runner")

    async def stop(self) -> None:
        """Stop claiming and cancel running jobs; they resume from their saved progress, at once
        in whichever runner takes the lease over."""
        tasks = [
            t for t in (self._renewal, self._loop_task, *self._running.values()) if t is not None
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._renewal = self._loop_task = None
        if self._gate is not None:
            try:
                await self._gate.close()
            except Exception:
                log.exception("job runner: handing over failed; the lease will expire instead")

    async def _keep_gate(self) -> None:
        assert self._gate is not None
        while True:
            await asyncio.sleep(self._gate.renew.total_seconds())
            try:
                if await self._gate.tick():
                    self._wake.set()
            except Exception:
                log.exception("job runner: renewing the lease failed; retrying")
                self._gate.lapse()

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
            if not self._may_claim():
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
        if not self._may_claim():
            return
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
