"""The session's PostgreSQL cluster (tests/postgres_server.py) and a database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres_server import PostgresServer, session_server


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
    postgres_server.drop_database(url)
