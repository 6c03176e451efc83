"""``PostgresCatalog``'s write units against a real PostgreSQL server: units that lock the same
row run one after the other (independent ones side by side: postgresql/test_pg_row_locks.py),
each is all-or-nothing, a failing one is undone alone, and the driver's integrity errors leave
as ``catalog.errors``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from registry_service.catalog.db import fetch_all, fetch_one
from registry_service.catalog.dialect import POSTGRESQL
from registry_service.catalog.errors import (
    ConstraintViolated,
    ForeignKeyViolated,
    UniqueViolated,
)
from registry_service.catalog.postgres import PostgresCatalog, translated
from registry_service.catalog.protocols import Writer
from registry_service.errors import InsufficientStorage
from tests.postgres_server import session_server

LEASE = "INSERT INTO leases (name, owner, expires_at) VALUES (?, 'x', 'y')"


@pytest.fixture
async def pg(request: pytest.FixtureRequest) -> AsyncIterator[PostgresCatalog]:
    server = session_server(request.config)
    url = server.create_database()
    catalog = await PostgresCatalog.open(url)
    yield catalog
    await catalog.close()
    server.release_database(url)


async def names(catalog: PostgresCatalog) -> set[str]:
    return {r[0] for r in await fetch_all(catalog.reader, "SELECT name FROM leases")}


async def test_concurrent_read_modify_write_units_lose_no_update(pg: PostgresCatalog) -> None:
    # Under READ COMMITTED two units reading the same counter and writing it back would
    # lose updates; a unit that locks the row it reads (as every check-then-write of the
    # catalog does on PostgreSQL) runs after the one holding it, as on SQLite.
    await pg.run_write(lambda tx: tx.execute(LEASE, ("counter",)))

    async def bump(tx: Writer) -> None:
        row = await fetch_one(
            tx, "SELECT owner FROM leases WHERE name = 'counter'" + POSTGRESQL.for_update
        )
        assert row is not None
        seen = 0 if row[0] == "x" else int(row[0])
        await asyncio.sleep(0.005)  # widen the window a lost update needs
        await tx.execute("UPDATE leases SET owner = ? WHERE name = 'counter'", (str(seen + 1),))

    await asyncio.gather(*(pg.run_write(bump) for _ in range(20)))

    row = await fetch_one(pg.reader, "SELECT owner FROM leases WHERE name = 'counter'")
    assert row is not None and row[0] == "20"


async def test_a_unit_locking_a_held_row_waits_for_the_first_to_commit(
    pg: PostgresCatalog,
) -> None:
    await pg.run_write(lambda tx: tx.execute(LEASE, ("shared",)))
    order: list[str] = []
    first_inside = asyncio.Event()
    release = asyncio.Event()
    lock_shared = "SELECT name FROM leases WHERE name = 'shared'" + POSTGRESQL.for_update

    async def first(tx: Writer) -> None:
        await tx.execute_fetchall(lock_shared)
        await tx.execute(LEASE, ("first",))
        order.append("first in")
        first_inside.set()
        await release.wait()
        order.append("first out")

    async def second(tx: Writer) -> None:
        await tx.execute_fetchall(lock_shared)
        order.append("second in")
        # Everything the first unit wrote is committed before the second gets the row.
        assert "first" in {r[0] for r in await tx.execute_fetchall("SELECT name FROM leases")}

    running = asyncio.ensure_future(pg.run_write(first))
    await first_inside.wait()
    waiting = asyncio.ensure_future(pg.run_write(second))
    await asyncio.sleep(0.2)
    assert order == ["first in"]  # the second is held at the row
    release.set()
    await asyncio.gather(running, waiting)
    assert order == ["first in", "first out", "second in"]


async def test_a_unique_violation_undoes_only_its_own_unit(pg: PostgresCatalog) -> None:
    await pg.run_write(lambda tx: tx.execute(LEASE, ("taken",)))

    async def clashing(tx: Writer) -> None:
        await tx.execute(LEASE, ("half",))
        await tx.execute(LEASE, ("taken",))

    async def good(tx: Writer) -> None:
        await tx.execute(LEASE, ("good",))

    results = await asyncio.gather(
        pg.run_write(clashing), pg.run_write(good), return_exceptions=True
    )

    assert isinstance(results[0], UniqueViolated)
    assert results[1] is None
    assert await names(pg) == {"taken", "good"}


async def test_a_foreign_key_failing_at_commit_is_foreign_key_violated(
    pg: PostgresCatalog,
) -> None:
    async def orphan(tx: Writer) -> None:
        await tx.execute("SET CONSTRAINTS ALL DEFERRED")
        await tx.execute(
            "INSERT INTO personal_access_tokens (user_id, name, token_digest, scopes, created_at)"
            " VALUES (999, 't', 'd1', 'api', 'now')"
        )

    with pytest.raises(ForeignKeyViolated) as caught:
        await pg.run_write(orphan)
    assert isinstance(caught.value.__cause__, asyncpg.ForeignKeyViolationError)
    assert await fetch_all(pg.reader, "SELECT id FROM personal_access_tokens") == []


async def test_insert_answers_the_new_id_and_writes_count_rows(pg: PostgresCatalog) -> None:
    async def work(tx: Writer) -> tuple[int, int, int, int]:
        first = await tx.insert(
            "INSERT INTO users (username, name, created_at) VALUES (?, ?, ?)",
            ("alice", "Alice", "2026-01-01T00:00:00.000000Z"),
        )
        second = await tx.insert(
            "INSERT INTO users (username, name, created_at) VALUES (:u, :n, :t)",
            {"u": "bob", "n": "Bob", "t": "2026-01-01T00:00:00.000000Z"},
        )
        many = await tx.executemany(LEASE + " ON CONFLICT (name) DO NOTHING",
                                    [("a",), ("b",), ("a",)])
        changed = await tx.execute("UPDATE leases SET owner = 'y' WHERE name IN ('a', 'b')")
        return first, second, many, changed

    first, second, many, changed = await pg.run_write(work)
    assert second == first + 1
    assert (many, changed) == (2, 2)


@pytest.mark.parametrize(
    ("driver_error", "expected"),
    [
        (asyncpg.UniqueViolationError, UniqueViolated),
        (asyncpg.ForeignKeyViolationError, ForeignKeyViolated),
        (asyncpg.CheckViolationError, ConstraintViolated),
        (asyncpg.NotNullViolationError, ConstraintViolated),
        (asyncpg.DiskFullError, InsufficientStorage),
    ],
)
def test_driver_errors_become_the_catalogs(
    driver_error: type[asyncpg.PostgresError], expected: type[Exception]
) -> None:
    assert type(translated(driver_error("broken"))) is expected
    other = asyncpg.PostgresSyntaxError("a defect, not a constraint")
    assert translated(other) is other


async def test_a_not_null_failure_is_constraint_violated(pg: PostgresCatalog) -> None:
    with pytest.raises(ConstraintViolated) as caught:
        await pg.run_write(
            lambda tx: tx.execute(
                "INSERT INTO users (username, name, created_at) VALUES (NULL, 'x', 'y')"
            )
        )
    assert not isinstance(caught.value, UniqueViolated | ForeignKeyViolated)


async def test_a_unit_cancelled_mid_transaction_leaves_its_connection_clean(
    request: pytest.FixtureRequest,
) -> None:
    # A write cut short (its client hung up) leaves nothing to the connection's next
    # borrower: no open transaction, none of its rows, none of its locks. The pool
    # no longer sends asyncpg's reset statement on release, so this rests on the
    # transaction's own rollback; a pool of one connection makes the next borrower certain.
    server = session_server(request.config)
    url = server.create_database()
    one = await PostgresCatalog.open(url, max_size=1)
    try:
        inside = asyncio.Event()

        async def stuck(tx: Writer) -> None:
            await tx.execute(LEASE, ("never",))
            inside.set()
            await asyncio.Event().wait()

        unit = asyncio.ensure_future(one.run_write(stuck))
        await inside.wait()
        unit.cancel()
        with pytest.raises(asyncio.CancelledError):
            await unit

        watcher = await asyncpg.connect(url)
        try:
            left_open = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%'"
            )
        finally:
            await watcher.close()
        assert left_open == 0
        assert await names(one) == set()
        await asyncio.wait_for(one.run_write(lambda tx: tx.execute(LEASE, ("next",))), 5)
        assert await names(one) == {"next"}
    finally:
        await one.close()
        server.drop_database(url)
