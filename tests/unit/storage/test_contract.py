"""The storage contract: what every ``BlobStore`` (registry_service/storage/base.py) must do.

Each test runs once per implementation in ``BACKENDS`` and speaks only through the protocols
(``BlobStore`` and the ``UploadSessionStore`` it hands out) — never through files — so an
object-store driver is one new entry there. What only one backend promises (file layout, temp
files, inodes) stays in that backend's own test module (``test_filesystem.py``…).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry_service.digests import Digest, digest_of
from registry_service.errors import BlobUnknown, DigestInvalid, RangeNotSatisfiable
from registry_service.storage.base import BlobInfo, BlobStore, Commit, PendingBlob, place_only
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.unit.storage.streams import Broken, broken_stream, slow_stream, stream

MiB = 1 << 20
SID = "5d0c4f3e2b1a49c8b7a6f5e4d3c2b1a0"
CONTENT = bytes(range(256)) * 16  # 4096 bytes


@asynccontextmanager
async def filesystem_store(tmp_path: Path) -> AsyncIterator[BlobStore]:
    store = FilesystemBlobStore(tmp_path / "data")
    try:
        yield store
    finally:
        await store.aclose()


# Every BlobStore implementation, built on a fresh, empty backend: a new driver is one entry.
BACKENDS: dict[str, Callable[[Path], AbstractAsyncContextManager[BlobStore]]] = {
    "filesystem": filesystem_store,
}


@pytest.fixture(params=sorted(BACKENDS))
async def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    async with BACKENDS[request.param](tmp_path) as store:
        yield store


async def read_all(store: BlobStore, digest: Digest) -> bytes:
    return b"".join([chunk async for chunk in await store.open_range(digest)])


async def stored(store: BlobStore) -> set[Digest]:
    return {digest async for digest in store.iter_digests()}


class CommitRefused(Exception):
    """The catalog write that should have accompanied the blob failed."""


# --- stat, ingest, dedup -------------------------------------------------------------------


async def test_stat_tells_a_missing_blob_from_a_stored_one(blob_store: BlobStore) -> None:
    digest = digest_of(b"layer")
    assert await blob_store.stat(digest) is None
    await blob_store.ingest(stream(b"lay", b"er"))
    assert await blob_store.stat(digest) == BlobInfo(digest, 5)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_ingest_without_expected_digest_names_the_blob_by_its_content(
    blob_store: BlobStore, algorithm: str
) -> None:
    content = b"layer bytes " * 1000
    info = await blob_store.ingest(stream(content[:5], content[5:]), algorithm=algorithm)

    digest = Digest(algorithm, hashlib.new(algorithm, content).hexdigest())
    assert info == BlobInfo(digest, len(content))
    assert await blob_store.stat(digest) == info
    assert await read_all(blob_store, digest) == content


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_ingest_accepts_the_matching_expected_digest(
    blob_store: BlobStore, algorithm: str
) -> None:
    expected = digest_of(b"abc", algorithm)
    assert await blob_store.ingest(stream(b"a", b"bc"), expected) == BlobInfo(expected, 3)
    assert await read_all(blob_store, expected) == b"abc"


async def test_a_digest_mismatch_stores_nothing_and_commits_nothing(
    blob_store: BlobStore,
) -> None:
    wrong = digest_of(b"something else")
    commits: list[PendingBlob] = []

    async def commit(pending: PendingBlob) -> BlobInfo:
        commits.append(pending)
        return await pending.place()

    with pytest.raises(DigestInvalid) as caught:
        await blob_store.ingest(stream(b"x" * (3 * MiB)), wrong, commit=commit)

    assert caught.value.detail["expected"] == str(wrong)
    assert commits == []
    assert await blob_store.stat(wrong) is None
    assert await blob_store.stat(digest_of(b"x" * (3 * MiB))) is None
    assert await stored(blob_store) == set()


async def test_an_expected_digest_of_another_algorithm_is_refused(blob_store: BlobStore) -> None:
    with pytest.raises(DigestInvalid):
        await blob_store.ingest(stream(b"abc"), digest_of(b"abc", "sha256"), "sha512")
    assert await stored(blob_store) == set()


async def test_a_body_that_breaks_mid_stream_stores_nothing(blob_store: BlobStore) -> None:
    with pytest.raises(Broken):
        await blob_store.ingest(broken_stream(b"a" * (2 * MiB), b"b" * MiB))
    assert await stored(blob_store) == set()


async def test_a_cancelled_ingest_stores_nothing(blob_store: BlobStore) -> None:
    task = asyncio.create_task(blob_store.ingest(slow_stream([b"z" * MiB] * 1000)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await stored(blob_store) == set()


async def test_ingesting_a_stored_blob_again_keeps_one_copy(blob_store: BlobStore) -> None:
    first = await blob_store.ingest(stream(b"same"))
    second = await blob_store.ingest(stream(b"sa", b"me"), first.digest)

    assert second == first
    assert await stored(blob_store) == {first.digest}
    assert await read_all(blob_store, first.digest) == b"same"


async def test_the_empty_blob_is_a_blob(blob_store: BlobStore) -> None:
    info = await blob_store.ingest(stream())
    assert info == BlobInfo(digest_of(b""), 0)
    assert await blob_store.stat(info.digest) == info
    assert await read_all(blob_store, info.digest) == b""


# --- ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, CONTENT),
        (0, 0, CONTENT[:1]),
        (0, 9, CONTENT[:10]),
        (10, 19, CONTENT[10:20]),
        (4000, None, CONTENT[4000:]),
        (4095, 4095, CONTENT[-1:]),
        (4090, 10_000, CONTENT[4090:]),  # an end past the blob is clamped
    ],
)
async def test_open_range_reads_the_inclusive_range(
    blob_store: BlobStore, start: int, end: int | None, expected: bytes
) -> None:
    info = await blob_store.ingest(stream(CONTENT))
    chunks = await blob_store.open_range(info.digest, start, end)
    assert b"".join([chunk async for chunk in chunks]) == expected


@pytest.mark.parametrize(("start", "end"), [(4096, None), (5000, 6000), (10, 9), (-1, None)])
async def test_open_range_outside_the_blob_is_not_satisfiable(
    blob_store: BlobStore, start: int, end: int | None
) -> None:
    info = await blob_store.ingest(stream(CONTENT))
    with pytest.raises(RangeNotSatisfiable) as caught:
        await blob_store.open_range(info.digest, start, end)
    assert caught.value.headers == {"Content-Range": "bytes */4096"}


async def test_the_empty_blob_has_no_satisfiable_range(blob_store: BlobStore) -> None:
    info = await blob_store.ingest(stream())
    with pytest.raises(RangeNotSatisfiable):
        await blob_store.open_range(info.digest, 0, 0)


@pytest.mark.parametrize(("start", "end"), [(0, None), (0, 10), (5, None)])
async def test_open_range_of_a_missing_blob_is_blob_unknown_before_any_byte(
    blob_store: BlobStore, start: int, end: int | None
) -> None:
    # Raised by the call itself, not the first iteration: the handler still answers 404.
    with pytest.raises(BlobUnknown):
        await blob_store.open_range(digest_of(b"missing"), start, end)


# --- delete, iterate, age -----------------------------------------------------------------


async def test_delete_removes_a_blob_once(blob_store: BlobStore) -> None:
    info = await blob_store.ingest(stream(b"doomed"))
    kept = await blob_store.ingest(stream(b"kept"))

    assert await blob_store.delete(info.digest) is True
    assert await blob_store.delete(info.digest) is False
    assert await blob_store.delete(digest_of(b"never stored")) is False
    assert await blob_store.stat(info.digest) is None
    with pytest.raises(BlobUnknown):
        await blob_store.open_range(info.digest)
    assert await stored(blob_store) == {kept.digest}


async def test_iter_digests_lists_exactly_what_is_stored(blob_store: BlobStore) -> None:
    assert await stored(blob_store) == set()
    one = await blob_store.ingest(stream(b"one"))
    two = await blob_store.ingest(stream(b"two"), algorithm="sha512")
    three = await blob_store.ingest(stream(b"three"))
    await blob_store.put_many([(digest_of(b"four"), b"four")])
    await blob_store.delete(three.digest)

    listed = [digest async for digest in blob_store.iter_digests()]
    assert sorted(listed, key=str) == sorted(
        [one.digest, two.digest, digest_of(b"four")], key=str
    )


async def test_file_age_reports_when_a_blob_was_written_and_its_size(
    blob_store: BlobStore,
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    info = await blob_store.ingest(stream(b"aging"))

    age = await blob_store.file_age(info.digest)
    assert age is not None
    written, size = age
    assert before <= written <= datetime.now(UTC) + timedelta(seconds=2)
    assert size == 5
    await blob_store.delete(info.digest)
    assert await blob_store.file_age(info.digest) is None


# --- batches ------------------------------------------------------------------------------


def small_blobs(count: int, algorithm: str = "sha256") -> list[tuple[Digest, bytes]]:
    contents = [f'{{"config": {n}}}'.encode() for n in range(count)]
    return [(digest_of(data, algorithm), data) for data in contents]


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_put_many_stores_each_blob_once_and_counts_the_new_ones(
    blob_store: BlobStore, algorithm: str
) -> None:
    batch = small_blobs(300, algorithm)

    assert await blob_store.put_many(batch) == 300
    assert await blob_store.put_many(batch) == 0
    assert await blob_store.put_many([*batch[:5], *small_blobs(310, algorithm)[300:]]) == 10

    for digest, data in small_blobs(310, algorithm):
        assert await blob_store.stat(digest) == BlobInfo(digest, len(data))
    assert await read_all(blob_store, batch[7][0]) == batch[7][1]
    assert len(await stored(blob_store)) == 310


async def test_put_many_with_a_blob_that_is_not_its_digest_stores_nothing(
    blob_store: BlobStore,
) -> None:
    batch = small_blobs(3)
    batch[1] = (batch[1][0], b"something else")
    with pytest.raises(DigestInvalid):
        await blob_store.put_many(batch)
    assert await stored(blob_store) == set()


# --- upload sessions ----------------------------------------------------------------------


async def test_a_finished_upload_session_is_committed_as_a_blob(blob_store: BlobStore) -> None:
    sessions = blob_store.upload_sessions()
    content = random.Random(3).randbytes(2 * MiB + 5)
    await sessions.create(SID)
    assert await sessions.append(SID, stream(content[:MiB]), 0) == MiB
    assert await sessions.append(SID, stream(content[MiB:]), MiB) == len(content)

    info = await sessions.finish(SID, digest_of(content))

    assert info == BlobInfo(digest_of(content), len(content))
    assert await blob_store.stat(info.digest) == info
    assert await read_all(blob_store, info.digest) == content
    assert not await sessions.exists(SID)


async def test_an_upload_session_of_a_stored_blob_keeps_one_copy(blob_store: BlobStore) -> None:
    first = await blob_store.ingest(stream(b"shared layer"))
    sessions = blob_store.upload_sessions()
    await sessions.create(SID)
    await sessions.append(SID, stream(b"shared layer"))

    assert await sessions.finish(SID, first.digest) == first
    assert await stored(blob_store) == {first.digest}
    assert await read_all(blob_store, first.digest) == b"shared layer"


async def test_an_upload_session_with_the_wrong_digest_stores_nothing(
    blob_store: BlobStore,
) -> None:
    sessions = blob_store.upload_sessions()
    await sessions.create(SID)
    await sessions.append(SID, stream(b"pushed"))
    with pytest.raises(DigestInvalid):
        await sessions.finish(SID, digest_of(b"announced"))
    assert await stored(blob_store) == set()
    assert not await sessions.exists(SID)


# --- commit callbacks and the caller's lock -------------------------------------------------


async def push(
    store: BlobStore, route: str, content: bytes, commit: Commit = place_only
) -> BlobInfo:
    """Push ``content`` in one request or through an upload session."""
    if route == "ingest":
        return await store.ingest(stream(content), digest_of(content), commit=commit)
    sessions = store.upload_sessions()
    await sessions.create(SID)
    await sessions.append(SID, stream(content))
    return await sessions.finish(SID, digest_of(content), commit=commit)


@pytest.mark.parametrize("route", ["ingest", "upload session"])
async def test_a_commit_that_raises_leaves_no_visible_blob(
    blob_store: BlobStore, route: str
) -> None:
    async def refuse(pending: PendingBlob) -> BlobInfo:
        raise CommitRefused

    with pytest.raises(CommitRefused):
        await push(blob_store, route, b"orphan", refuse)

    assert await blob_store.stat(digest_of(b"orphan")) is None
    assert await stored(blob_store) == set()
    # The refusal broke nothing: the same bytes can be pushed again.
    assert await blob_store.ingest(stream(b"orphan")) == BlobInfo(digest_of(b"orphan"), 6)


@pytest.mark.parametrize("route", ["ingest", "upload session"])
async def test_a_pending_blob_is_invisible_until_placed(blob_store: BlobStore, route: str) -> None:
    seen: list[BlobInfo | None] = []

    async def commit(pending: PendingBlob) -> BlobInfo:
        seen.append(await blob_store.stat(pending.digest))
        info = await pending.place()
        seen.append(await blob_store.stat(pending.digest))
        return info

    info = await push(blob_store, route, b"verified", commit)
    assert seen == [None, info]


@pytest.mark.parametrize("route", ["ingest", "upload session"])
async def test_place_under_the_callers_lock_restores_a_blob_deleted_meanwhile(
    blob_store: BlobStore, route: str
) -> None:
    """The race between a push and garbage collection, both under one lock (the catalog's
    write lock in the registry): the blob is stored when the push verifies its copy, GC then
    deletes it, and the push places afterwards. ``place`` must look at the store when it
    runs, not when the bytes were verified, or the push would record a blob that is gone."""
    existing = await blob_store.ingest(stream(b"shared"))
    lock = asyncio.Lock()
    verified = asyncio.Event()

    async def collect_garbage() -> None:
        async with lock:
            await verified.wait()
            assert await blob_store.delete(existing.digest)

    async def commit(pending: PendingBlob) -> BlobInfo:
        verified.set()
        async with lock:
            return await pending.place()

    gc = asyncio.create_task(collect_garbage())
    await asyncio.sleep(0)  # GC takes the lock first
    info = await push(blob_store, route, b"shared", commit)
    verified.set()  # if the store never called commit, GC still runs (and the test fails)
    await gc

    assert info == existing
    assert await blob_store.stat(existing.digest) == existing
    assert await read_all(blob_store, existing.digest) == b"shared"


# --- concurrency and size -----------------------------------------------------------------


async def test_concurrent_ingests_of_the_same_content_store_one_blob(
    blob_store: BlobStore,
) -> None:
    content = random.Random(5).randbytes(MiB + 3)
    pieces = [content[i : i + 64 * 1024] for i in range(0, len(content), 64 * 1024)]

    results = await asyncio.gather(
        *(blob_store.ingest(slow_stream(pieces), digest_of(content)) for _ in range(8))
    )

    assert set(results) == {BlobInfo(digest_of(content), len(content))}
    assert await stored(blob_store) == {digest_of(content)}
    assert await read_all(blob_store, digest_of(content)) == content


async def test_a_64_mib_blob_streams_in_and_out_without_being_held_in_memory(
    blob_store: BlobStore,
) -> None:
    size_bytes = 64 * MiB
    rng = random.Random(7)
    written = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        # A fresh object per chunk: a store that kept references would hold all 64 MiB.
        for _ in range(size_bytes // MiB):
            chunk = rng.randbytes(MiB)
            written.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        info = await blob_store.ingest(body())
        _, ingest_peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read = hashlib.sha256()
        read_bytes = 0
        async for chunk in await blob_store.open_range(info.digest):
            read.update(chunk)
            read_bytes += len(chunk)
        _, read_peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert info == BlobInfo(Digest("sha256", written.hexdigest()), size_bytes)
    assert (read.hexdigest(), read_bytes) == (written.hexdigest(), size_bytes)
    # Both far below the blob: a few chunks in flight at most.
    assert ingest_peak_bytes < size_bytes // 8, f"ingest peak {ingest_peak_bytes / MiB:.1f} MiB"
    assert read_peak_bytes < size_bytes // 8, f"read peak {read_peak_bytes / MiB:.1f} MiB"


# --- start-up ------------------------------------------------------------------------------


async def test_purge_temp_keeps_blobs_and_writes_in_progress(blob_store: BlobStore) -> None:
    kept = await blob_store.ingest(stream(b"kept"))
    release = asyncio.Event()

    async def held() -> AsyncIterator[bytes]:
        yield b"first "
        await release.wait()
        yield b"second"

    writing = asyncio.create_task(blob_store.ingest(held()))
    await asyncio.sleep(0.05)
    await blob_store.purge_temp()
    release.set()

    assert (await writing).digest == digest_of(b"first second")
    assert await stored(blob_store) == {kept.digest, digest_of(b"first second")}
    assert await read_all(blob_store, kept.digest) == b"kept"
