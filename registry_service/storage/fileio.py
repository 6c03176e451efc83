"""Moving bytes between the event loop and files: the worker threads and the blocking primitives.

Every blocking file call of the storage layer runs on an ``IOThreads`` worker, never on the event
loop. Work is batched so the number of thread hops grows with megabytes, not with network reads:
``StreamAppender`` coalesces incoming chunks into ~1 MiB batches and writes and hashes each batch
in worker jobs, with one batch in flight while the next is gathered. Nothing here holds a whole blob
in memory, and nothing here knows about digests' meaning, sessions or HTTP.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import os
from collections.abc import AsyncIterable, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from registry_service.digests import Hasher, new_hasher
from registry_service.storage.space import translating_no_space

# Largest batch written or read per worker job; also the read size of ranges and re-hashes.
BATCH_BYTES = 1 << 20
DEFAULT_IO_THREADS = 8

T = TypeVar("T")


class IOThreads:
    """A small thread pool owned by the store, for blocking file calls.

    Its own pool (rather than ``asyncio.to_thread``) because callers need the
    ``concurrent.futures.Future`` of a job: a job keeps running after the task awaiting it is
    cancelled, and an upload session must not start its next write until that job has stopped.
    """

    def __init__(self, threads: int = DEFAULT_IO_THREADS) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="blob-io")

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Start ``fn(*args)`` on a worker; the caller awaits (or abandons) the returned job.

        Every blocking file call passes here, so this is where a full disk (ENOSPC, EDQUOT)
        becomes ``InsufficientStorage``, once for the whole storage layer.
        """
        return self._executor.submit(translating_no_space(fn), *args)

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """Run ``fn(*args)`` on a worker and return its result."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    async def aclose(self) -> None:
        """Let running jobs finish, then stop the threads."""
        await asyncio.to_thread(self._executor.shutdown, wait=True)


async def settle(jobs: Iterable[Future[Any]]) -> None:
    """Wait until every job in ``jobs`` has stopped running, whatever its outcome (ignored).

    For jobs abandoned by a cancelled or failed task: awaiting ``wrap_future`` would re-raise
    a job's error (or a cancellation) in the wrong task.
    """
    loop = asyncio.get_running_loop()
    for job in jobs:
        if job.done():
            continue
        stopped: asyncio.Future[None] = loop.create_future()

        def wake(_: Future[Any], stopped: asyncio.Future[None] = stopped) -> None:
            loop.call_soon_threadsafe(_resolve, stopped)

        job.add_done_callback(wake)
        await stopped


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class StreamAppender:
    """Appends an async stream of chunks to an existing file while feeding the same bytes to a
    hasher — the hash is computed while streaming, never by reading the file back.

    Chunks are coalesced into batches of about BATCH_BYTES. Each batch is written by one job and
    hashed by another, side by side (both release the GIL), while the loop gathers the next
    batch; so throughput approaches the slower of disk and hash, not their sum, and at most two
    batches are held in memory. Each write opens the file with ``O_APPEND`` and without
    ``O_CREAT``, so a job left running after its task was cancelled can neither touch a recycled
    descriptor nor resurrect a file removed meanwhile. If ``append`` raises, ``running`` lists
    the jobs that may still be running (see ``settle``), and the file and the hasher may each
    hold part of the stream — not necessarily the same part.
    """

    def __init__(
        self,
        io: IOThreads,
        path: Path,
        hasher: Hasher,
        room: Callable[[int], None] | None = None,
    ) -> None:
        self._io = io
        self._path = path
        self._hasher = hasher
        # Called with a batch's size before it is written; raises to refuse it (the floor of
        # free space), so a long stream stops there rather than filling the disk.
        self._room = room
        self.running: list[Future[Any]] = []
        self._running_bytes = 0
        self.written_bytes = 0

    async def append(self, chunks: AsyncIterable[bytes]) -> int:
        """Consume ``chunks`` to the end; return the number of bytes appended."""
        parts: list[bytes] = []
        buffered = 0
        async for chunk in chunks:
            if not chunk:
                continue
            parts.append(chunk)
            buffered += len(chunk)
            if buffered >= BATCH_BYTES:
                batch = parts[0] if len(parts) == 1 else b"".join(parts)
                parts, buffered = [], 0
                await self._submit(batch)
        if parts:
            await self._submit(parts[0] if len(parts) == 1 else b"".join(parts))
        await self._drain()
        return self.written_bytes

    async def _submit(self, batch: bytes) -> None:
        await self._drain()
        self.running = [
            self._io.submit(_append_with_room, self._room, self._path, batch),
            self._io.submit(self._hasher.update, batch),
        ]
        self._running_bytes = len(batch)

    async def _drain(self) -> None:
        for job in self.running:
            await asyncio.wrap_future(job)
        self.running = []
        self.written_bytes += self._running_bytes
        self._running_bytes = 0


# --- blocking primitives (run on IOThreads only) --------------------------------------------


def _append_with_room(room: Callable[[int], None] | None, path: Path, data: bytes) -> None:
    if room is not None:
        room(len(data))
    append_bytes(path, data)


def append_bytes(path: Path, data: bytes) -> None:
    """Append all of ``data`` to the existing file ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def create_empty(path: Path) -> None:
    """Create ``path`` as an empty file; fail if it exists."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(path: Path) -> None:
    """Make everything written to the filesystem holding ``path`` durable: data, inodes and
    directory entries (Linux ``syncfs``; ``sync`` of every filesystem where that is missing).

    One call instead of an fsync per file, for writes of thousands of small files at once.
    """
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(path))
    finally:
        os.close(fd)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError):  # no C library to load by that name (not a Unix)
        return None
    found: Callable[[int], int] | None = getattr(libc, "syncfs", None)
    return found


def ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents, fsyncing each parent that gained an entry."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    try:
        path.mkdir()
    except FileExistsError:
        return
    fsync_dir(path.parent)


def hash_file(path: Path, algorithm: str) -> tuple[Hasher, int]:
    """Hash the whole file ``path`` from disk in BATCH_BYTES reads; return hasher and size."""
    hasher = new_hasher(algorithm)
    buffer = bytearray(BATCH_BYTES)
    view = memoryview(buffer)
    size = 0
    with path.open("rb", buffering=0) as file:
        while n := file.readinto(buffer):
            # hashlib takes any buffer; the Hasher protocol merely spells it ``bytes``.
            hasher.update(cast(bytes, view[:n]))
            size += n
    return hasher, size


def read_at(fd: int, offset: int, length: int) -> bytes:
    """Read up to ``length`` bytes at ``offset`` (``pread``: no shared file position)."""
    return os.pread(fd, length, offset)
