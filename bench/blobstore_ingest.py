"""Ingest throughput of FilesystemBlobStore against hashing alone (not run by the tests).

Streams a generated blob (1 GiB by default) through ``FilesystemBlobStore.ingest`` and through
an ``UploadSessions`` append + finish, and compares both with plain ``hashlib`` over the same
chunks — the ceiling, as ``sha256sum`` of a file in page cache would be. The bytes are a few
random MiB repeated, generated before the clock starts.

    .venv/bin/python bench/blobstore_ingest.py [--gib 1] [--chunk-kib 64] [--algorithm sha256]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from registry_service.digests import Digest
from registry_service.storage.filesystem import FilesystemBlobStore
from registry_service.storage.sessions import UploadSessions

MiB = 1 << 20


def make_blocks(chunk_bytes: int) -> list[bytes]:
    rng = random.Random(0)
    return [rng.randbytes(chunk_bytes) for _ in range(max(1, 16 * MiB // chunk_bytes))]


async def body(blocks: list[bytes], count: int) -> AsyncIterator[bytes]:
    for i in range(count):
        yield blocks[i % len(blocks)]


def hash_only(blocks: list[bytes], count: int, algorithm: str) -> tuple[str, float]:
    start = time.perf_counter()
    hasher = hashlib.new(algorithm)
    for i in range(count):
        hasher.update(blocks[i % len(blocks)])
    return hasher.hexdigest(), time.perf_counter() - start


async def ingest(root: Path, blocks: list[bytes], count: int, algorithm: str) -> float:
    store = FilesystemBlobStore(root)
    try:
        start = time.perf_counter()
        await store.ingest(body(blocks, count), algorithm=algorithm)
        return time.perf_counter() - start
    finally:
        await store.aclose()


async def chunked_upload(
    root: Path, blocks: list[bytes], count: int, expected: Digest, patches: int
) -> float:
    store = FilesystemBlobStore(root)
    sessions = UploadSessions(store)
    per_patch = -(-count // patches)
    try:
        start = time.perf_counter()
        await sessions.create("bench", expected.algorithm)
        for first in range(0, count, per_patch):
            part = [blocks[i % len(blocks)] for i in range(first, min(first + per_patch, count))]
            await sessions.append("bench", _iterate(part))
        await sessions.finish("bench", expected)
        return time.perf_counter() - start
    finally:
        await store.aclose()


async def _iterate(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--chunk-kib", type=int, default=64, help="size of each incoming chunk")
    parser.add_argument("--algorithm", default="sha256", choices=["sha256", "sha512"])
    parser.add_argument("--patches", type=int, default=8, help="PATCHes in the chunked upload")
    parser.add_argument("--dir", type=Path, default=None, help="data directory (default: temp)")
    args = parser.parse_args()

    chunk_bytes = args.chunk_kib * 1024
    count = int(args.gib * 1024 * MiB) // chunk_bytes
    total_mb = count * chunk_bytes / 1e6
    blocks = make_blocks(chunk_bytes)

    hex_, hash_s = hash_only(blocks, count, args.algorithm)
    expected = Digest(args.algorithm, hex_)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        ingest_s = asyncio.run(ingest(Path(tmp) / "a", blocks, count, args.algorithm))
        chunked_s = asyncio.run(
            chunked_upload(Path(tmp) / "b", blocks, count, expected, args.patches)
        )

    print(f"{total_mb:,.0f} MB in {args.chunk_kib} KiB chunks, {args.algorithm}")
    print(f"  hashlib only          {total_mb / hash_s:8,.0f} MB/s")
    print(f"  ingest (temp+rename)  {total_mb / ingest_s:8,.0f} MB/s")
    print(f"  session {args.patches} PATCH+PUT  {total_mb / chunked_s:8,.0f} MB/s")


if __name__ == "__main__":
    main()
