"""The session's PostgreSQL cluster (tests/postgres_server.py), a database per test, and a
pair of catalogs (SQLite, PostgreSQL) holding the same rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from registry_service.catalog.db import Catalog
from registry_service.catalog.migrate import available_migrations
from tests.postgres_server import PostgresServer, session_server
from tests.unit.catalog.postgresql.catalog_rows import Both, postgres_catalog_at, rows_at


@pytest.fixture
def postgres_server(request: pytest.FixtureRequest) -> PostgresServer:
    return session_server(request.config)


@pytest.fixture
def empty_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A database with no schema at all (not even the version table)."""
    url = postgres_server.create_database(migrated=False)
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A database at the latest schema."""
    url = postgres_server.create_database()
    yield url
    postgres_server.release_database(url)


@pytest.fixture
async def both(tmp_path: Path, postgres_url: str) -> AsyncIterator[Both]:
    """A SQLite catalog and a PostgreSQL one, both at the latest schema with ``rows_at`` it."""
    latest = available_migrations()[-1].version
    sqlite = await Catalog.open(tmp_path / "registry.sqlite3")
    postgres = await asyncpg.connect(postgres_url)
    try:
        async with sqlite.transaction() as tx:
            for statement in rows_at(latest, "sqlite"):
                await tx.execute(statement)
        await postgres_catalog_at(postgres, latest, migrated=True)
        yield Both(sqlite, postgres)
    finally:
        await postgres.close()
        await sqlite.close()
