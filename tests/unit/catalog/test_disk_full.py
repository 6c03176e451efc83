"""The catalog edge: SQLite's SQLITE_FULL ("database or disk is full") becomes
``InsufficientStorage``, and the catalog takes writes again once there is room.

Both ways SQLite reports it: at COMMIT, when the write-ahead log cannot grow on a full
filesystem (a real 4 MiB tmpfs), and inside a statement, at the database's page limit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from registry_service.catalog.db import Catalog, fetch_all
from registry_service.catalog.protocols import Writer
from registry_service.errors import InsufficientStorage
from tests.tmpfs import fill, mounted_tmpfs

# A SQLite file on a small tmpfs: about SQLite's SQLITE_FULL (PostgreSQL's disk is its own).
pytestmark = pytest.mark.sqlite_only

ROW = "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, 'y')"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", 4 << 20) as mount:
        yield mount


@pytest.fixture
async def catalog_on_tiny_disk(tiny_disk: Path) -> AsyncIterator[Catalog]:
    opened = await Catalog.open_in(tiny_disk / "data")
    yield opened
    await opened.close()


async def names(catalog: Catalog) -> set[str]:
    return {r[0] for r in await fetch_all(catalog.reader, "SELECT name FROM leases")}


async def test_a_commit_on_a_full_disk_is_insufficient_storage(
    catalog_on_tiny_disk: Catalog, tiny_disk: Path
) -> None:
    catalog = catalog_on_tiny_disk
    filler = fill(tiny_disk)

    with pytest.raises(InsufficientStorage) as raised:
        async with catalog.transaction() as tx:
            for n in range(200):
                await tx.execute(ROW, (f"lost-{n}", "x" * 2000))

    cause = raised.value.__cause__
    assert isinstance(cause, sqlite3.OperationalError)
    assert cause.sqlite_errorcode == sqlite3.SQLITE_FULL
    assert await names(catalog) == set()

    filler.unlink()
    async with catalog.transaction() as tx:
        await tx.execute(ROW, ("kept", "x"))
    assert await names(catalog) == {"kept"}


async def test_a_statement_past_the_page_limit_is_insufficient_storage(catalog: Catalog) -> None:
    async with catalog.transaction() as tx:
        await tx.execute(ROW, ("before", "x"))
        (pages,) = next(iter(await tx.execute_fetchall("PRAGMA page_count")))
        await tx.execute_fetchall(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(InsufficientStorage):
        async with catalog.transaction() as tx:
            await tx.execute(ROW, ("too-big", "x" * 100_000))

    async with catalog.transaction() as tx:
        await tx.execute(ROW, ("after", "x"))
    assert await names(catalog) == {"before", "after"}


async def test_other_operational_errors_are_not_translated(catalog: Catalog) -> None:
    with pytest.raises(sqlite3.OperationalError):
        async with catalog.transaction() as tx:
            await tx.execute("SELECT * FROM no_such_table")


async def test_a_run_write_commit_on_a_full_disk_is_insufficient_storage(
    catalog_on_tiny_disk: Catalog, tiny_disk: Path
) -> None:
    catalog = catalog_on_tiny_disk
    filler = fill(tiny_disk)

    async def many_rows(tx: Writer) -> None:
        for n in range(200):
            await tx.execute(ROW, (f"lost-{n}", "x" * 2000))

    with pytest.raises(InsufficientStorage) as raised:
        await catalog.run_write(many_rows)
    cause = raised.value.__cause__
    assert isinstance(cause, sqlite3.OperationalError)
    assert cause.sqlite_errorcode == sqlite3.SQLITE_FULL
    assert await names(catalog) == set()

    filler.unlink()
    await catalog.run_write(lambda tx: tx.execute(ROW, ("kept", "x")))
    assert await names(catalog) == {"kept"}


async def test_a_run_write_statement_past_the_page_limit_is_insufficient_storage(
    catalog: Catalog,
) -> None:
    async def set_limit(tx: Writer) -> None:
        await tx.execute(ROW, ("before", "x"))
        (pages,) = next(iter(await tx.execute_fetchall("PRAGMA page_count")))
        await tx.execute_fetchall(f"PRAGMA max_page_count = {pages}")

    await catalog.run_write(set_limit)
    with pytest.raises(InsufficientStorage):
        await catalog.run_write(lambda tx: tx.execute(ROW, ("too-big", "x" * 100_000)))
    await catalog.run_write(lambda tx: tx.execute(ROW, ("after", "x")))
    assert await names(catalog) == {"before", "after"}
