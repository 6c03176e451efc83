"""The tests' PostgreSQL cluster (tests/postgres_server.py): a clear failure without the
binaries, a database per test that no other test sees, password logins over TCP."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.postgres_server import PostgresServer, postgres_bin


def test_missing_binaries_fail_with_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"apt-get install -y postgresql"):
        postgres_bin(tmp_path)


def test_the_newest_installed_version_is_used(tmp_path: Path) -> None:
    for version in ("9", "15", "13"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "initdb").touch()
    assert postgres_bin(tmp_path) == tmp_path / "15" / "bin"


async def test_each_database_is_its_own(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.create_database(), postgres_server.create_database()
    try:
        assert first != second
        a, b = await asyncpg.connect(first), await asyncpg.connect(second)
        try:
            await a.execute("INSERT INTO leases VALUES ('x', 'o', 'e')")
            assert await a.fetchval("SELECT COUNT(*) FROM leases") == 1
            assert await b.fetchval("SELECT COUNT(*) FROM leases") == 0
            # Both come from the migrated template.
            assert await b.fetchval("SELECT version FROM schema_version") >= 9
        finally:
            await a.close()
            await b.close()
    finally:
        postgres_server.drop_database(first)
        postgres_server.drop_database(second)
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await asyncpg.connect(first)


async def test_a_released_database_serves_the_next_test_empty_with_ids_restarted(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO leases VALUES ('x', 'o', 'e')")
        for _ in range(3):
            await conn.fetchval("SELECT nextval(pg_get_serial_sequence('users', 'id'))")
    finally:
        await conn.close()
    left_open = await asyncpg.connect(url)  # as a test that forgot a connection leaves it
    postgres_server.release_database(url)
    again = postgres_server.create_database()
    try:
        assert again == url
        assert not await _answers(left_open)
        await left_open.close()
        conn = await asyncpg.connect(again)
        try:
            assert await conn.fetchval("SELECT COUNT(*) FROM leases") == 0
            assert await conn.fetchval("SELECT nextval(pg_get_serial_sequence('users', 'id'))") == 1
            assert await conn.fetchval("SELECT version FROM schema_version") >= 9
        finally:
            await conn.close()
    finally:
        postgres_server.drop_database(again)


async def test_a_released_database_whose_schema_changed_is_dropped(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ALTER TABLE leases ADD COLUMN extra TEXT")
    finally:
        await conn.close()
    postgres_server.release_database(url)
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await asyncpg.connect(url)
    other = postgres_server.create_database()
    postgres_server.drop_database(other)
    assert other != url


async def _answers(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    return True


async def test_logins_need_the_password(postgres_url: str) -> None:
    without = postgres_url.replace(":registry-test-secret@", "@")
    assert without != postgres_url
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(without, password="wrong")
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT current_setting('fsync')") == "off"
    finally:
        await conn.close()
