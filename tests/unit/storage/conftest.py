"""Fixtures for the storage tests: a blob store and its upload sessions on ``tmp_path``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from registry_service.storage.filesystem import FilesystemBlobStore
from registry_service.storage.sessions import UploadSessions


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def store(data_dir: Path) -> AsyncIterator[FilesystemBlobStore]:
    opened = FilesystemBlobStore(data_dir)
    yield opened
    await opened.aclose()


@pytest.fixture
def sessions(store: FilesystemBlobStore) -> UploadSessions:
    return store.upload_sessions()
