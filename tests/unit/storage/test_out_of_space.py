"""The storage edge on a real full filesystem (a 4 MiB tmpfs): ENOSPC becomes
``InsufficientStorage``, and whatever the failed write had put on the disk is given back at once.
Also the ``storage.min_free_bytes`` floor, which refuses before anything is written.
"""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from registry_service.digests import digest_of
from registry_service.errors import BlobUploadUnknown, InsufficientStorage
from registry_service.storage.filesystem import FilesystemBlobStore
from registry_service.storage.sessions import UploadSessions
from registry_service.storage.space import SpaceFloor, translating_no_space
from tests.tmpfs import fill, free_bytes, mounted_tmpfs

MIB = 1 << 20
DISK_BYTES = 4 * MIB


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", DISK_BYTES) as mount:
        yield mount


@pytest.fixture
async def full_store(tiny_disk: Path) -> AsyncIterator[FilesystemBlobStore]:
    opened = FilesystemBlobStore(tiny_disk / "data")
    yield opened
    await opened.aclose()


async def chunks_of(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


async def test_an_ingest_that_fills_the_disk_is_507_and_gives_its_bytes_back(
    full_store: FilesystemBlobStore, tiny_disk: Path
) -> None:
    data = os.urandom(DISK_BYTES + MIB)
    free_before = free_bytes(tiny_disk)

    with pytest.raises(InsufficientStorage) as raised:
        await full_store.ingest(chunks_of(data), digest_of(data))

    assert isinstance(raised.value.__cause__, OSError)
    assert raised.value.__cause__.errno == errno.ENOSPC
    assert files_under(tiny_disk / "data") == []
    assert free_bytes(tiny_disk) == free_before


async def test_a_chunk_that_fills_the_disk_drops_its_session_bytes_and_all(
    full_store: FilesystemBlobStore, tiny_disk: Path
) -> None:
    sessions = UploadSessions(full_store)
    await sessions.create("s1")
    assert await sessions.append("s1", chunks_of(b"a" * MIB)) == MIB
    free_before_chunk = free_bytes(tiny_disk)

    with pytest.raises(InsufficientStorage):
        await sessions.append("s1", chunks_of(os.urandom(DISK_BYTES)))

    assert not await sessions.exists("s1")
    assert files_under(tiny_disk / "data" / "uploads") == []
    assert free_bytes(tiny_disk) >= free_before_chunk + MIB
    with pytest.raises(BlobUploadUnknown):
        await sessions.size("s1")


async def test_a_session_that_cannot_be_created_leaves_no_folder(
    full_store: FilesystemBlobStore, tiny_disk: Path
) -> None:
    sessions = UploadSessions(full_store)
    await sessions.create("first")  # the uploads/ folder exists before the disk fills
    await sessions.cancel("first")
    fill(tiny_disk)

    with pytest.raises(InsufficientStorage):
        await sessions.create("s2")

    assert list((tiny_disk / "data" / "uploads").iterdir()) == []


async def test_below_the_floor_uploads_are_refused_before_writing(data_dir: Path) -> None:
    store = FilesystemBlobStore(data_dir, min_free_bytes=free_bytes(Path("/")) * 2 + 1)
    sessions = UploadSessions(store)
    try:
        with pytest.raises(InsufficientStorage) as raised:
            await store.ingest(chunks_of(b"x"), digest_of(b"x"))
        assert raised.value.detail == {"reason": "free space below storage.min_free_bytes"}
        with pytest.raises(InsufficientStorage):
            await sessions.create("s1")
    finally:
        await store.aclose()
    assert files_under(data_dir) == []
    assert not (data_dir / "uploads" / "s1").exists()


async def test_a_stream_stops_at_the_floor(
    full_store: FilesystemBlobStore, tiny_disk: Path
) -> None:
    floor = free_bytes(tiny_disk) - 2 * MIB
    store = FilesystemBlobStore(tiny_disk / "data", io=full_store.io, min_free_bytes=floor)
    data = os.urandom(3 * MIB)

    with pytest.raises(InsufficientStorage) as raised:
        await store.ingest(chunks_of(data), digest_of(data))

    # Stopped by the floor after 2 MiB, not by the disk (which had room for all 3).
    assert raised.value.detail == {"reason": "free space below storage.min_free_bytes"}
    assert files_under(tiny_disk / "data") == []


def test_the_floor_is_off_at_zero(tmp_path: Path) -> None:
    SpaceFloor(tmp_path / "missing", 0).check(1 << 62)  # no statvfs, no refusal
    with pytest.raises(InsufficientStorage):
        SpaceFloor(tmp_path / "missing", 1).check(1 << 62)  # checked at the nearest parent


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_no_space_errors_are_translated(code: int) -> None:
    def write() -> None:
        raise OSError(code, os.strerror(code))

    with pytest.raises(InsufficientStorage) as raised:
        translating_no_space(write)()
    assert raised.value.status == 507


def test_other_os_errors_pass_unchanged() -> None:
    def write() -> None:
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(OSError) as raised:
        translating_no_space(write)()
    assert raised.type is OSError
    assert raised.value.errno == errno.EIO
