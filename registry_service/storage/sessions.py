"""Upload sessions: the on-disk state of OCI chunked uploads (POST, PATCH…, PUT, GET, DELETE).

The only code that writes under ``uploads/`` (tree in ``layout.py``). A session's ``data`` file
holds the bytes received so far, and its size *is* the upload offset: the file, not memory, is
the truth, so any process serving the data directory (``serve --workers``, or several ``serve``
processes) may continue any session. Appends and the close are serialized by an ``asyncio.Lock``
within a process and by ``flock`` on the session's ``lock`` file across processes
(``file_locks.py``), held until every write of the holder has stopped. Each process keeps a live
hasher per session, fed while chunks stream in, so closing a 5 GiB upload does not read 5 GiB
back; that hasher is only a cache, used when it has seen exactly the file's current size (the
file only ever grows, so an equal size means no other process appended since) and otherwise
rebuilt from disk (see ``_hasher_at``). No HTTP and no catalog here: the service keeps the
catalog's ``uploads`` row in step.
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import shutil
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry_service.digests import (
    DEFAULT_ALGORITHM,
    Digest,
    Hasher,
    digest_from_hasher,
    new_hasher,
)
from registry_service.errors import (
    BlobUploadUnknown,
    DigestInvalid,
    InsufficientStorage,
    UploadOutOfOrder,
)
from registry_service.storage import file_locks, layout
from registry_service.storage.base import BlobInfo, Commit, place_only
from registry_service.storage.fileio import (
    StreamAppender,
    create_empty,
    ensure_dir,
    fsync_dir,
    fsync_file,
    hash_file,
    settle,
)
from registry_service.storage.space import SpaceFloor

if TYPE_CHECKING:
    # Only a type here: the store creates its sessions (``upload_sessions``), so the runtime
    # import goes the other way.
    from registry_service.storage.filesystem import FilesystemBlobStore


def range_header(size_bytes: int) -> str:
    """The ``Range`` value describing an upload of ``size_bytes`` (inclusive end).

    An empty upload reads ``0-0``, as the CNCF distribution registry answers.
    """
    return f"0-{max(size_bytes - 1, 0)}"


@dataclass(eq=False)
class _Live:
    """What this process remembers about one session between requests."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    algorithm: str | None = None
    hasher: Hasher | None = None
    # How many bytes of the file ``hasher`` has seen.
    offset_bytes: int = 0
    # Jobs that a cancelled or failed append left running.
    abandoned: list[Future[Any]] = field(default_factory=list)
    # The session directory is gone; forget this record once unlocked.
    gone: bool = False


