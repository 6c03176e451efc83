"""``FilesystemBlobStore.put_many``: many small in-memory blobs written as one batch (what any
store's ``put_many`` must do is in test_contract.py; here, the filesystem's failure handling)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from registry_service.digests import Digest, digest_of
from registry_service.errors import InsufficientStorage
from registry_service.storage import layout
from registry_service.storage.filesystem import FilesystemBlobStore


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def blobs(count: int, algorithm: str = "sha256") -> list[tuple[Digest, bytes]]:
    contents = [f'{{"config": {n}}}'.encode() for n in range(count)]
    return [(digest_of(data, algorithm), data) for data in contents]


async def test_a_failed_rename_leaves_no_temp_files_and_only_whole_blobs(
    store: FilesystemBlobStore, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    calls = 0

    def failing_replace(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise OSError(28, "No space left on device")
        real_replace(*args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)
    batch = blobs(10)

    with pytest.raises(InsufficientStorage) as raised:
        await store.put_many(batch)
    assert isinstance(raised.value.__cause__, OSError)

    assert files_under(data_dir / "tmp") == []
    placed = files_under(data_dir / "blobs")
    assert len(placed) == 3
    contents = {layout.blob_path(data_dir, d): data for d, data in batch}
    assert all(path.read_bytes() == contents[path] for path in placed)
