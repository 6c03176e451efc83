"""``Catalog.run_write``: a unit of work crosses to the writer's thread once, is group-committed
with the units that queue meanwhile, is undone alone when it fails, and is durable on return."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from registry_service.catalog.db import Catalog, fetch_all
from registry_service.catalog.errors import UniqueViolated
from registry_service.catalog.protocols import Writer
from registry_service.catalog.write_batches import UnitSuspended
from registry_service.catalog.writer_thread import CatalogClosed

# About SQLite's writer thread and group commit; the PostgreSQL backend's write units are
# tested in tests/unit/catalog/test_postgres_writes.py.
pytestmark = pytest.mark.sqlite_only

INSERT = "INSERT INTO leases (name, owner, expires_at) VALUES (?, 'x', 'y')"


def committed_names(path: Path) -> set[str]:
    """What another connection sees: only committed rows."""
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM leases")}


def lease(name: str, *more: str):  # type: ignore[no-untyped-def]
    async def work(tx: Writer) -> int:
        for each in (name, *more):
            await tx.execute(INSERT, (each,))
        rows = await tx.execute_fetchall("SELECT COUNT(*) FROM leases")
        return int(next(iter(rows))[0])

    return work


def block_writer(catalog: Catalog) -> threading.Event:
    """Keep the writer's thread busy until the returned event is set."""
    release = threading.Event()
    catalog._thread.submit(release.wait)
    return release


async def test_a_unit_of_many_statements_crosses_to_the_writer_once(catalog: Catalog) -> None:
    before = catalog._thread.jobs_submitted
    count = await catalog.run_write(lease("a", "b", "c", "d", "e"))
    assert count == 5
    assert catalog._thread.jobs_submitted - before == 1
    # The same unit through transaction(): a crossing per statement, BEGIN, SAVEPOINT, COMMIT…
    before = catalog._thread.jobs_submitted
    async with catalog.transaction() as tx:
        await lease("f", "g", "h", "i", "j")(tx)
    assert catalog._thread.jobs_submitted - before >= 10


async def test_run_write_returns_once_its_commit_is_visible_to_others(catalog: Catalog) -> None:
    await catalog.run_write(lease("durable"))
    assert committed_names(catalog.path) == {"durable"}


async def test_units_queued_while_a_batch_runs_share_one_commit(catalog: Catalog) -> None:
    release = block_writer(catalog)
    before = catalog._batches.batches_run
    units = [asyncio.ensure_future(catalog.run_write(lease(f"u{n}"))) for n in range(20)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*units)
    assert catalog._batches.batches_run - before == 1
    assert committed_names(catalog.path) == {f"u{n}" for n in range(20)}


@contextlib.asynccontextmanager
async def write_lock_held(catalog: Catalog) -> AsyncIterator[None]:
    """Hold the catalog's write lock (an open ``transaction()`` unit) until the block ends."""
    inside, go_on = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with catalog.transaction() as tx:
            await tx.execute(INSERT, ("holder",))
            inside.set()
            await go_on.wait()

    held = asyncio.ensure_future(holder())
    await inside.wait()
    try:
        yield
    finally:
        go_on.set()
        await held


async def test_units_waiting_for_the_write_lock_share_one_batch(catalog: Catalog) -> None:
    async with write_lock_held(catalog):
        before = catalog._batches.batches_run
        units = [asyncio.ensure_future(catalog.run_write(lease(f"u{n}"))) for n in range(10)]
        for _ in range(5):
            await asyncio.sleep(0)
    await asyncio.gather(*units)
    # One batch, not one per waiting unit: each batch costs a crossing and a loop turn.
    assert catalog._batches.batches_run - before == 1
    assert committed_names(catalog.path) == {"holder", *(f"u{n}" for n in range(10))}


async def test_the_first_unit_waiting_for_the_lock_cancelled_leaves_the_others_to_commit(
    catalog: Catalog,
) -> None:
    async with write_lock_held(catalog):
        first = asyncio.ensure_future(catalog.run_write(lease("first")))
        others = [asyncio.ensure_future(catalog.run_write(lease(f"u{n}"))) for n in range(3)]
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
    await asyncio.gather(*others)
    assert committed_names(catalog.path) == {"holder", "u0", "u1", "u2"}


async def test_a_failing_unit_is_undone_alone_and_raises_the_catalog_error(
    catalog: Catalog,
) -> None:
    await catalog.run_write(lease("taken"))
    release = block_writer(catalog)
    good = asyncio.ensure_future(catalog.run_write(lease("good")))
    # Its first statement runs, its second breaks the key: neither may stay.
    bad = asyncio.ensure_future(catalog.run_write(lease("half", "taken")))
    after = asyncio.ensure_future(catalog.run_write(lease("after")))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(UniqueViolated):
        await bad
    await asyncio.gather(good, after)
    assert committed_names(catalog.path) == {"taken", "good", "after"}


async def test_a_unit_that_suspends_is_refused_and_undone(catalog: Catalog) -> None:
    async def suspends(tx: Writer) -> None:
        await tx.execute(INSERT, ("never",))
        await asyncio.sleep(0)

    with pytest.raises(UnitSuspended):
        await catalog.run_write(suspends)
    assert committed_names(catalog.path) == set()


async def test_a_caller_cancelled_before_its_unit_ran_drops_it(catalog: Catalog) -> None:
    release = block_writer(catalog)
    first = asyncio.ensure_future(catalog.run_write(lease("first")))
    dropped = asyncio.ensure_future(catalog.run_write(lease("dropped")))
    await asyncio.sleep(0)
    dropped.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dropped
    release.set()
    await first
    assert committed_names(catalog.path) == {"first"}


async def test_a_caller_cancelled_while_its_unit_runs_waits_for_its_commit(
    catalog: Catalog,
) -> None:
    running, release = threading.Event(), threading.Event()

    async def slow(tx: Writer) -> None:
        await tx.execute(INSERT, ("slow",))
        running.set()
        release.wait()  # on the writer's thread, not the loop

    task = asyncio.ensure_future(catalog.run_write(slow))
    await asyncio.to_thread(running.wait)
    task.cancel()
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()  # the cancellation waits for the unit's end
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert committed_names(catalog.path) == {"slow"}
    await catalog.run_write(lease("next"))  # and the writer goes on


async def test_a_unit_queued_behind_an_open_transaction_group_joins_its_commit(
    catalog: Catalog,
) -> None:
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def old_style() -> None:
        async with catalog.transaction() as tx:
            await tx.execute(INSERT, ("old",))
            inside.set()
            await go_on.wait()

    old = asyncio.ensure_future(old_style())
    await asyncio.sleep(0)  # it holds the write lock; its group's committer is not queued yet
    new = asyncio.ensure_future(catalog.run_write(lease("new")))
    await inside.wait()
    go_on.set()
    await new
    # Returned only once the shared COMMIT was durable.
    assert committed_names(catalog.path) == {"old", "new"}
    await old
    names = {r[0] for r in await fetch_all(catalog.reader, "SELECT name FROM leases")}
    assert names == {"old", "new"}


async def test_a_write_to_a_closed_catalog_raises_instead_of_hanging(catalog: Catalog) -> None:
    await catalog.close()
    with pytest.raises(CatalogClosed):
        await catalog.run_write(lease("late"))
    with pytest.raises(CatalogClosed):
        async with catalog.transaction() as tx:
            await tx.execute(INSERT, ("late",))
