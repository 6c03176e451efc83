"""Reads take turns with writes: a few reads per loop turn, so a write's wake-up waits behind a
bounded number of reads, however many readers hammer the server. Counted, never timed."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from registry_service.catalog.db import Catalog, fetch_one
from registry_service.catalog.protocols import Writer
from registry_service.catalog.write_batches import WriteBatches
from registry_service.http.read_turns import ReadTurns, read_turns_middleware

READERS = 50
PER_TURN = 4


class LoopTurns:
    """Counts the event loop's turns: a callback that re-schedules itself runs once per turn."""

    def __init__(self) -> None:
        self.now = 0
        self._running = True
        asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.now += 1
        if self._running:
            asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._running = False


async def test_readers_start_at_most_a_few_per_loop_turn_while_a_write_is_on() -> None:
    turns, clock = ReadTurns(PER_TURN), LoopTurns()
    turns.writes_in_progress = 1
    started: Counter[int] = Counter()
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            await turns.admit()
            started[clock.now] += 1
            await asyncio.sleep(0)  # its response goes out; the next request comes in

    tasks = [asyncio.ensure_future(reader()) for _ in range(READERS)]
    while sum(started.values()) < 20 * READERS:
        await asyncio.sleep(0)
    stop.set()
    await asyncio.gather(*tasks)
    clock.stop()
    # A turn runs the reads woken for it, plus those arriving before and after its reset.
    assert max(started.values()) <= 3 * PER_TURN
    assert turns.waited > 0


# About SQLite's writer thread: its result reaches the loop through WriteBatches' report. On
# PostgreSQL a write is awaited on the loop itself, with no hand-over to count.
@pytest.mark.sqlite_only
async def test_a_writes_wake_up_waits_behind_a_bounded_number_of_reads(
    catalog: Catalog, monkeypatch: object
) -> None:
    """The writer's result reaches the loop; how many reads run before its task resumes?"""
    turns = ReadTurns(PER_TURN)
    turns.writes_in_progress = 1  # as the middleware counts the write's request
    reads = itertools.count()
    done_reading = asyncio.Event()
    reported_at: list[int] = []
    report = WriteBatches._report

    def noting_report(self: WriteBatches, batch: object) -> None:
        reported_at.append(next(reads))
        report(self, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(WriteBatches, "_report", noting_report)  # type: ignore[attr-defined]

    async def reader() -> None:
        while not done_reading.is_set():
            await turns.admit()
            await fetch_one(catalog.reader, "SELECT COUNT(*) FROM leases")
            next(reads)
            await asyncio.sleep(0)

    async def insert(tx: Writer) -> None:
        await tx.execute("INSERT INTO leases (name, owner, expires_at) VALUES ('w', 'x', 'y')")

    readers = [asyncio.ensure_future(reader()) for _ in range(READERS)]
    for _ in range(5):
        await asyncio.sleep(0)  # the storm is on
    await catalog.run_write(insert)
    resumed_at = next(reads)
    done_reading.set()
    await asyncio.gather(*readers)
    waited_behind = resumed_at - reported_at[0] - 1
    # Two turns (the report, then the task's wake-up), each of a few reads; ungated, every
    # reader would run in each.
    assert waited_behind <= 2 * 3 * PER_TURN


async def test_the_middleware_holds_back_reads_only_while_a_write_is_on(
    aiohttp_client: AiohttpClient,
) -> None:
    turns = ReadTurns(1)
    writing, written = asyncio.Event(), asyncio.Event()

    async def read(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def write(request: web.Request) -> web.Response:
        writing.set()
        await written.wait()
        return web.Response(text="ok")

    app = web.Application(middlewares=[read_turns_middleware(turns)])
    app.router.add_get("/read", read)
    app.router.add_post("/write", write)
    client = await aiohttp_client(app, connector=aiohttp.TCPConnector(limit=0))

    async def call(method: str, path: str) -> None:
        async with client.request(method, path) as response:
            assert response.status == 200

    async def reads() -> None:
        await asyncio.gather(*(call("GET", "/read") for _ in range(30)))

    await reads()
    assert turns.waited == 0  # no write: reads go straight on
    slow_write = asyncio.ensure_future(call("POST", "/write"))
    await writing.wait()
    await reads()
    assert turns.waited > 0
    written.set()
    await slow_write
    assert turns.writes_in_progress == 0
