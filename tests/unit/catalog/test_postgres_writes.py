"""``PostgresCatalog``'s write units against a real PostgreSQL server: they serialise under the
advisory write lock (as SQLite's single writer does), each is all-or-nothing, a failing one is
undone alone, and the driver's integrity errors leave as ``catalog.errors``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from registry_service.catalog.db import fetch_all, fetch_one
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
    # lose updates; under the write lock they run one after another, as on SQLite.
    await pg.run_write(lambda tx: tx.execute(LEASE, ("counter",)))

    async def bump(tx: Writer) -> None:
        row = await fetch_one(tx, "SELECT owner FROM leases WHERE name = 'counter'")
        assert row is not None
        seen = 0 if row[0] == "x" else int(row[0])
        await asyncio.sleep(0.005)  # widen the window a lost update needs
        await tx.execute("UPDATE leases SET owner = ? WHERE name = 'counter'", (str(seen + 1),))

    await asyncio.gather(*(pg.run_write(bump) for _ in range(20)))

    row = await fetch_one(pg.reader, "SELECT owner FROM leases WHERE name = 'counter'")
    assert row is not None and row[0] == "20"


async def test_a_second_unit_waits_for_the_first_to_commit(pg: PostgresCatalog) -> None:
    order: list[str] = []
    first_inside = asyncio.Event()
    release = asyncio.Event()

    async def first(tx: Writer) -> None:
        await tx.execute(LEASE, ("first",))
        order.append("first in")
        first_inside.set()
        await release.wait()
        order.append("first out")

    async def second(tx: Writer) -> None:
        order.append("second in")
        # Everything the first unit wrote is committed before the second begins.
        assert "first" in {r[0] for r in await tx.execute_fetchall("SELECT name FROM leases")}

    running = asyncio.ensure_future(pg.run_write(first))
    await first_inside.wait()
    waiting = asyncio.ensure_future(pg.run_write(second))
    await asyncio.sleep(0.2)
    assert order == ["first in"]  # the second is held at the lock
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
