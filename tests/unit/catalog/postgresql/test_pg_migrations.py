"""PostgreSQL schema migrations (catalog/pg_migrate.py) against a real server: from an empty
database and from every earlier version with rows present, to the same rows SQLite's
migrations leave; atomic per file; refusing a newer schema; one migration for many starters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from registry_service.catalog.db import Catalog
from registry_service.catalog.migrate import available_migrations
from registry_service.catalog.pg_migrate import (
    MIGRATION_LOCK,
    VERSION_TABLE,
    apply_migrations,
    schema_version,
)
from tests.unit.catalog.postgresql.catalog_rows import (
    LATER,
    postgres_catalog_at,
    postgres_dump,
    sqlite_catalog_at,
    sqlite_dump,
)

LATEST = available_migrations("postgresql")[-1].version


@pytest.fixture
async def conn(empty_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(empty_database_url)
    yield connection
    await connection.close()


async def tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {r[0] for r in rows}


def test_both_dialects_have_the_same_migrations() -> None:
    sqlite = [(m.version, m.name) for m in available_migrations("sqlite")]
    postgresql = [(m.version, m.name) for m in available_migrations("postgresql")]
    assert postgresql == sqlite
    assert LATEST >= 9


async def test_an_empty_database_migrates_to_the_latest_version(conn: asyncpg.Connection) -> None:
    assert await schema_version(conn) == 0
    assert await apply_migrations(conn) == LATEST
    assert await schema_version(conn) == LATEST
    assert await conn.fetch(f"SELECT * FROM {VERSION_TABLE}") == [(True, LATEST)]
    assert {"users", "tags", "unreferenced_manifests", "tag_protection_rules"} <= await tables(conn)
    # Again: nothing left to do, nothing changed.
    assert await apply_migrations(conn) == LATEST
    assert await conn.fetchval(f"SELECT COUNT(*) FROM {VERSION_TABLE}") == 1


@pytest.mark.parametrize("version", range(1, LATEST))
async def test_rows_at_each_version_migrate_to_what_sqlite_makes_of_them(
    conn: asyncpg.Connection, tmp_path: Path, version: int
) -> None:
    await postgres_catalog_at(conn, version)
    assert await schema_version(conn) == version
    before = await postgres_dump(conn)
    assert await apply_migrations(conn) == LATEST
    after = await postgres_dump(conn)

    path = tmp_path / "registry.sqlite3"
    await sqlite_catalog_at(path, version)
    catalog = await Catalog.open(path)
    try:
        expected = await sqlite_dump(catalog)
    finally:
        await catalog.close()

    assert after == expected
    # Nothing written at the earlier version went missing (the version 5 column moved).
    assert {n: len(rows) for n, rows in before.items()} == {n: len(after[n]) for n in before}
    if version >= 2:
        counts = await conn.fetch("SELECT id, tags_count FROM repositories ORDER BY id")
        assert counts == [(1, 3), (2, 1), (3, 0)]
        # Only the untagged manifest keeps its stamp, if version 4 had one to carry over.
        stamps = await conn.fetch("SELECT * FROM unreferenced_manifests")
        assert stamps == ([(2, LATER)] if version < 5 else [])


async def test_migrate_to_stops_at_the_target(conn: asyncpg.Connection) -> None:
    assert await apply_migrations(conn, target=1) == 1
    assert await tables(conn) == {
        VERSION_TABLE,
        "users",
        "personal_access_tokens",
        "namespaces",
        "projects",
        "members",
    }
    assert await apply_migrations(conn, target=1) == 1
    assert await apply_migrations(conn) == LATEST


async def test_a_failing_migration_leaves_the_previous_version_intact(
    conn: asyncpg.Connection,
) -> None:
    await postgres_catalog_at(conn, 1)
    before = await postgres_dump(conn)
    # Migration 2 ends by creating cleanup_policies; a table of that name makes it fail after
    # all of its other tables have been created inside its transaction.
    await conn.execute("CREATE TABLE cleanup_policies (blocker INTEGER)")
    with pytest.raises(asyncpg.DuplicateTableError, match="cleanup_policies"):
        await apply_migrations(conn)
    assert not conn.is_in_transaction()
    assert await schema_version(conn) == 1
    assert "repositories" not in await tables(conn)
    await conn.execute("DROP TABLE cleanup_policies")
    assert await postgres_dump(conn) == before
    # The lock went with the failure: another session can take it at once.
    assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK)
    await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    assert await apply_migrations(conn) == LATEST


async def test_a_schema_newer_than_the_program_is_refused(conn: asyncpg.Connection) -> None:
    await apply_migrations(conn)
    await conn.execute(f"UPDATE {VERSION_TABLE} SET version = $1", LATEST + 1)
    with pytest.raises(RuntimeError, match="newer than this program knows"):
        await apply_migrations(conn)
    assert await schema_version(conn) == LATEST + 1


async def test_servers_starting_together_migrate_once(empty_database_url: str) -> None:
    starters = [await asyncpg.connect(empty_database_url) for _ in range(4)]
    try:
        # A second run of any migration would fail (its CREATE TABLEs exist): every starter
        # succeeding at the latest version means each file ran once.
        versions = await asyncio.gather(*(apply_migrations(c) for c in starters))
        assert versions == [LATEST] * 4
        assert await schema_version(starters[0]) == LATEST
    finally:
        for c in starters:
            await c.close()


async def test_a_starter_waits_while_another_holds_the_migration_lock(
    empty_database_url: str,
) -> None:
    holder = await asyncpg.connect(empty_database_url)
    starter = await asyncpg.connect(empty_database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        migrating = asyncio.ensure_future(apply_migrations(starter))
        await asyncio.sleep(0.3)
        assert not migrating.done()
        assert await schema_version(holder) == 0
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        assert await asyncio.wait_for(migrating, 30) == LATEST
    finally:
        await holder.close()
        await starter.close()
