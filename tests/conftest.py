"""Shared fixtures: a settable clock, settings on a temporary data directory, an open catalog,
an aiohttp test client over ``create_app``, and a factory that seeds through the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.settings import Settings, load
from tests.factories import Factory

EXTERNAL_URL = "http://registry.test:5000"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load(
        None,
        {
            "REGISTRY_SERVICE_DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_SERVICE_EXTERNAL_URL": EXTERNAL_URL,
        },
    )


@pytest.fixture
async def catalog(settings: Settings) -> AsyncIterator[Catalog]:
    opened = await Catalog.open_in(settings.data_path)
    yield opened
    await opened.close()


@pytest.fixture
def factory(catalog: Catalog, clock: SettableClock) -> Factory:
    return Factory(catalog, clock.now())


@pytest.fixture
async def client(
    aiohttp_client: object, settings: Settings, catalog: Catalog, clock: SettableClock
) -> TestClient:
    app = create_app(settings, catalog=catalog, clock=clock)
    return await aiohttp_client(app)  # type: ignore[operator, no-any-return]
