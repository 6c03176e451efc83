"""The arq ``JobQueue``: what ``serve`` enqueues into when a Redis URL is configured.

An arq job only says "run catalog job N"; the intent, parameters and progress live in the
catalog. Its arq id is ``registry-job-<id>-a<attempts>``: enqueueing the same attempt twice
collapses in Redis, while a job whose worker died (its lease expired, so ``attempts`` moved on)
or whose Redis was wiped gets a fresh arq job. A duplicate that slips through finds the job
already claimed and does nothing.
"""

from __future__ import annotations

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

ARQ_FUNCTION = "run_registry_job"


def arq_job_id(job_id: int, attempts: int = 0) -> str:
    return f"registry-job-{job_id}-a{attempts}"


def redis_settings(redis_url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(redis_url)
    # Fail fast: an unreachable Redis must not stall an API request; the sweep catches up.
    settings.conn_retries = 1
    settings.conn_timeout = 2
    return settings


class ArqQueue:
    def __init__(self, redis_url: str) -> None:
        self._settings = redis_settings(redis_url)
        self._pool: ArqRedis | None = None

    async def enqueue(self, job_id: int) -> None:
        await enqueue_attempt(await self._connection(), job_id, 0)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    async def _connection(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(self._settings)
        return self._pool


async def enqueue_attempt(pool: ArqRedis, job_id: int, attempts: int) -> None:
    await pool.enqueue_job(ARQ_FUNCTION, job_id, _job_id=arq_job_id(job_id, attempts))
