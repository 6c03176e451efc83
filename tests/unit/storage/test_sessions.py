"""Upload sessions (registry_service/storage/sessions.py): chunked appends, resume, finish."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import random
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_service.digests import Digest, Hasher, digest_of
from registry_service.errors import (
    BlobUploadUnknown,
    DigestInvalid,
    RangeNotSatisfiable,
    UploadOutOfOrder,
)
from registry_service.storage import layout
from registry_service.storage import sessions as sessions_module
from registry_service.storage.base import BlobInfo
from registry_service.storage.filesystem import FilesystemBlobStore
from registry_service.storage.sessions import UploadSessions, range_header
from tests.unit.storage.streams import Broken, broken_stream, slow_stream, stream

MiB = 1 << 20
SID = "0f6c1e4a9b2d4c7e8a1b3c5d7e9f0a12"


def data_file(data_dir: Path, session_id: str = SID) -> Path:
    return data_dir / "uploads" / session_id / "data"


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


@pytest.mark.parametrize(("size", "header"), [(0, "0-0"), (1, "0-0"), (10, "0-9")])
def test_range_header_names_the_last_byte(size: int, header: str) -> None:
    assert range_header(size) == header


async def test_in_order_chunks_finish_as_one_blob(
    sessions: UploadSessions, store: FilesystemBlobStore, data_dir: Path
) -> None:
    await sessions.create(SID)
    assert await sessions.append(SID, stream(b"hello "), start_offset=0) == 6
    assert await sessions.append(SID, stream(b"wor", b"ld"), start_offset=6) == 11
    assert await sessions.size(SID) == 11

    info = await sessions.finish(SID, digest_of(b"hello world!"), stream(b"!"), start_offset=11)

    assert info == BlobInfo(digest_of(b"hello world!"), 12)
    assert store.path_of(info.digest).read_bytes() == b"hello world!"
    assert not await sessions.exists(SID)
    assert os.listdir(data_dir / "uploads") == []


async def test_streamed_chunks_append_at_the_end(sessions: UploadSessions) -> None:
    await sessions.create(SID)
    await sessions.append(SID, stream(b"a" * MiB, b"b" * (MiB + 1)))
    assert await sessions.append(SID, stream(b"c")) == 2 * MiB + 2
    info = await sessions.finish(SID, digest_of(b"a" * MiB + b"b" * (MiB + 1) + b"c"))
    assert info.size_bytes == 2 * MiB + 2


async def test_an_out_of_order_chunk_is_416_and_not_written(
    sessions: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    await sessions.append(SID, stream(b"0123456789"), start_offset=0)

    with pytest.raises(UploadOutOfOrder) as caught:
        await sessions.append(SID, stream(b"later"), start_offset=20)

    assert caught.value.status == 416
    assert caught.value.headers == {"Range": "0-9"}
    assert data_file(data_dir).read_bytes() == b"0123456789"
    assert await sessions.size(SID) == 10


async def test_a_repeated_chunk_is_416(sessions: UploadSessions, data_dir: Path) -> None:
    await sessions.create(SID)
    await sessions.append(SID, stream(b"chunk-1"), start_offset=0)
    with pytest.raises(UploadOutOfOrder) as caught:
        await sessions.append(SID, stream(b"chunk-1"), start_offset=0)
    assert caught.value.headers == {"Range": "0-6"}
    assert data_file(data_dir).read_bytes() == b"chunk-1"


async def test_a_first_chunk_not_at_zero_is_416(sessions: UploadSessions) -> None:
    await sessions.create(SID)
    with pytest.raises(UploadOutOfOrder) as caught:
        await sessions.append(SID, stream(b"x"), start_offset=5)
    assert caught.value.headers == {"Range": "0-0"}


async def test_an_out_of_order_final_chunk_is_416(sessions: UploadSessions) -> None:
    await sessions.create(SID)
    await sessions.append(SID, stream(b"abc"))
    with pytest.raises(UploadOutOfOrder):
        await sessions.finish(SID, digest_of(b"abcdef"), stream(b"def"), start_offset=2)
    assert await sessions.size(SID) == 3


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_resume_after_restart_rehashes_and_finishes(data_dir: Path, algorithm: str) -> None:
    content = random.Random(3).randbytes(3 * MiB + 5)
    before = FilesystemBlobStore(data_dir)
    await UploadSessions(before).create(SID, algorithm)
    await UploadSessions(before).append(SID, stream(content[:MiB]), start_offset=0)
    await before.aclose()

    # A new process: no live hasher; the session's algorithm and bytes come from disk.
    after = FilesystemBlobStore(data_dir)
    sessions = UploadSessions(after)
    try:
        assert await sessions.exists(SID)
        assert await sessions.size(SID) == MiB
        with pytest.raises(UploadOutOfOrder):
            await sessions.append(SID, stream(b"again"), start_offset=0)
        await sessions.append(SID, stream(content[MiB : 2 * MiB]), start_offset=MiB)
        expected = Digest(algorithm, hashlib.new(algorithm, content).hexdigest())
        info = await sessions.finish(SID, expected, stream(content[2 * MiB :]))
        assert info == BlobInfo(expected, len(content))
        assert after.path_of(expected).read_bytes() == content
    finally:
        await after.aclose()


async def test_the_file_is_read_back_only_when_the_hash_state_is_lost(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rehashed: list[Path] = []
    real_hash_file = sessions_module.hash_file

    def counting_hash_file(path: Path, algorithm: str) -> tuple[Hasher, int]:
        rehashed.append(path)
        return real_hash_file(path, algorithm)

    monkeypatch.setattr(sessions_module, "hash_file", counting_hash_file)
    store = FilesystemBlobStore(data_dir)
    try:
        sessions = UploadSessions(store)
        await sessions.create(SID)
        await sessions.append(SID, stream(b"a" * MiB), start_offset=0)
        await sessions.append(SID, stream(b"b" * MiB), start_offset=MiB)
        assert rehashed == []  # hashed while streaming

        restarted = UploadSessions(store)
        with pytest.raises(UploadOutOfOrder):
            await restarted.append(SID, stream(b"c"), start_offset=0)
        assert rehashed == []  # a refused chunk costs no re-read
        await restarted.append(SID, stream(b"c"), start_offset=2 * MiB)
        await restarted.finish(SID, digest_of(b"a" * MiB + b"b" * MiB + b"c"))
        assert rehashed == [data_file(data_dir)]  # once, after the "restart"
    finally:
        await store.aclose()


async def test_a_file_changed_behind_the_hasher_is_rehashed(
    sessions: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    await sessions.append(SID, stream(b"mine "))
    with data_file(data_dir).open("ab") as other_writer:
        other_writer.write(b"theirs ")

    assert await sessions.append(SID, stream(b"end"), start_offset=12) == 15
    info = await sessions.finish(SID, digest_of(b"mine theirs end"))
    assert info.digest == digest_of(b"mine theirs end")


async def test_a_broken_chunk_keeps_what_arrived_and_still_verifies(
    sessions: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    with pytest.raises(Broken):
        await sessions.append(SID, broken_stream(b"a" * (2 * MiB), b"b" * 100))

    size = await sessions.size(SID)  # waits for the write the broken append left running
    received = data_file(data_dir).read_bytes()
    assert size == len(received)
    assert received == b"a" * (2 * MiB) + b"b" * (len(received) - 2 * MiB)
    await sessions.append(SID, stream(b"tail"), start_offset=len(received))
    assert (await sessions.finish(SID, digest_of(received + b"tail"))).size_bytes == len(
        received
    ) + 4


async def test_a_cancelled_append_is_followed_safely(
    sessions: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    task = asyncio.create_task(sessions.append(SID, slow_stream([b"q" * MiB] * 1000)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    size = await sessions.append(SID, stream(b"!"))
    content = data_file(data_dir).read_bytes()
    assert len(content) == size
    assert content == b"q" * (size - 1) + b"!"
    assert (await sessions.finish(SID, digest_of(content))).size_bytes == size


async def test_a_wrong_digest_at_finish_leaves_no_file_anywhere(
    sessions: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    await sessions.append(SID, stream(b"actual"))
    with pytest.raises(DigestInvalid):
        await sessions.finish(SID, digest_of(b"claimed"))
    assert files_under(data_dir) == []
    assert not await sessions.exists(SID)


async def test_finishing_with_another_algorithm_hashes_from_disk(
    sessions: UploadSessions,
) -> None:
    await sessions.create(SID, "sha256")
    await sessions.append(SID, stream(b"announced sha256, closed with sha512"))
    expected = digest_of(b"announced sha256, closed with sha512", "sha512")
    assert (await sessions.finish(SID, expected)).digest == expected


async def test_the_empty_upload_finishes(sessions: UploadSessions) -> None:
    await sessions.create(SID)
    assert await sessions.size(SID) == 0
    assert await sessions.finish(SID, digest_of(b"")) == BlobInfo(digest_of(b""), 0)


async def test_cancel_removes_the_session(sessions: UploadSessions, data_dir: Path) -> None:
    await sessions.create(SID)
    await sessions.append(SID, stream(b"abandoned"))
    await sessions.cancel(SID)
    assert not await sessions.exists(SID)
    assert files_under(data_dir) == []
    with pytest.raises(BlobUploadUnknown):
        await sessions.cancel(SID)


@pytest.mark.parametrize("session_id", [SID, "../../blobs", "a/b", "", "x" * 200, ".hidden"])
async def test_unknown_or_malformed_sessions_are_blob_upload_unknown(
    sessions: UploadSessions, session_id: str
) -> None:
    assert not await sessions.exists(session_id)
    with pytest.raises(BlobUploadUnknown):
        await sessions.append(session_id, stream(b"x"))
    with pytest.raises(BlobUploadUnknown):
        await sessions.size(session_id)
    with pytest.raises(BlobUploadUnknown):
        await sessions.finish(session_id, digest_of(b"x"))
    with pytest.raises(BlobUploadUnknown):
        await sessions.cancel(session_id)


async def test_an_unsupported_algorithm_is_refused_at_create(sessions: UploadSessions) -> None:
    with pytest.raises(DigestInvalid):
        await sessions.create(SID, "md5")
    assert not await sessions.exists(SID)


async def test_purge_removes_only_idle_sessions(sessions: UploadSessions, data_dir: Path) -> None:
    idle, busy = "idle0001", "busy0001"
    for session_id in (idle, busy):
        await sessions.create(session_id)
        await sessions.append(session_id, stream(b"bytes"))
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    two_days_ago = now.timestamp() - 2 * 86400
    for path in (data_dir / "uploads" / idle).iterdir():
        os.utime(path, (two_days_ago, two_days_ago))
    os.utime(data_dir / "uploads" / idle, (two_days_ago, two_days_ago))
    (data_dir / "uploads" / "not a session").mkdir()

    assert await sessions.purge_older_than(86400, now) == [idle]
    assert not await sessions.exists(idle)
    assert await sessions.exists(busy)
    assert (data_dir / "uploads" / "not a session").is_dir()


async def test_purge_removes_a_half_created_session(
    sessions: UploadSessions, data_dir: Path
) -> None:
    half = data_dir / "uploads" / "half0001"
    half.mkdir(parents=True)
    (half / "session.json").write_text('{"algorithm": "sha256"}')
    assert not await sessions.exists("half0001")
    later = datetime.fromtimestamp(half.stat().st_mtime + 3600, UTC)
    assert await sessions.purge_older_than(60, later) == ["half0001"]
    assert not half.exists()


async def test_concurrent_appends_are_serialized(sessions: UploadSessions, data_dir: Path) -> None:
    await sessions.create(SID)
    first = sessions.append(SID, slow_stream([b"A" * 1000] * 20))
    second = sessions.append(SID, slow_stream([b"B" * 1000] * 20))
    await asyncio.gather(first, second)

    content = data_file(data_dir).read_bytes()
    assert content in (b"A" * 20_000 + b"B" * 20_000, b"B" * 20_000 + b"A" * 20_000)
    assert (await sessions.finish(SID, digest_of(content))).size_bytes == 40_000


async def test_two_patches_at_the_same_offset_one_wins(
    sessions: UploadSessions, data_dir: Path
) -> None:
    await sessions.create(SID)
    results = await asyncio.gather(
        sessions.append(SID, slow_stream([b"A" * 100] * 10), start_offset=0),
        sessions.append(SID, slow_stream([b"B" * 100] * 10), start_offset=0),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["UploadOutOfOrder", "int"]
    assert data_file(data_dir).read_bytes() in (b"A" * 1000, b"B" * 1000)


def test_upload_out_of_order_is_a_range_error() -> None:
    assert issubclass(UploadOutOfOrder, RangeNotSatisfiable)


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(max_size=4000),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
    restart_after=st.integers(min_value=0, max_value=8),
)
def test_any_split_into_patches_gives_hashlib_digest(
    data: bytes, cuts: list[int], restart_after: int
) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    chunks = [(a, data[a:b]) for a, b in itertools.pairwise(edges)]

    async def scenario(root: Path) -> BlobInfo:
        store = FilesystemBlobStore(root)
        sessions = UploadSessions(store)
        try:
            await sessions.create("prop")
            for index, (offset, chunk) in enumerate(chunks):
                if index == restart_after:
                    sessions = UploadSessions(store)  # the live hasher is lost
                await sessions.append("prop", stream(chunk), start_offset=offset)
            return await sessions.finish("prop", digest_of(data))
        finally:
            await store.aclose()

    with tempfile.TemporaryDirectory() as tmp:
        info = asyncio.run(scenario(Path(tmp)))
        assert info == BlobInfo(Digest("sha256", hashlib.sha256(data).hexdigest()), len(data))
        assert layout.blob_path(Path(tmp), info.digest).read_bytes() == data


async def test_create_and_cancel_each_cross_to_the_io_threads_once(
    sessions: UploadSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under a pull storm every hop off the loop waits behind the ready reads: an upload
    # session's POST and DELETE each make one.
    io = sessions._io
    hops: list[str] = []
    submit = io.submit

    def counted(fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return submit(fn, *args)

    monkeypatch.setattr(io, "submit", counted)
    await sessions.create(SID)
    assert len(hops) == 1, hops
    await sessions.cancel(SID)
    assert len(hops) == 2, hops
    assert not await sessions.exists(SID)


async def test_a_session_is_synced_by_its_first_acknowledged_chunk_not_by_its_opening(
    sessions: UploadSessions, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A power cut cannot be staged here; what it would keep is whatever was fsynced before the
    # answer, so the fsyncs themselves are what is checked. An empty session holds nothing a
    # client was told is stored: opening one syncs nothing (three fsyncs per POST used to be
    # most of its cost). The first chunk the client hears 202 for must survive, and with it
    # the files and folders that make the session findable.
    synced: list[Path] = []
    for name in ("fsync_file", "fsync_dir"):
        real = getattr(sessions_module, name)

        def recording(path: Path, real: Callable[[Path], None] = real) -> None:
            synced.append(path)
            real(path)

        monkeypatch.setattr(sessions_module, name, recording)
    session = data_dir / "uploads" / SID

    await sessions.create(SID)
    assert synced == []

    await sessions.append(SID, stream(b"first"), start_offset=0)
    assert set(synced) == {
        session / "data", session / "session.json", session, data_dir / "uploads"
    }

    synced.clear()
    await sessions.append(SID, stream(b"second"), start_offset=5)
    assert synced == [session / "data"]
