"""``registry-service worker`` shuts down completely even with a task in hand. arq's own close()
cancels the job tasks still running and then awaits them; one that lets the CancelledError out
(as arq's run_job does while it stores a result in Redis) made close() stop there, before the
catalog was closed (on_shutdown) and the Redis pool with it. Seen as ResourceWarnings in CI
whenever a test's worker was torn down at that moment."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
import pytest
from arq import create_pool

from jobs.arq_queue import redis_settings
from jobs.worker import create_worker
from registry_service.clock import SettableClock
from registry_service.settings import Settings
from tests.redis_server import RedisServer


async def test_closing_a_worker_with_a_task_in_flight_still_closes_catalog_and_redis(
    redis_server: RedisServer, settings: Settings, clock: SettableClock
) -> None:
    pool = await create_pool(redis_settings(redis_server.url))
    await pool.flushdb()
    await pool.aclose()
    configured = settings.replace("jobs", redis_url=redis_server.url)
    worker = create_worker(
        configured, handle_signals=False, poll_delay=0.02,
        ctx={"settings": configured, "clock": clock},
    )
    running = asyncio.create_task(worker.async_run())
    try:
        while "job_context" not in worker.ctx:
            await asyncio.sleep(0.01)
        # Stands for a job task caught between its function and its result: cancelling it
        # lets the CancelledError out.
        worker.tasks["in-flight"] = asyncio.create_task(asyncio.sleep(60))

        await asyncio.wait_for(worker.close(), timeout=30)  # raised CancelledError before

        # Each driver's own word for a closed connection (SQLite's) or pool (asyncpg's).
        with pytest.raises((sqlite3.ProgrammingError, asyncpg.InterfaceError), match="closed"):
            await worker.ctx["job_context"].catalog.reader.execute_fetchall("SELECT 1")
        assert worker.tasks == {}
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
