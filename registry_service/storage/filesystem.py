"""``FilesystemBlobStore``: the ``BlobStore`` on a local directory (tree in ``layout.py``).

The only code that creates, renames or deletes files under ``blobs/``. A blob becomes visible
in one step and only when complete: bytes stream into a temp file while being hashed, the temp
file is fsynced, verified, renamed into place with ``os.replace`` (atomic on one filesystem),
and the directory is fsynced. A crash at any point leaves either no blob or the whole blob, plus
at most a temp file that ``purge_temp`` removes at startup.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

from registry_service.digests import (
    DEFAULT_ALGORITHM,
    HEX_LENGTHS,
    Digest,
    digest_from_hasher,
    digest_of,
    new_hasher,
)
from registry_service.errors import BlobUnknown, DigestInvalid, RangeNotSatisfiable
from registry_service.storage import file_locks, layout
from registry_service.storage.base import BlobInfo, Commit, PendingBlob, place_only
from registry_service.storage.fileio import (
    BATCH_BYTES,
    IOThreads,
    StreamAppender,
    ensure_dir,
    fsync_dir,
    fsync_file,
    read_at,
    sync_filesystem,
)
from registry_service.storage.reserve import Reserve
from registry_service.storage.sessions import UploadSessions
from registry_service.storage.space import SpaceFloor


class FilesystemBlobStore:
    """Content-addressed blobs under ``root`` (the service's data directory)."""

    def __init__(
        self,
        root: Path,
        *,
        io: IOThreads | None = None,
        min_free_bytes: int = 0,
        reserve: Reserve | None = None,
    ) -> None:
        self.root = root
        # Where new uploads stop (``storage.min_free_bytes``, the reserve; shared with the
        # sessions).
        self.space = SpaceFloor(root, min_free_bytes, reserve)
        # Shared with UploadSessions, which writes under the same root.
        self.io = io or IOThreads()
        # Temp files being written by this process right now; purge_temp leaves them alone.
        self._active_temps: set[Path] = set()
        # Name prefixes of the temp files of batches being written (``put_many``).
        self._active_batches: set[str] = set()

    async def aclose(self) -> None:
        """Stop the worker threads (after running jobs finish)."""
        await self.io.aclose()

    async def stat(self, digest: Digest) -> BlobInfo | None:
        """The stored blob ``digest``, or None if it is not in the store."""
        size = await self.io.run(_size_or_none, layout.blob_path(self.root, digest))
        return None if size is None else BlobInfo(digest, size)

    async def file_age(self, digest: Digest) -> tuple[datetime, int] | None:
        """(last modified, size) of the blob's file, or None if there is none (garbage
        collection's test for files no catalog row owns)."""
        try:
            st = await self.io.run(os.stat, layout.blob_path(self.root, digest))
        except FileNotFoundError:
            return None
        return datetime.fromtimestamp(st.st_mtime, UTC), st.st_size

    def path_of(self, digest: Digest) -> Path:
        """The blob's file, for ``sendfile``; does no I/O (call ``stat`` first)."""
        return layout.blob_path(self.root, digest)

    async def open_range(
        self, digest: Digest, start: int = 0, end_inclusive: int | None = None
    ) -> AsyncIterator[bytes]:
        """Validate, then iterate bytes ``start..end_inclusive`` of ``digest`` in ≤1 MiB pieces.

        A whole read (``start=0``, no end) of an empty blob yields nothing; any other range
        must start inside the blob (RFC 9110 §14.1.1), else RangeNotSatisfiable carrying
        ``Content-Range: bytes */<size>``. An end past the blob is clamped to its last byte.
        """
        info = await self.stat(digest)
        if info is None:
            raise BlobUnknown(detail={"digest": str(digest)})
        size = info.size_bytes
        whole = start == 0 and end_inclusive is None
        if not whole and (
            start < 0 or start >= size or (end_inclusive is not None and end_inclusive < start)
        ):
            raise RangeNotSatisfiable(
                f"range {start}-{'' if end_inclusive is None else end_inclusive} "
                f"not satisfiable for {size} bytes",
                headers={"Content-Range": f"bytes */{size}"},
            )
        stop = size if end_inclusive is None else min(end_inclusive + 1, size)
        return self._read(layout.blob_path(self.root, digest), start, stop)

    async def _read(self, path: Path, start: int, stop: int) -> AsyncIterator[bytes]:
        # Opened on first iteration so an iterator that is never consumed holds no descriptor.
        # A blob deleted between validation and here is reported as unknown.
        opening = self.io.submit(os.open, path, os.O_RDONLY)
        try:
            fd = await asyncio.wrap_future(opening)
        except FileNotFoundError:
            raise BlobUnknown() from None
        except asyncio.CancelledError:
            opening.add_done_callback(_close_opened)
            raise
        try:
            offset = start
            while offset < stop:
                data = await self.io.run(read_at, fd, offset, min(BATCH_BYTES, stop - offset))
                if not data:
                    return  # the file is immutable; a short file means it was truncated outside
                offset += len(data)
                yield data
        finally:
            # Closed on the loop on purpose: it must happen even while the consumer is being
            # cancelled, and a job still running pread on it can only fail harmlessly.
            os.close(fd)

    async def ingest(
        self,
        chunks: AsyncIterable[bytes],
        expected: Digest | None = None,
        algorithm: str | None = None,
        commit: Commit = place_only,
    ) -> BlobInfo:
        """Stream ``chunks`` to a temp file while hashing, verify, fsync, and hand it to
        ``commit`` to be renamed into place.

        On DigestInvalid (or any error, or cancellation) the temp file is removed: nothing is
        left in ``blobs/`` or ``tmp/``, so a write that ran out of space (InsufficientStorage,
        also raised up front below ``storage.min_free_bytes``) gives its bytes back at once.
        An already stored blob is kept and the temp discarded.
        """
        hasher = new_hasher(_algorithm_for(expected, algorithm))
        await self.io.run(self.space.check)  # refused before a byte is written
        temp = layout.new_temp_path(self.root)
        self._active_temps.add(temp)
        # Held while the temp file is written: the start-up purge of another process on this
        # data directory (a --workers child restarted, another replica) skips a locked file.
        creating = self.io.submit(_create_temp, temp)
        try:
            lock = await asyncio.wrap_future(creating)
        except asyncio.CancelledError:
            creating.add_done_callback(_close_opened)
            self._active_temps.discard(temp)
            _unlink_quietly(temp)
            raise
        except BaseException:
            self._active_temps.discard(temp)
            _unlink_quietly(temp)
            raise
        try:
            size = await StreamAppender(self.io, temp, hasher, self.space.check).append(chunks)
            computed = digest_from_hasher(hasher)
            if expected is not None and computed != expected:
                raise DigestInvalid(
                    f"digest {expected} does not match the uploaded content ({computed})",
                    detail={"expected": str(expected), "computed": str(computed)},
                )
            await self.io.run(fsync_file, temp)
            return await commit(self._pending(temp, computed, size))
        finally:
            self._active_temps.discard(temp)
            # On the loop on purpose (one metadata call): it must run even during cancellation.
            # After a successful place the temp is already gone. Unlinked before it is
            # unlocked, so no purge finds it unlocked while it is still ours.
            _unlink_quietly(temp)
            file_locks.unlock(lock)

    async def put_many(self, blobs: Sequence[tuple[Digest, bytes]]) -> int:
        """Store small blobs held in memory (seeding writes thousands); return how many were
        not in the store yet.

        Every blob is verified against its digest before anything is written (DigestInvalid).
        The durability order is ``ingest``'s, applied to the whole batch at once: all temp
        files written, one filesystem sync, all renamed into place, one more sync — two syncs
        in all instead of two fsyncs per file.
        """
        missing = await self.io.run(_missing_blobs, self.root, blobs)
        if not missing:
            return 0
        batch = layout.new_temp_batch()
        self._active_batches.add(batch)
        try:
            await self.io.run(_place_many, self.root, batch, missing)
        finally:
            self._active_batches.discard(batch)
        return len(missing)

    def upload_sessions(self) -> UploadSessions:
        """Upload sessions under the same root, whose ``data`` files ``commit_upload`` renames."""
        return UploadSessions(self)

    async def commit_upload(
        self, session_id: str, expected: Digest, commit: Commit = place_only
    ) -> BlobInfo:
        """Hand a verified upload session's ``data`` to ``commit`` as blob ``expected``."""
        source = layout.session_data_path(self.root, session_id)
        size = await self.io.run(_fsynced_size, source)
        return await commit(self._pending(source, expected, size))

    def _pending(self, source: Path, digest: Digest, size: int) -> PendingBlob:
        target = layout.blob_path(self.root, digest)
        return PendingBlob(digest, size, lambda: self.io.run(place_file, source, target))

    async def delete(self, digest: Digest) -> bool:
        """Unlink blob ``digest``; False if it was not there.

        Not followed by a directory fsync: a delete undone by a crash leaves an unreferenced
        blob, which the next garbage collection removes again.
        """
        try:
            await self.io.run(os.unlink, layout.blob_path(self.root, digest))
        except FileNotFoundError:
            return False
        return True

    async def iter_digests(self) -> AsyncIterator[Digest]:
        """Every stored blob, one fan-out directory listed per worker job."""
        for algorithm in sorted(HEX_LENGTHS):
            top = layout.algorithm_dir(self.root, algorithm)
            for fan_out in await self.io.run(_list_names, top):
                if not layout.is_fan_out(fan_out):
                    continue
                for name in await self.io.run(_list_names, top / fan_out):
                    digest = layout.digest_at(algorithm, fan_out, name)
                    if digest is not None:
                        yield digest

    async def purge_temp(self) -> list[Path]:
        """Remove leftover temp files (a crash mid-ingest); run at startup. Returns them.
        A file another live process holds locked (an ingest in progress there) is left."""
        active = frozenset(self._active_temps)
        batches = tuple(self._active_batches)
        return await self.io.run(_purge_dir_files, layout.tmp_dir(self.root), active, batches)


def _algorithm_for(expected: Digest | None, algorithm: str | None) -> str:
    if expected is None:
        return algorithm or DEFAULT_ALGORITHM
    if algorithm is not None and algorithm != expected.algorithm:
        raise DigestInvalid(f"digest {expected} does not use the requested algorithm {algorithm}")
    return expected.algorithm


# --- blocking parts (run on IOThreads) -----------------------------------------------------


def _fsynced_size(path: Path) -> int:
    fsync_file(path)
    return os.stat(path).st_size


def place_file(source: Path, target: Path) -> None:
    """Move the complete, verified and already fsynced file ``source`` to ``target``.

    Order is the durability invariant: the file was fsynced, it is renamed in, the directory
    is fsynced — so a blob that is visible after a crash is whole. If ``target`` exists it
    already holds these exact bytes (content addressing): ``source`` is discarded instead.
    """
    if target.exists():
        os.unlink(source)
        return
    ensure_dir(target.parent)
    os.replace(source, target)
    fsync_dir(target.parent)


# The batch functions work relative to directory descriptors: a path of tens of characters
# looked up from the root for each of thousands of files costs more than the write itself.


def _missing_blobs(
    root: Path, blobs: Sequence[tuple[Digest, bytes]]
) -> list[tuple[Digest, bytes]]:
    """The blobs not in the store yet; DigestInvalid if one is not what its digest says."""
    missing = []
    tops = _AlgorithmDirs(root, create=False)
    try:
        for digest, data in blobs:
            if digest_of(data, digest.algorithm) != digest:
                raise DigestInvalid(f"blob content does not match its digest {digest}")
            top = tops.fd(digest.algorithm)
            if top is None or not _exists_at(top, layout.blob_name(digest)):
                missing.append((digest, data))
    finally:
        tops.close()
    return missing


def _place_many(root: Path, batch: str, blobs: list[tuple[Digest, bytes]]) -> None:
    """Write, sync, rename, sync (see ``put_many``); temp files left by a failure are removed."""
    tmp = layout.tmp_dir(root)
    tmp.mkdir(parents=True, exist_ok=True)
    tmp_fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    tops = _AlgorithmDirs(root, create=True)
    written: list[str] = []
    try:
        for position, (_, data) in enumerate(blobs):
            name = layout.batch_temp_name(batch, position)
            written.append(name)
            _write_new(tmp_fd, name, data)
        sync_filesystem(root)
        fan_outs: set[tuple[str, str]] = set()
        for temp, (digest, _) in zip(written, blobs, strict=True):
            top = tops.fd(digest.algorithm)
            assert top is not None
            target = layout.blob_name(digest)
            fan_out = os.path.dirname(target)
            if (digest.algorithm, fan_out) not in fan_outs:
                # New directories are made durable by the sync below, like the renames.
                with contextlib.suppress(FileExistsError):
                    os.mkdir(fan_out, dir_fd=top)
                fan_outs.add((digest.algorithm, fan_out))
            os.replace(temp, target, src_dir_fd=tmp_fd, dst_dir_fd=top)
        written.clear()
        sync_filesystem(root)
    finally:
        for temp in written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=tmp_fd)
        tops.close()
        os.close(tmp_fd)


