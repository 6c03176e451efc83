"""FilesystemBlobStore (registry_service/storage/filesystem.py) on a temporary data directory."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import random
import tempfile
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_service.digests import Digest, digest_of
from registry_service.errors import BlobUnknown, DigestInvalid, RangeNotSatisfiable
from registry_service.storage import layout
from registry_service.storage.base import BlobInfo, BlobStore
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.unit.storage.streams import Broken, broken_stream, slow_stream, stream

MiB = 1 << 20


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def test_filesystem_store_satisfies_the_blob_store_protocol(data_dir: Path) -> None:
    store: BlobStore = FilesystemBlobStore(data_dir)
    assert store.path_of(digest_of(b"")) == layout.blob_path(data_dir, digest_of(b""))


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_ingest_stores_the_blob_under_its_digest(
    store: FilesystemBlobStore, data_dir: Path, algorithm: str
) -> None:
    content = b"layer bytes " * 1000
    info = await store.ingest(stream(content[:5], content[5:]), algorithm=algorithm)

    expected = Digest(algorithm, hashlib.new(algorithm, content).hexdigest())
    assert info == BlobInfo(expected, len(content))
    path = data_dir / "blobs" / algorithm / expected.hex[:2] / expected.hex
    assert path.read_bytes() == content
    assert await store.stat(expected) == info
    assert files_under(data_dir / "tmp") == []


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_ingest_accepts_the_matching_expected_digest(
    store: FilesystemBlobStore, algorithm: str
) -> None:
    expected = digest_of(b"abc", algorithm)
    assert await store.ingest(stream(b"a", b"bc"), expected) == BlobInfo(expected, 3)


async def test_digest_mismatch_leaves_no_file_anywhere(
    store: FilesystemBlobStore, data_dir: Path
) -> None:
    wrong = digest_of(b"something else")
    with pytest.raises(DigestInvalid) as caught:
        await store.ingest(stream(b"x" * (3 * MiB)), wrong)

    assert caught.value.detail["expected"] == str(wrong)
    assert files_under(data_dir / "blobs") == []
    assert files_under(data_dir / "tmp") == []


async def test_a_body_that_breaks_mid_stream_leaves_nothing(
    store: FilesystemBlobStore, data_dir: Path
) -> None:
    with pytest.raises(Broken):
        await store.ingest(broken_stream(b"a" * (2 * MiB), b"b" * MiB))
    assert files_under(data_dir) == []


async def test_a_cancelled_ingest_leaves_nothing(
    store: FilesystemBlobStore, data_dir: Path
) -> None:
    task = asyncio.create_task(store.ingest(slow_stream([b"z" * MiB] * 1000)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)  # let an abandoned write job stop
    assert files_under(data_dir / "blobs") == []
    assert files_under(data_dir / "tmp") == []


async def test_an_existing_blob_is_deduplicated(store: FilesystemBlobStore, data_dir: Path) -> None:
    first = await store.ingest(stream(b"same"))
    path = store.path_of(first.digest)
    inode = path.stat().st_ino

    second = await store.ingest(stream(b"sa", b"me"), first.digest)

    assert second == first
    assert path.stat().st_ino == inode  # the stored file was kept, the new temp discarded
    assert files_under(data_dir) == [path]


async def test_an_expected_digest_of_another_algorithm_is_refused(
    store: FilesystemBlobStore,
) -> None:
    with pytest.raises(DigestInvalid):
        await store.ingest(stream(b"abc"), digest_of(b"abc", "sha256"), "sha512")


async def test_stat_of_a_missing_blob_is_none(store: FilesystemBlobStore) -> None:
    assert await store.stat(digest_of(b"never stored")) is None


# --- ranges -------------------------------------------------------------------------------

CONTENT = bytes(range(256)) * 16  # 4096 bytes


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, CONTENT),
        (0, 9, CONTENT[:10]),
        (10, 19, CONTENT[10:20]),
        (4000, None, CONTENT[4000:]),
        (4095, 4095, CONTENT[-1:]),
        (4090, 10_000, CONTENT[4090:]),  # an end past the blob is clamped
    ],
)
async def test_open_range_reads_the_inclusive_range(
    store: FilesystemBlobStore, start: int, end: int | None, expected: bytes
) -> None:
    info = await store.ingest(stream(CONTENT))
    assert await collect(await store.open_range(info.digest, start, end)) == expected


async def test_open_range_crosses_batch_boundaries(store: FilesystemBlobStore) -> None:
    content = random.Random(1).randbytes(3 * MiB + 17)
    info = await store.ingest(stream(content))
    chunks = [c async for c in await store.open_range(info.digest, 5, 3 * MiB + 9)]
    assert b"".join(chunks) == content[5 : 3 * MiB + 10]
    assert max(len(c) for c in chunks) <= MiB


@pytest.mark.parametrize(("start", "end"), [(4096, None), (5000, 6000), (10, 9), (-1, None)])
async def test_open_range_outside_the_blob_is_not_satisfiable(
    store: FilesystemBlobStore, start: int, end: int | None
) -> None:
    info = await store.ingest(stream(CONTENT))
    with pytest.raises(RangeNotSatisfiable) as caught:
        await store.open_range(info.digest, start, end)
    assert caught.value.headers == {"Content-Range": "bytes */4096"}


async def test_the_empty_blob_reads_whole_but_has_no_satisfiable_range(
    store: FilesystemBlobStore,
) -> None:
    info = await store.ingest(stream())
    assert info == BlobInfo(digest_of(b""), 0)
    assert await collect(await store.open_range(info.digest)) == b""
    with pytest.raises(RangeNotSatisfiable):
        await store.open_range(info.digest, 0, 0)


async def test_open_range_of_an_unknown_blob_raises_before_reading(
    store: FilesystemBlobStore,
) -> None:
    with pytest.raises(BlobUnknown):
        await store.open_range(digest_of(b"missing"))


# --- delete, iterate, purge ----------------------------------------------------------------


async def test_delete_unlinks_once(store: FilesystemBlobStore) -> None:
    info = await store.ingest(stream(b"doomed"))
    assert await store.delete(info.digest) is True
    assert await store.stat(info.digest) is None
    assert await store.delete(info.digest) is False


async def test_iter_digests_lists_every_blob_and_skips_strays(
    store: FilesystemBlobStore, data_dir: Path
) -> None:
    stored = {
        (await store.ingest(stream(b"one"))).digest,
        (await store.ingest(stream(b"two"), algorithm="sha512")).digest,
        (await store.ingest(stream(b"three"))).digest,
    }
    (data_dir / "blobs" / "sha256" / "zz").mkdir()
    (data_dir / "blobs" / "sha256" / "ab" / "not-a-digest").parent.mkdir(exist_ok=True)
    (data_dir / "blobs" / "sha256" / "ab" / "not-a-digest").write_bytes(b"")
    (data_dir / "blobs" / "md5").mkdir()

    assert {d async for d in store.iter_digests()} == stored


async def test_iter_digests_of_an_empty_store_is_empty(store: FilesystemBlobStore) -> None:
    assert [d async for d in store.iter_digests()] == []


async def test_purge_temp_removes_what_a_crash_left(
    store: FilesystemBlobStore, data_dir: Path
) -> None:
    (data_dir / "tmp").mkdir(parents=True)
    leftovers = [data_dir / "tmp" / "a.part", data_dir / "tmp" / "b.part"]
    for path in leftovers:
        path.write_bytes(b"half a layer")
    kept = await store.ingest(stream(b"kept"))

    assert sorted(await store.purge_temp()) == leftovers
    assert files_under(data_dir / "tmp") == []
    assert await store.stat(kept.digest) == kept


async def test_purge_temp_spares_an_ingest_in_progress(
    store: FilesystemBlobStore, data_dir: Path
) -> None:
    release = asyncio.Event()

    async def held() -> AsyncIterator[bytes]:
        yield b"first "
        await release.wait()
        yield b"second"

    task = asyncio.create_task(store.ingest(held()))
    while not files_under(data_dir / "tmp"):
        await asyncio.sleep(0.001)
    assert await store.purge_temp() == []
    release.set()
    assert (await task).digest == digest_of(b"first second")


# --- memory and properties -----------------------------------------------------------------


async def test_ingesting_256_mib_keeps_python_allocations_small(
    store: FilesystemBlobStore,
) -> None:
    rng = random.Random(7)
    reference = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        for _ in range(256):
            chunk = rng.randbytes(MiB)
            reference.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        info = await store.ingest(body())
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert info == BlobInfo(Digest("sha256", reference.hexdigest()), 256 * MiB)
    assert peak_bytes < 16 * MiB, f"peak {peak_bytes / MiB:.1f} MiB"


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


# Around the 1 MiB batch size, where coalescing changes; built from a seed (Hypothesis caps
# the size of the binary values it draws itself).
big_bytes = st.builds(
    lambda size, seed: random.Random(seed).randbytes(size),
    st.integers(min_value=MiB - 100, max_value=2 * MiB + 100),
    st.integers(),
)


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=5000) | big_bytes,
    cuts=st.lists(st.integers(min_value=0), max_size=12),
    algorithm=st.sampled_from(["sha256", "sha512"]),
)
def test_any_split_into_chunks_gives_hashlib_digest(
    data: bytes, cuts: list[int], algorithm: str
) -> None:
    async def scenario(root: Path) -> BlobInfo:
        store = FilesystemBlobStore(root)
        try:
            return await store.ingest(stream(*split(data, cuts)), algorithm=algorithm)
        finally:
            await store.aclose()

    with tempfile.TemporaryDirectory() as tmp:
        info = asyncio.run(scenario(Path(tmp)))
        assert info.digest == Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
        assert info.size_bytes == len(data)
        assert layout.blob_path(Path(tmp), info.digest).read_bytes() == data
        assert os.listdir(Path(tmp) / "tmp") == []