class UploadSessions:
    """Chunked upload sessions stored beside the blobs of ``store`` (same filesystem)."""

    def __init__(self, store: FilesystemBlobStore) -> None:
        self._store = store
        self._root = store.root
        self._io = store.io
        self._space = store.space
        self._live: dict[str, _Live] = {}

    async def create(self, session_id: str, algorithm: str = DEFAULT_ALGORITHM) -> None:
        """Start an empty session; DigestInvalid for an unsupported algorithm."""
        hasher = new_hasher(algorithm)
        layout.session_dir(self._root, session_id)
        # One hop off the loop for both: under a pull storm each hop waits behind ready reads.
        await self._io.run(
            _check_and_create_session, self._space, self._root, session_id, algorithm
        )
        self._live[session_id] = _Live(algorithm=algorithm, hasher=hasher)

    async def exists(self, session_id: str) -> bool:
        """Whether the session exists (has its data file); False for a malformed id."""
        if not layout.is_session_id(session_id):
            return False
        data = layout.session_data_path(self._root, session_id)
        return await self._io.run(data.is_file)

    async def size(self, session_id: str) -> int:
        """Bytes received so far (the offset the next chunk must start at).

        Does not wait for an append in progress (a status request reports its progress), but
        does wait for a write that an aborted append left running, so the answer is stable.
        """
        data = layout.session_data_path(self._root, session_id)
        live = self._live.get(session_id)
        if live is not None and live.abandoned:
            await settle(live.abandoned)
        try:
            return (await self._io.run(os.stat, data)).st_size
        except FileNotFoundError:
            raise BlobUploadUnknown(detail={"session": session_id}) from None

    async def append(
        self, session_id: str, chunks: AsyncIterable[bytes], start_offset: int | None = None
    ) -> int:
        """Append a chunk (streamed) and return the new size.

        ``start_offset`` is where the client says the chunk starts (``Content-Range``); if it
        is not the current size, UploadOutOfOrder (416, with the current ``Range``) is raised
        and nothing is written. None appends at the end (a streamed PATCH).
        """
        async with self._locked(session_id) as live:
            return await self._append(session_id, live, chunks, start_offset)

    async def finish(
        self,
        session_id: str,
        expected: Digest,
        final_chunks: AsyncIterable[bytes] | None = None,
        *,
        start_offset: int | None = None,
        commit: Commit = place_only,
    ) -> BlobInfo:
        """Append the closing PUT's chunk (if any), verify ``expected``, and hand the bytes to
        ``commit``, which places them in the blob store; the session is then gone. The session
        stays locked meanwhile, so no late chunk can change what is being placed.

        On a digest mismatch the session is removed too (as the distribution registry cancels
        it) and DigestInvalid is raised: no file is left anywhere.
        """
        async with self._locked(session_id) as live:
            if final_chunks is not None:
                await self._append(session_id, live, final_chunks, start_offset)
            computed = await self._digest(session_id, live, expected.algorithm)
            if computed != expected:
                await self._remove(session_id, live)
                raise DigestInvalid(
                    f"digest {expected} does not match the uploaded content ({computed})",
                    detail={"expected": str(expected), "computed": str(computed)},
                )
            try:
                info = await self._store.commit_upload(session_id, expected, commit)
            except InsufficientStorage:
                # The catalog had no room for the blob's rows: drop the session as a failed
                # append does (any bytes already renamed in are garbage collection's).
                await self._remove(session_id, live)
                raise
            await self._remove(session_id, live)
            return info

    async def cancel(self, session_id: str) -> None:
        """Drop the session and its bytes; BlobUploadUnknown if there is none."""
        layout.session_dir(self._root, session_id)  # a malformed id is BlobUploadUnknown
        live = self._live.setdefault(session_id, _Live())
        if not live.lock.locked() and not live.abandoned:
            # The usual case, in one hop off the loop: lock, remove, unlock. Only if another
            # process holds the session does it wait as every other write does.
            async with live.lock:
                outcome = await self._io.run(_remove_if_unlocked, self._root, session_id)
            if outcome is not _Removal.BUSY:
                live.gone = True
                live.hasher = None
                if self._live.get(session_id) is live:
                    del self._live[session_id]
                if outcome is _Removal.ABSENT:
                    raise BlobUploadUnknown(detail={"session": session_id})
                return
        async with self._locked(session_id) as live:
            if not await self._remove(session_id, live):
                raise BlobUploadUnknown(detail={"session": session_id})

    async def purge_older_than(self, age_s: float, now: datetime) -> list[str]:
        """Remove sessions untouched (by file mtime) for more than ``age_s`` seconds before
        ``now`` (wall-clock, compared with file times); return their ids, sorted."""
        cutoff_s = now.timestamp() - age_s
        removed: list[str] = []
        for session_id in await self._io.run(_idle_session_ids, self._root, cutoff_s):
            live = self._live.get(session_id)
            if live is not None and live.lock.locked():
                continue  # being written right now
            lock = layout.session_lock_path(self._root, session_id)
            try:
                fd = await self._io.run(file_locks.try_lock, lock)
            except FileNotFoundError:
                continue  # closed or removed meanwhile
            if fd is None:
                continue  # being written right now, by another process
            try:
                # Re-checked under the lock: an append may have touched it since the scan.
                directory = layout.session_dir(self._root, session_id)
                if await self._io.run(_remove_if_idle, directory, cutoff_s):
                    if live is not None:
                        live.gone = True
                        live.hasher = None
                    self._live.pop(session_id, None)
                    removed.append(session_id)
            finally:
                file_locks.unlock(fd)
        return sorted(removed)

    # --- under the session lock -------------------------------------------------------------

    @asynccontextmanager
    async def _locked(self, session_id: str) -> AsyncIterator[_Live]:
        layout.session_dir(self._root, session_id)  # a malformed id is BlobUploadUnknown
        live = self._live.setdefault(session_id, _Live())
        try:
            async with live.lock:
                if live.abandoned:
                    # Let jobs left running by a cancelled append stop before the file is read
                    # or written again.
                    await settle(live.abandoned)
                    live.abandoned = []
                fd = await self._lock_across_processes(session_id, live)
                try:
                    yield live
                finally:
                    file_locks.unlock_when_stopped(fd, live.abandoned)
        finally:
            if live.gone and self._live.get(session_id) is live:
                del self._live[session_id]

    async def _lock_across_processes(self, session_id: str, live: _Live) -> int:
        """Wait (polling, off the loop) for the session's ``flock``; BlobUploadUnknown if the
        session directory is gone."""
        lock = layout.session_lock_path(self._root, session_id)

        async def attempt() -> int | None:
            return await self._io.run(file_locks.try_lock, lock)

        try:
            return await file_locks.acquire_polling(attempt)
        except FileNotFoundError:
            live.gone = True
            raise BlobUploadUnknown(detail={"session": session_id}) from None

    async def _append(
        self,
        session_id: str,
        live: _Live,
        chunks: AsyncIterable[bytes],
        start_offset: int | None,
    ) -> int:
        size = await self._size(session_id, live)
        if start_offset is not None and start_offset != size:
            # Refused before any re-hash or write: the chunk is not read at all.
            raise UploadOutOfOrder(
                f"chunk starts at byte {start_offset} but the upload holds {size} bytes",
                headers={"Range": range_header(size)},
                detail={"offset": size},
            )
        hasher = await self._hasher_at(session_id, live, size)
        data = layout.session_data_path(self._root, session_id)
        appender = StreamAppender(self._io, data, hasher, self._space.check)
        try:
            await self._io.run(self._space.check)  # refused before a byte is written
            written = await appender.append(chunks)
            # Durable before the client hears 202: the offset it is told survives a crash.
            # The session's own files and folder were not synced when it was made; its first
            # bytes make them durable too (the file only grows: size 0 means first).
            await self._io.run(_sync_appended, self._root, session_id, size == 0)
        except BaseException as exc:
            # The file may hold part of this chunk and the hasher may not match it: forget the
            # hash state, so the next operation re-reads the file once the write has stopped.
            live.hasher = None
            live.abandoned = appender.running
            if isinstance(exc, InsufficientStorage):
                await self._drop_for_space(session_id, live)
            raise
        live.offset_bytes = size + written
        return live.offset_bytes

    async def _size(self, session_id: str, live: _Live) -> int:
        data = layout.session_data_path(self._root, session_id)
        try:
            return (await self._io.run(os.stat, data)).st_size
        except FileNotFoundError:
            live.gone = True
            raise BlobUploadUnknown(detail={"session": session_id}) from None

    async def _hasher_at(self, session_id: str, live: _Live, size: int) -> Hasher:
        """The live hasher, brought in step with the ``size`` bytes of the data file first.

        Called under both locks. The file only grows (appends, never truncation, and session ids
        are never reused), so a hasher that has seen ``size`` bytes has seen these very bytes:
        any append by another process since this one's last write would have made it larger.
        """
        if live.hasher is not None and live.offset_bytes == size:
            return live.hasher
        # Hash while streaming; re-read only when the hash state is lost. The live hasher is
        # missing after a process restart or an aborted append, and its offset disagrees with
        # the file if anything else changed the file. Correctness never depends on it: the
        # file is the truth, so hash the file from disk.
        if live.algorithm is None:
            state = layout.session_state_path(self._root, session_id)
            live.algorithm = await self._io.run(_read_algorithm, state)
        data = layout.session_data_path(self._root, session_id)
        hasher, live.offset_bytes = await self._io.run(hash_file, data, live.algorithm)
        live.hasher = hasher
        return hasher

    async def _digest(self, session_id: str, live: _Live, algorithm: str) -> Digest:
        hasher = await self._hasher_at(session_id, live, await self._size(session_id, live))
        if hasher.name == algorithm:
            return digest_from_hasher(hasher)
        # Closed with another algorithm than the session was started with: that hash was never
        # kept, so it can only come from disk.
        data = layout.session_data_path(self._root, session_id)
        other, _ = await self._io.run(hash_file, data, algorithm)
        return digest_from_hasher(other)

    async def _drop_for_space(self, session_id: str, live: _Live) -> None:
        """Remove a session whose write failed for lack of space, bytes and all.

        Dropped rather than kept resumable at its last durable offset: on a full disk the
        bytes it holds are what other writes (the catalog's above all) need now, and a
        client that was refused a chunk restarts the blob anyway. Later requests for it
        answer BLOB_UPLOAD_UNKNOWN.
        """
        await settle(live.abandoned)
        live.abandoned = []
        await self._remove(session_id, live)

    async def _remove(self, session_id: str, live: _Live) -> bool:
        live.gone = True
        live.hasher = None
        directory = layout.session_dir(self._root, session_id)
        return await self._io.run(_remove_dir, directory)


