"""The job suite runs under both runners: ``runner`` is parametrised over the in-process
runner and an arq worker on a real ``redis-server``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from arq import create_pool

from jobs.arq_queue import ArqQueue, redis_settings
from jobs.context import JobContext
from jobs.runner import InProcessRunner
from jobs.worker import create_worker
from registry_service.catalog.db import Catalog, fetch_all
from registry_service.clock import SettableClock
from registry_service.services.blobs import Storage
from registry_service.services.jobs import JobQueue
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.redis_server import RedisServer

DRAIN_TIMEOUT_S = 60.0


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@dataclass
class RunnerHandle:
    kind: str
    queue: JobQueue
    # Make the runner look for due work now (a deferred job whose time came).
    poke: Callable[[], Awaitable[None]]
    catalog: Catalog

    async def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Wait until no job is queued-and-due or running."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            rows = await fetch_all(
                self.catalog.reader,
                "SELECT COUNT(*) FROM jobs WHERE state = 'running'"
                " OR (state = 'queued' AND run_after IS NULL)",
            )
            if rows[0][0] == 0:
                return
            if loop.time() > deadline:
                states = await fetch_all(self.catalog.reader, "SELECT id, state FROM jobs")
                raise AssertionError(f"jobs still pending: {[tuple(r) for r in states]}")
            await asyncio.sleep(0.02)


@pytest.fixture(params=["in_process", "arq"])
async def runner(
    request: pytest.FixtureRequest,
    settings: Settings,
    catalog: Catalog,
    clock: SettableClock,
) -> AsyncIterator[RunnerHandle]:
    if request.param == "in_process":
        store = FilesystemBlobStore(settings.data_path)
        in_process = InProcessRunner(JobContext(catalog, Storage.on(store), clock, settings))
        await in_process.start()

        async def poke() -> None:
            await in_process.enqueue(0)

        yield RunnerHandle("in_process", in_process, poke, catalog)
        await in_process.stop()
        await store.aclose()
        return

    redis: RedisServer = request.getfixturevalue("redis_server")
    pool = await create_pool(redis_settings(redis.url))
    await pool.flushdb()
    worker = create_worker(
        settings.replace("jobs", redis_url=redis.url),
        handle_signals=False,
        poll_delay=0.02,
        ctx={"settings": settings, "clock": clock},
    )
    running = asyncio.create_task(worker.async_run())
    queue = ArqQueue(redis.url)

    async def sweep_now() -> None:
        from jobs.worker import sweep

        while "job_context" not in worker.ctx:
            await asyncio.sleep(0.01)
        await sweep(worker.ctx)

    yield RunnerHandle("arq", queue, sweep_now, catalog)
    await worker.close()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    await queue.close()
    await pool.aclose()


def job_result(row_result: str | None) -> dict[str, object]:
    return json.loads(row_result) if row_result else {}


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.data_path
