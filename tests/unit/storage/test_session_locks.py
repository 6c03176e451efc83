"""Upload sessions shared by several processes (storage/sessions.py with storage/file_locks.py).

Two ``FilesystemBlobStore`` objects on one data directory stand for two ``serve`` processes:
each has its own live hashers and ``asyncio`` locks, and ``flock`` locks belong to an open file,
so the two conflict exactly as two processes do.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry_service.digests import Digest, Hasher, digest_of
from registry_service.storage import file_locks, layout
from registry_service.storage import sessions as sessions_module
from registry_service.storage.filesystem import FilesystemBlobStore
from registry_service.storage.sessions import UploadSessions
from tests.unit.storage.streams import slow_stream, stream

KiB = 1 << 10
SID = "7d1c0b5e2f8a4e3c9b6a1d0e4f2c8b7a"


@pytest.fixture
async def other(data_dir: Path) -> AsyncIterator[UploadSessions]:
    """The same data directory's sessions as a second process sees them."""
    opened = FilesystemBlobStore(data_dir)
    yield opened.upload_sessions()
    await opened.aclose()


def data_file(data_dir: Path) -> Path:
    return layout.session_data_path(data_dir, SID)


async def test_appends_from_two_processes_never_interleave(
    sessions: UploadSessions, other: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    # 3 MiB each in 256 KiB pieces: several write batches each, so unserialized appends would
    # interleave batches in the file.
    sizes = await asyncio.gather(
        sessions.append(SID, slow_stream([b"A" * 256 * KiB] * 12)),
        other.append(SID, slow_stream([b"B" * 256 * KiB] * 12)),
    )

    content = data_file(data_dir).read_bytes()
    half = 3 * 1024 * KiB
    assert content in (b"A" * half + b"B" * half, b"B" * half + b"A" * half)
    assert sorted(sizes) == [half, 2 * half]
    info = await other.finish(SID, digest_of(content))
    assert info.size_bytes == 2 * half


async def test_two_processes_patching_one_offset_one_wins(
    sessions: UploadSessions, other: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    results = await asyncio.gather(
        sessions.append(SID, slow_stream([b"A" * 100] * 10), start_offset=0),
        other.append(SID, slow_stream([b"B" * 100] * 10), start_offset=0),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["UploadOutOfOrder", "int"]
    assert data_file(data_dir).read_bytes() in (b"A" * 1000, b"B" * 1000)


async def test_alternating_processes_reuse_the_hasher_only_while_it_is_current(
    sessions: UploadSessions,
    other: UploadSessions,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rehashed: list[int] = []
    real_hash_file = sessions_module.hash_file

    def counting_hash_file(path: Path, algorithm: str) -> tuple[Hasher, int]:
        hasher, size = real_hash_file(path, algorithm)
        rehashed.append(size)
        return hasher, size

    monkeypatch.setattr(sessions_module, "hash_file", counting_hash_file)
    await sessions.create(SID)
    await sessions.append(SID, stream(b"one "), start_offset=0)
    await sessions.append(SID, stream(b"two "), start_offset=4)
    assert rehashed == []  # this process wrote every byte: its hasher is current
    await other.append(SID, stream(b"three "), start_offset=8)
    assert rehashed == [8]  # the other process has no hasher: it reads the file once
    await sessions.append(SID, stream(b"four "), start_offset=14)
    assert rehashed == [8, 14]  # this hasher saw 8 bytes, the file has 14: stale, re-read
    await other.append(SID, stream(b"five"), start_offset=19)
    assert rehashed == [8, 14, 19]

    expected = Digest("sha256", hashlib.sha256(b"one two three four five").hexdigest())
    assert (await other.finish(SID, expected)).digest == expected


async def test_purge_skips_a_session_another_process_is_writing(
    sessions: UploadSessions, other: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    gate = asyncio.Event()

    async def held_open() -> AsyncIterator[bytes]:
        yield b"x" * 10
        await gate.wait()
        yield b"y" * 10

    writing = asyncio.create_task(sessions.append(SID, held_open()))
    await asyncio.sleep(0.05)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await other.purge_older_than(60, later) == []
    gate.set()
    assert await writing == 20
    assert await other.purge_older_than(60, later) == [SID]


def test_a_lock_is_released_only_when_its_writes_have_stopped(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    held = file_locks.try_lock(lock)
    assert held is not None
    assert file_locks.try_lock(lock) is None  # a second open conflicts, even in one process

    running: Future[None] = Future()
    file_locks.unlock_when_stopped(held, [running])
    assert file_locks.try_lock(lock) is None
    running.set_result(None)
    again = file_locks.try_lock(lock)
    assert again is not None
    file_locks.unlock(again)


def test_a_lock_in_a_removed_directory_is_not_recreated(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_locks.try_lock(tmp_path / "gone" / "lock")
    assert not (tmp_path / "gone").exists()


async def test_cancel_waits_for_another_process_writing_the_session(
    sessions: UploadSessions, other: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    gate = asyncio.Event()

    async def held_open() -> AsyncIterator[bytes]:
        yield b"x" * 10
        await gate.wait()
        yield b"y" * 10

    writing = asyncio.create_task(sessions.append(SID, held_open()))
    await asyncio.sleep(0.05)
    cancelling = asyncio.create_task(other.cancel(SID))
    await asyncio.sleep(0.1)
    # The other process's lock is held: the cancel has not removed the bytes under it.
    assert not cancelling.done()
    assert data_file(data_dir).exists()
    gate.set()
    assert await writing == 20
    await cancelling
    assert not await other.exists(SID)
    assert not layout.session_dir(data_dir, SID).exists()