# --- blocking parts (run on IOThreads) -----------------------------------------------------


class _Removal(enum.Enum):
    REMOVED = "removed"
    ABSENT = "absent"  # no such session (or already gone)
    BUSY = "busy"  # another process holds its lock


def _check_and_create_session(
    space: SpaceFloor, root: Path, session_id: str, algorithm: str
) -> None:
    space.check()
    _create_session(root, session_id, algorithm)


def _remove_if_unlocked(root: Path, session_id: str) -> _Removal:
    """``cancel`` without waiting: take the session's ``flock`` once and remove the session
    under it; BUSY if another process holds the lock."""
    try:
        fd = file_locks.try_lock(layout.session_lock_path(root, session_id))
    except FileNotFoundError:
        return _Removal.ABSENT
    if fd is None:
        return _Removal.BUSY
    try:
        removed = _remove_dir(layout.session_dir(root, session_id))
    finally:
        file_locks.unlock(fd)
    return _Removal.REMOVED if removed else _Removal.ABSENT


def _create_session(root: Path, session_id: str, algorithm: str) -> None:
    # ``data`` is created last: a session exists once it has one, so a crash in between leaves
    # a directory that ``exists`` denies and ``purge_older_than`` removes.
    #
    # Nothing is fsynced here: an empty session holds nothing a client was told is stored,
    # and one lost to a power cut is answered BLOB_UPLOAD_UNKNOWN, on which clients start
    # the upload again. Its first acknowledged chunk makes it durable (``_sync_appended``),
    # and a blob is made durable on its own when it is placed. Three fsyncs per POST were
    # most of a POST's cost, and under a pull storm they were CPU the reads needed.
    ensure_dir(layout.uploads_dir(root))
    directory = layout.session_dir(root, session_id)
    directory.mkdir()
    try:
        state = layout.session_state_path(root, session_id)
        state.write_text(json.dumps({"algorithm": algorithm}), encoding="utf-8")
        # Made now, not at first lock: creating it later would change the directory's mtime,
        # which is what ``purge_older_than`` reads to judge a session idle.
        create_empty(layout.session_lock_path(root, session_id))
        create_empty(layout.session_data_path(root, session_id))
    except BaseException:
        # A half-made session (a full disk leaves an empty session.json) is nobody's: the
        # caller hears the error and never learns the id.
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _sync_appended(root: Path, session_id: str, first: bool) -> None:
    """Make an append durable: the data file, and with the first bytes also the session's
    state file and the folders that name it, which ``_create_session`` left unsynced."""
    fsync_file(layout.session_data_path(root, session_id))
    if first:
        directory = layout.session_dir(root, session_id)
        fsync_file(layout.session_state_path(root, session_id))
        fsync_dir(directory)
        fsync_dir(directory.parent)


