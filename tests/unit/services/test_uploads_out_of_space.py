"""Upload sessions on a full disk (a real 4 MiB tmpfs holding catalog and blobs): a POST whose
catalog row cannot be written leaves no session folder behind, and a chunk that runs out of
space takes its session's row with its bytes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from registry_service.catalog import uploads as upload_rows
from registry_service.catalog.db import Catalog
from registry_service.catalog.repositories import ensure_repository
from registry_service.catalog.rows import Repository
from registry_service.errors import InsufficientStorage
from registry_service.services import blobs
from registry_service.services.blobs import Storage
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.factories import Factory
from tests.tmpfs import fill, mounted_tmpfs

NOW = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", 4 << 20) as mount:
        yield mount


@pytest.fixture
async def full_catalog(tiny_disk: Path) -> AsyncIterator[Catalog]:
    opened = await Catalog.open_in(tiny_disk / "data")
    yield opened
    await opened.close()


@pytest.fixture
async def storage(tiny_disk: Path) -> AsyncIterator[Storage]:
    store = FilesystemBlobStore(tiny_disk / "data")
    yield Storage.on(store)
    await store.aclose()


@pytest.fixture
async def repository(full_catalog: Catalog) -> Repository:
    project = await Factory(full_catalog, NOW).project("group/app")
    async with full_catalog.transaction() as tx:
        return await ensure_repository(tx, project.id, "", NOW)


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def session_folders(tiny_disk: Path) -> list[str]:
    uploads = tiny_disk / "data" / "uploads"
    return sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []


async def test_a_session_whose_row_cannot_be_written_leaves_no_folder(
    full_catalog: Catalog, storage: Storage, repository: Repository, tiny_disk: Path
) -> None:
    # Room for the session's files (one page for session.json), none for the catalog's log.
    first = await blobs.start_upload(full_catalog, storage, repository, "sha256", NOW)
    await blobs.cancel_upload(full_catalog, storage, repository, first)
    filler = fill(tiny_disk)
    os.truncate(filler, filler.stat().st_size - 4096)

    with pytest.raises(InsufficientStorage):
        await blobs.start_upload(full_catalog, storage, repository, "sha256", NOW)

    assert session_folders(tiny_disk) == []
    assert await upload_rows.select_uploads(full_catalog.reader) == []


async def test_a_chunk_that_runs_out_of_space_takes_its_row_too(
    full_catalog: Catalog, storage: Storage, repository: Repository, tiny_disk: Path
) -> None:
    session = await blobs.start_upload(full_catalog, storage, repository, "sha256", NOW)

    with pytest.raises(InsufficientStorage):
        await blobs.append_chunk(
            full_catalog, storage, repository, session, chunks(os.urandom(5 << 20)), 0, NOW
        )

    assert session_folders(tiny_disk) == []
    assert await upload_rows.select_uploads(full_catalog.reader) == []
