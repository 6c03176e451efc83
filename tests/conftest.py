"""Shared fixtures: a settable clock, settings on a temporary data directory, an open catalog,
an aiohttp test client over ``create_app``, and a factory that seeds through the services.

``--catalog=sqlite|postgresql|both`` (default ``sqlite``) chooses the catalog backends: every
test that uses ``catalog`` or ``settings`` runs once per chosen backend (ids ``sqlite`` and
``postgresql``), on a SQLite file in its temporary data directory or on a fresh database of
the session's PostgreSQL cluster (``tests/postgres_server.py``), named by ``catalog.url``.
Tests about SQLite itself are marked ``sqlite_only`` and run once, on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from registry_service.app import create_app
from registry_service.catalog.opening import open_catalog
from registry_service.catalog.protocols import CatalogBackend
from registry_service.clock import SettableClock
from registry_service.settings import Settings, load
from tests.factories import Factory
from tests.postgres_server import session_server

EXTERNAL_URL = "http://registry.test:5000"
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--catalog",
        choices=(*BACKENDS, "both"),
        default="sqlite",
        help="catalog backend(s) the catalog, API and job tests run on (default: sqlite)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "catalog_backend" not in metafunc.fixturenames:
        return
    chosen = metafunc.config.getoption("--catalog")
    backends = list(BACKENDS) if chosen == "both" else [chosen]
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = ["sqlite"]
    metafunc.parametrize("catalog_backend", backends, ids=backends)


@pytest.fixture
def catalog_url(catalog_backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """``catalog.url`` for the test: empty (the data directory's SQLite file) or a fresh
    PostgreSQL database at the latest schema, emptied or dropped afterwards."""
    if catalog_backend == "sqlite":
        yield ""
        return
    server = session_server(request.config)
    url = server.create_database()
    yield url
    server.release_database(url)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path, catalog_url: str) -> Settings:
    return load(
        None,
        {
            "REGISTRY_SERVICE_DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_SERVICE_EXTERNAL_URL": EXTERNAL_URL,
            "REGISTRY_SERVICE_CATALOG_URL": catalog_url,
        },
    )


@pytest.fixture
async def catalog(settings: Settings) -> AsyncIterator[CatalogBackend]:
    opened = await open_catalog(settings)
    yield opened
    await opened.close()


@pytest.fixture
def factory(catalog: CatalogBackend, clock: SettableClock) -> Factory:
    return Factory(catalog, clock.now())


@pytest.fixture
async def client(
    aiohttp_client: object, settings: Settings, catalog: CatalogBackend, clock: SettableClock
) -> TestClient:
    app = create_app(settings, catalog=catalog, clock=clock)
    return await aiohttp_client(app)  # type: ignore[operator, no-any-return]
