"""A start-up that fails part-way closes, in reverse order, everything opened before the failure.

``web.run_app`` (and any ``AppRunner`` user) runs the app's start-up inside ``runner.setup()``
and does not call ``cleanup()`` when that raises, so what ``build_app`` opened — the catalog's
connections, the blob store's threads, the in-process job runner's task — must be closed by the
start-up itself. The failure here is a real one: the data directory's ``tmp`` is a file, so the
purge of leftover temp files (the app's first start-up step) cannot list it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from registry_service.catalog.writer_thread import CatalogClosed
from registry_service.cli import build_app
from registry_service.keys import catalog_key
from registry_service.settings import Settings

ADMIN_TOKEN = "glpat-startup-unwinding-0001"


def broken_data_dir(settings: Settings) -> Path:
    data = settings.data_path
    data.mkdir(parents=True)
    (data / "tmp").write_text("a file where the temp directory belongs")
    return data


def other_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_a_failed_start_up_stops_the_jobs_and_closes_the_catalog(settings: Settings) -> None:
    await failed_start_up_unwinds(settings, fixture_mode=False)


# Fixture mode resets its catalog, so it is refused on a catalog other servers may share
# (settings: any PostgreSQL catalog); it exists only on the data directory's SQLite file.
@pytest.mark.sqlite_only
async def test_a_failed_fixture_mode_start_up_stops_the_jobs_and_closes_the_catalog(
    settings: Settings,
) -> None:
    await failed_start_up_unwinds(settings, fixture_mode=True)


async def failed_start_up_unwinds(settings: Settings, *, fixture_mode: bool) -> None:
    broken_data_dir(settings)
    settings = settings.replace("auth", admin_token=ADMIN_TOKEN)
    settings = settings.replace("fixture", enabled=fixture_mode)
    before = other_tasks()
    app = await build_app(settings, None)
    catalog = app[catalog_key]
    assert "job-runner" in [t.get_name() for t in other_tasks() if t not in before]

    runner = web.AppRunner(app)
    with pytest.raises(NotADirectoryError):
        await runner.setup()

    # Nothing calls runner.cleanup() after a failed setup (web.run_app does not).
    assert [t.get_name() for t in other_tasks() if t not in before] == []
    # Each driver's own word for a closed connection (SQLite's) or pool (asyncpg's).
    with pytest.raises((sqlite3.ProgrammingError, asyncpg.InterfaceError), match="closed"):
        await catalog.reader.execute_fetchall("SELECT 1")
    with pytest.raises(CatalogClosed):
        async with catalog.transaction() as tx:
            await tx.execute("SELECT 1")


async def test_cleanup_after_a_failed_start_up_closes_nothing_twice(settings: Settings) -> None:
    """What a careful runner does (``cleanup()`` after a failed ``setup()``) stays harmless."""
    broken_data_dir(settings)
    app = await build_app(settings.replace("auth", admin_token=ADMIN_TOKEN), None)
    runner = web.AppRunner(app)
    with pytest.raises(NotADirectoryError):
        await runner.setup()
    await runner.cleanup()
    assert other_tasks() == []
