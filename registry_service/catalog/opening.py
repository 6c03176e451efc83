"""Open the configured catalog: ``open_catalog(settings)`` picks the backend by ``catalog.url``.

Empty is the embedded default, ``<data_dir>/registry.sqlite3``; ``sqlite:///…`` another SQLite
file; ``postgresql://…`` a PostgreSQL database. The PostgreSQL driver is imported only when
it is asked for, so the default start-up loads nothing it did not load before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from registry_service.catalog.db import CATALOG_FILENAME, Catalog
from registry_service.catalog.protocols import CatalogBackend
from registry_service.settings import Settings


async def open_catalog(
    settings: Settings, *, before_write: Callable[[], Awaitable[None]] | None = None
) -> CatalogBackend:
    """The catalog ``settings`` name, open and migrated to the latest schema."""
    if settings.catalog.is_postgresql:
        from registry_service.catalog.postgres import PostgresCatalog

        return await PostgresCatalog.open(settings.catalog.url, before_write=before_write)
    path = settings.catalog.sqlite_path or settings.data_path / CATALOG_FILENAME
    return await Catalog.open(path, before_write=before_write)