class _AlgorithmDirs:
    """Open descriptors of ``blobs/<algorithm>`` directories, made on first use if asked."""

    def __init__(self, root: Path, *, create: bool) -> None:
        self._root = root
        self._create = create
        self._fds: dict[str, int | None] = {}

    def fd(self, algorithm: str) -> int | None:
        """The directory's descriptor; None if it does not exist (and may not be made)."""
        if algorithm not in self._fds:
            path = layout.algorithm_dir(self._root, algorithm)
            if self._create:
                path.mkdir(parents=True, exist_ok=True)
            try:
                self._fds[algorithm] = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                self._fds[algorithm] = None
        return self._fds[algorithm]

    def close(self) -> None:
        for fd in self._fds.values():
            if fd is not None:
                os.close(fd)
        self._fds.clear()


def _exists_at(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


def _write_new(dir_fd: int, name: str, data: bytes) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _create_temp(path: Path) -> int:
    """The new temp file, created locked; its locked descriptor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return file_locks.create_locked(path)


def _size_or_none(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def _list_names(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


def _purge_dir_files(
    directory: Path, keep: frozenset[Path], keep_prefixes: tuple[str, ...]
) -> list[Path]:
    removed: list[Path] = []
    for name in _list_names(directory):
        path = directory / name
        if path in keep or name.startswith(keep_prefixes):
            continue
        if file_locks.is_locked(path):
            continue  # being written by another process on this data directory
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _close_opened(job: Future[int]) -> None:
    """Close the descriptor an abandoned ``os.open`` job produced, if it produced one."""
    if not job.cancelled() and job.exception() is None:
        os.close(job.result())
