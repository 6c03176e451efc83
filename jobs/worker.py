"""``registry-service worker``: an arq worker that runs the catalog's jobs from Redis.

Several may run against one Redis and one data directory. Each claims a job in the catalog
before running it, so a job runs once however many arq jobs point at it. On start and every
few seconds each worker sweeps the catalog and enqueues what is due — intents the server wrote
while Redis was down, deferred retries, and jobs whose worker died (their lease expired).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import Worker
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.arq_queue import ARQ_FUNCTION, enqueue_attempt, redis_settings
from jobs.bodies import JOB_BODIES
from jobs.context import JobContext, new_owner_name
from jobs.execute import execute_job
from jobs.schedule import schedule_due_work
from registry_service.catalog import jobs as job_rows
from registry_service.catalog.opening import open_catalog
from registry_service.clock import SystemClock
from registry_service.services.blobs import Storage
from registry_service.services.jobs import NO_RUNNER
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from registry_service.storage.reserve import Reserve

log = logging.getLogger("registry_service.jobs")

SWEEP_EVERY_S = 5
# arq's own timeout per job; a long cleanup keeps its catalog lease alive meanwhile.
JOB_TIMEOUT_S = 6 * 3600


async def run_registry_job(ctx: dict[str, Any], job_id: int) -> None:
    await execute_job(ctx["job_context"], job_id, JOB_BODIES)


async def sweep(ctx: dict[str, Any]) -> int:
    """Start a garbage collection and the cleanup policy runs that are due, then enqueue every
    due job; returns how many jobs were enqueued."""
    job_ctx: JobContext = ctx["job_context"]
    # NO_RUNNER: what this starts is enqueued with the other due jobs just below.
    await schedule_due_work(job_ctx.catalog, NO_RUNNER, job_ctx.settings, job_ctx.clock.now())
    due = await job_rows.select_due_jobs(job_ctx.catalog.reader, job_ctx.clock.now())
    for job_id, attempts in due:
        await enqueue_attempt(ctx["redis"], job_id, attempts)
    return len(due)


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    reserve = Reserve(settings.data_path, settings.storage.reserve_bytes)
    catalog = await open_catalog(settings, before_write=reserve.keep_room)
    store = FilesystemBlobStore(settings.data_path)
    ctx["job_context"] = JobContext(
        catalog=catalog,
        storage=Storage.on(store),
        # Tests and fixture mode hand in a settable clock; a real worker reads the system's.
        clock=ctx.get("clock") or SystemClock(),
        settings=settings,
        owner=new_owner_name("arq"),
    )
    log.info("arq worker %s started on %s", ctx["job_context"].owner, settings.data_path)


async def _shutdown(ctx: dict[str, Any]) -> None:
    job_ctx: JobContext | None = ctx.get("job_context")
    if job_ctx is not None:
        await job_ctx.storage.store.aclose()
        await job_ctx.catalog.close()


def worker_redis_settings(redis_url: str) -> RedisSettings:
    """Unlike ``serve``, which must fail fast, a worker rides out a Redis restart: arq's loop
    ends the worker on the first failed command, so every command is retried (with backoff,
    for about a minute) until Redis answers again. Jobs in hand keep running meanwhile."""
    settings = redis_settings(redis_url)
    settings.conn_retries = 30
    # OSError: a refused connect surfaces as ConnectionRefusedError, not as Redis's error.
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    settings.retry = Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=40)
    return settings


class RegistryWorker(Worker):
    """arq's worker with a shutdown that always finishes."""

    async def close(self) -> None:
        # arq's close() cancels the job tasks still running, then awaits them and lets their
        # CancelledError out: on_shutdown (closing the catalog) and closing the Redis pool were
        # skipped whenever a job was cut short. A job cut short is safe (its lease runs out
        # and it resumes elsewhere); so cancel and await them here, quietly, and close() finds
        # none left.
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        await super().close()


def create_worker(settings: Settings, **overrides: Any) -> RegistryWorker:
    """The worker for ``settings.jobs.redis_url`` (``overrides`` are passed to arq)."""
    options: dict[str, Any] = {
        "functions": [func(run_registry_job, name=ARQ_FUNCTION)],
        "cron_jobs": [
            cron(
                sweep,
                second=set(range(0, 60, SWEEP_EVERY_S)),
                run_at_startup=True,
                unique=False,
            )
        ],
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "redis_settings": worker_redis_settings(settings.jobs.redis_url),
        "ctx": {"settings": settings},
        # The catalog keeps results; a kept arq result would only block re-enqueueing.
        "keep_result": 0,
        "max_jobs": 2,
        # arq polls its queue every 0.5 s by default: a third of a second, on average, before
        # a 100,000-tag cleanup that then takes 0.85 s even starts. Ten polls a second are
        # nothing to Redis.
        "poll_delay": 0.1,
        "job_timeout": JOB_TIMEOUT_S,
        "max_tries": 1000,
        **overrides,
    }
    return RegistryWorker(**options)
