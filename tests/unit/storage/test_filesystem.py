"""FilesystemBlobStore (registry_service/storage/filesystem.py): what only the filesystem backend
promises — its file layout, temp files, inodes, fan-out directories. What every store must do is
in test_contract.py."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import random
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_service.digests import Digest, digest_of
from registry_service.errors import DigestInvalid
from registry_service.storage import layout
from registry_service.storage.base import BlobInfo, BlobStore, PendingBlob
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.unit.storage.streams import Broken, broken_stream, slow_stream, stream

MiB = 1 << 20


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def test_filesystem_store_satisfies_the_blob_store_protocol(data_dir: Path) -> None:
    store: BlobStore = FilesystemBlobStore(data_dir)
    assert store.path_of(digest_of(b"")) == layout.blob_path(data_dir, digest_of(b""))


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_ingest_renames_the_blob_to_its_layout_path(
    store: FilesystemBlobStore, data_dir: Path, algorithm: str
) -> None:
    content = b"layer bytes " * 1000
    info = await store.ingest(stream(content[:5], content[5:]), algorithm=algorithm)

    expected = Digest(algorithm, hashlib.new(algorithm, content).hexdigest())
    path = data_dir / "blobs" / algorithm / expected.hex[:2] / expected.hex
    assert info == BlobInfo(expected, len(content))
    assert path.read_bytes() == content
    assert files_under(data_dir / "tmp") == []


async def test_a_refused_commit_leaves_no_temp_file(
    store: FilesystemBlobStore, data_dir: Path
) -> None:
    async def refuse(pending: PendingBlob) -> BlobInfo:
        raise Broken

    with pytest.raises(Broken):
        await store.ingest(stream(b"orphan"), commit=refuse)
    assert files_under(data_dir) == []


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


# --- ranges -------------------------------------------------------------------------------


async def test_open_range_crosses_batch_boundaries(store: FilesystemBlobStore) -> None:
    content = random.Random(1).randbytes(3 * MiB + 17)
    info = await store.ingest(stream(content))
    chunks = [c async for c in await store.open_range(info.digest, 5, 3 * MiB + 9)]
    assert b"".join(chunks) == content[5 : 3 * MiB + 10]
    assert max(len(c) for c in chunks) <= MiB


# --- delete, iterate, purge ----------------------------------------------------------------


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


async def test_purge_temp_of_another_process_spares_an_ingest_in_progress(
    store: FilesystemBlobStore, data_dir: Path
) -> None:
    """Another store on the same directory stands for another process (a restarted --workers
    child, another replica): it knows nothing of this one's ingests but their locks."""
    release = asyncio.Event()

    async def held() -> AsyncIterator[bytes]:
        yield b"first "
        await release.wait()
        yield b"second"

    task = asyncio.create_task(store.ingest(held()))
    while not files_under(data_dir / "tmp"):
        await asyncio.sleep(0.001)
    (data_dir / "tmp" / "crashed.part").write_bytes(b"half a layer")
    other = FilesystemBlobStore(data_dir)
    try:
        assert await other.purge_temp() == [data_dir / "tmp" / "crashed.part"]
    finally:
        await other.aclose()
    release.set()
    assert (await task).digest == digest_of(b"first second")
    assert files_under(data_dir / "tmp") == []


# --- properties -----------------------------------------------------------------------


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
