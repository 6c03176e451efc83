"""Upload sessions: the on-disk state of OCI chunked uploads (POST, PATCH…, PUT, GET, DELETE).

The only code that writes under ``uploads/`` (tree in ``layout.py``). A session's ``data`` file
holds the bytes received so far, and its size *is* the upload offset: the file, not memory, is
the truth. Each session keeps a live hasher in memory, fed while chunks stream in, so closing a
5 GiB upload does not read 5 GiB back; that hasher is only a cache, rebuilt from disk when it is
lost (see ``_hasher_at``). Appends to one session are serialized by an ``asyncio.Lock``. This
assumes one process owns the data directory's sessions. No HTTP and no catalog here: the
service keeps the catalog's ``uploads`` row in step.
"""

from __future__ import annotations

import asyncio
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
from registry_service.storage import layout
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
        await self._io.run(self._space.check)
        await self._io.run(_create_session, self._root, session_id, algorithm)
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
            async with self._locked(session_id) as live:
                # Re-checked under the lock: an append may have touched it since the scan.
                directory = layout.session_dir(self._root, session_id)
                if await self._io.run(_remove_if_idle, directory, cutoff_s):
                    live.gone = True
                    removed.append(session_id)
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
                yield live
        finally:
            if live.gone and self._live.get(session_id) is live:
                del self._live[session_id]

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
            await self._io.run(fsync_file, data)
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
        """The live hasher, brought in step with the ``size`` bytes of the data file first."""
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


def _create_session(root: Path, session_id: str, algorithm: str) -> None:
    # ``data`` is created last: a session exists once it has one, so a crash in between leaves
    # a directory that ``exists`` denies and ``purge_older_than`` removes.
    ensure_dir(layout.uploads_dir(root))
    directory = layout.session_dir(root, session_id)
    directory.mkdir()
    try:
        state = layout.session_state_path(root, session_id)
        state.write_text(json.dumps({"algorithm": algorithm}), encoding="utf-8")
        fsync_file(state)
        create_empty(layout.session_data_path(root, session_id))
        fsync_dir(directory)
        fsync_dir(directory.parent)
    except BaseException:
        # A half-made session (a full disk leaves an empty session.json) is nobody's: the
        # caller hears the error and never learns the id.
        shutil.rmtree(directory, ignore_errors=True)
        raise


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
