"""Abandoned upload sessions are purged with their bytes; live ones and blobs stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from registry_service.catalog import uploads as upload_rows
from registry_service.catalog.db import Catalog
from registry_service.catalog.repositories import ensure_repository
from registry_service.catalog.rows import Repository
from registry_service.services import blobs
from registry_service.services.blobs import Storage
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.factories import Factory

DAY_S = 86400.0


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    store = FilesystemBlobStore(settings.data_path)
    yield Storage.on(store)
    await store.aclose()


@pytest.fixture
async def repository(factory: Factory, catalog: Catalog) -> Repository:
    project = await factory.project("group/app")
    async with catalog.transaction() as tx:
        return await ensure_repository(tx, project.id, "", factory.now)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_idle_sessions_are_purged_and_fresh_ones_kept(
    catalog: Catalog, storage: Storage, repository: Repository
) -> None:
    now = datetime.now(UTC)
    old = await blobs.start_upload(catalog, storage, repository, "sha256", now)
    await blobs.append_chunk(catalog, storage, repository, old, _chunks(b"x" * 100), 0, now)

    # Idleness is judged by the session files' modification times: look from two days on.
    removed = await blobs.purge_abandoned_uploads(catalog, storage, DAY_S, now + timedelta(days=2))

    assert removed == [old]
    assert not await storage.sessions.exists(old)
    assert await upload_rows.select_upload(catalog.reader, old) is None

    kept = await blobs.start_upload(catalog, storage, repository, "sha256", now)
    assert await blobs.purge_abandoned_uploads(catalog, storage, DAY_S, now) == []
    assert await storage.sessions.exists(kept)
    assert await upload_rows.select_upload(catalog.reader, kept) is not None


async def test_a_row_whose_session_vanished_in_a_crash_is_dropped(
    catalog: Catalog, storage: Storage, repository: Repository
) -> None:
    now = datetime.now(UTC)
    async with catalog.transaction() as tx:
        await upload_rows.insert_upload(tx, "orphan0row", repository.id, "sha256", now)

    removed = await blobs.purge_abandoned_uploads(catalog, storage, DAY_S, now)

    assert removed == ["orphan0row"]
    assert await upload_rows.select_upload(catalog.reader, "orphan0row") is None