def _read_algorithm(state: Path) -> str:
    try:
        algorithm = json.loads(state.read_text(encoding="utf-8"))["algorithm"]
    except (OSError, ValueError, KeyError, TypeError):
        # A session whose state is unreadable cannot be verified; treat it as unknown.
        raise BlobUploadUnknown(detail={"session": state.parent.name}) from None
    new_hasher(algorithm)  # DigestInvalid if the file names something unsupported
    return str(algorithm)


def _remove_dir(directory: Path) -> bool:
    try:
        shutil.rmtree(directory)
    except FileNotFoundError:
        return False
    return True


def _last_touched_s(directory: Path) -> float | None:
    """Latest mtime of the session directory and its files; None if it is gone."""
    times: list[float] = []
    for path in (directory, directory / layout.SESSION_STATE, directory / layout.SESSION_DATA):
        try:
            times.append(os.stat(path).st_mtime)
        except FileNotFoundError:
            continue
    return max(times) if times else None


def _idle_session_ids(root: Path, cutoff_s: float) -> list[str]:
    try:
        names = os.listdir(layout.uploads_dir(root))
    except FileNotFoundError:
        return []
    idle: list[str] = []
    for name in names:
        if not layout.is_session_id(name):
            continue  # not ours; never delete what we cannot name
        touched = _last_touched_s(layout.session_dir(root, name))
        if touched is not None and touched < cutoff_s:
            idle.append(name)
    return idle


def _remove_if_idle(directory: Path, cutoff_s: float) -> bool:
    touched = _last_touched_s(directory)
    if touched is None or touched >= cutoff_s:
        return False
    return _remove_dir(directory)
