"""The ``catalog`` fixture really is the backend its id names: a PostgreSQL run that fell back
to SQLite would pass every suite while testing nothing new."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry_service.catalog.db import Catalog, fetch_one
from registry_service.catalog.postgres import PostgresCatalog
from registry_service.catalog.protocols import CatalogBackend
from registry_service.settings import Settings


async def test_the_catalog_is_the_backend_its_id_names(
    catalog_backend: str, catalog: CatalogBackend, settings: Settings
) -> None:
    if catalog_backend == "postgresql":
        assert isinstance(catalog, PostgresCatalog)
        assert settings.catalog.is_postgresql
        row = await fetch_one(catalog.reader, "SELECT version()")
        assert row is not None and str(row[0]).startswith("PostgreSQL")
    else:
        assert isinstance(catalog, Catalog)
        assert catalog.path == settings.data_path / "registry.sqlite3"
        row = await fetch_one(catalog.reader, "SELECT sqlite_version()")
        assert row is not None


@pytest.mark.sqlite_only
def test_sqlite_only_tests_run_on_sqlite_alone(catalog_backend: str) -> None:
    assert catalog_backend == "sqlite"


def test_the_embedded_default_starts_without_the_postgresql_driver(tmp_path: Path) -> None:
    # Start-up time of the default must not grow with a backend it does not use: importing
    # the CLI and opening the data directory's SQLite catalog loads no asyncpg.
    probe = (
        "import asyncio, sys\n"
        "import registry_service.cli\n"
        "from registry_service.catalog.opening import open_catalog\n"
        "from registry_service.settings import load\n"
        f"settings = load(None, {{'REGISTRY_SERVICE_DATA_DIR': {str(tmp_path)!r}}})\n"
        "async def main():\n"
        "    await (await open_catalog(settings)).close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'asyncpg'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
