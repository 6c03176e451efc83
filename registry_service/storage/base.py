"""The storage interfaces services and jobs use: ``BlobStore`` and ``UploadSessionStore``.

Services, jobs and handlers name these protocols, never a backend class; the concrete store is
built only in the composition roots (``cli.py``, ``app.py``'s default, ``jobs/worker.py``'s
start-up, tests). ``BlobStore`` names every method the code calls on a store — stat, read a
range, the local file for ``sendfile``, ingest a stream, write a batch of small blobs, commit a
finished upload session, delete, iterate, the age of a stored blob (garbage collection's test
for files no row owns), purge leftovers at start-up, close — and nothing else, so that an
object-store backend is one new module plus the contract suite (``tests/unit/storage/
test_contract.py``). Implementations raise the domain errors of ``registry_service.errors``
(``BlobUnknown``, ``DigestInvalid``, ``RangeNotSatisfiable``…) and never show a blob that is
not complete and verified. No HTTP here.

**Upload sessions are a protocol of their own, handed out by the store.** A chunked upload has
state a blob does not: an offset, a running hash, a lock per session, an idle age; point 3 of
issue 13 moves that state to the catalog and cross-process locks without touching how blobs
are stored, so it is kept out of ``BlobStore`` (which stays blob-shaped: content in, content
out). But a session's bytes must become a blob without being copied or re-read — a rename on a
filesystem, a multipart-upload completion on an object store — so they live in the store's
backend, and the store is the only thing that can turn them into a blob
(``BlobStore.commit_upload``). Hence each store creates its own sessions
(``BlobStore.upload_sessions``): a store and sessions of different backends cannot be paired.
The distribution registry puts the same seam one level lower (its driver's resumable
``Writer``); ours sits at the session because the session also owns the hash state.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from registry_service.digests import DEFAULT_ALGORITHM, Digest


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A blob that is durably in the store."""

    digest: Digest
    size_bytes: int


@dataclass(frozen=True, slots=True)
class PendingBlob:
    """Verified, durable bytes that are not yet visible as blob ``digest``.

    ``place()`` makes them visible (or drops them when the store already holds that digest).
    The caller decides under which lock that happens: the registry places blobs inside a
    catalog write transaction, the same lock garbage collection holds while it unlinks, so
    "the file is there" and "its row is written" can never be split by a concurrent delete.
    """

    digest: Digest
    size_bytes: int
    _place: Callable[[], Awaitable[object]]

    async def place(self) -> BlobInfo:
        await self._place()
        return BlobInfo(self.digest, self.size_bytes)


# Receives the pending blob and must ``place()`` it (usually while writing its catalog rows).
Commit = Callable[[PendingBlob], Awaitable[BlobInfo]]


async def place_only(pending: PendingBlob) -> BlobInfo:
    return await pending.place()


class UploadSessionStore(Protocol):
    """The bytes of OCI chunked uploads, kept where their store can commit them (module doc).

    Session ids are chosen by the caller; a malformed or unknown one is BlobUploadUnknown.
    """

    async def create(self, session_id: str, algorithm: str = DEFAULT_ALGORITHM) -> None:
        """Start an empty session; DigestInvalid for an unsupported algorithm."""
        ...

    async def exists(self, session_id: str) -> bool:
        """Whether the session exists; False for a malformed id."""
        ...

    async def size(self, session_id: str) -> int:
        """Bytes received so far: the offset the next chunk must start at."""
        ...

    async def append(
        self, session_id: str, chunks: AsyncIterable[bytes], start_offset: int | None = None
    ) -> int:
        """Append streamed ``chunks`` and return the new size; UploadOutOfOrder, writing
        nothing, when ``start_offset`` is given and is not the current size."""
        ...

    async def finish(
        self,
        session_id: str,
        expected: Digest,
        final_chunks: AsyncIterable[bytes] | None = None,
        *,
        start_offset: int | None = None,
        commit: Commit = place_only,
    ) -> BlobInfo:
        """Append the last chunk, verify ``expected`` (DigestInvalid drops the session), hand
        the bytes to ``commit`` through the store's ``commit_upload``; the session is gone."""
        ...

    async def cancel(self, session_id: str) -> None:
        """Drop the session and its bytes; BlobUploadUnknown if there is none."""
        ...

    async def purge_older_than(self, age_s: float, now: datetime) -> list[str]:
        """Remove sessions idle for more than ``age_s`` before ``now``; their ids, sorted."""
        ...


class BlobStore(Protocol):
    async def stat(self, digest: Digest) -> BlobInfo | None:
        """The stored blob ``digest``, or None if it is not in the store."""
        ...

    async def file_age(self, digest: Digest) -> tuple[datetime, int] | None:
        """(last written, size) of the stored blob, or None if there is none. Garbage
        collection removes blobs no catalog row owns only once they are older than a grace
        period, so that a push between placing a blob and writing its row keeps it."""
        ...

    async def open_range(
        self, digest: Digest, start: int = 0, end_inclusive: int | None = None
    ) -> AsyncIterator[bytes]:
        """Check that ``digest`` exists and the range is satisfiable, then return an iterator
        over bytes ``start..end_inclusive`` (to the end when None; an end past the blob is
        clamped). Raises BlobUnknown or RangeNotSatisfiable before any byte is produced, so a
        handler can still answer 404/416."""
        ...

    def path_of(self, digest: Digest) -> Path:
        """A local file holding the blob, for ``sendfile`` (aiohttp ``FileResponse``). Does
        no I/O: call ``stat`` first. Every store has local files today; a backend without them
        needs the blob GET handler to stream ``open_range`` instead (not built yet)."""
        ...

    async def ingest(
        self,
        chunks: AsyncIterable[bytes],
        expected: Digest | None = None,
        algorithm: str | None = None,
        commit: Commit = place_only,
    ) -> BlobInfo:
        """Stream ``chunks`` into a new blob, hashing while writing, never holding the blob in
        memory. With ``expected``, a different content digest raises DigestInvalid and nothing
        is stored. ``algorithm`` defaults to ``expected``'s, else sha256. An existing blob is
        deduplicated. The verified bytes are handed to ``commit``, which places them; if
        ``commit`` raises before placing, nothing is stored."""
        ...

    async def put_many(self, blobs: Sequence[tuple[Digest, bytes]]) -> int:
        """Store small blobs held in memory (seeding writes thousands at once), each verified
        against its digest first (DigestInvalid, nothing written); return how many were new."""
        ...

    def upload_sessions(self) -> UploadSessionStore:
        """Chunked-upload sessions whose bytes this store can commit (see the module doc)."""
        ...

    async def commit_upload(
        self, session_id: str, expected: Digest, commit: Commit = place_only
    ) -> BlobInfo:
        """Hand the bytes of upload session ``session_id`` to ``commit`` as blob ``expected``.

        The session layer calls this after it has verified ``expected`` against the digest it
        computed while the chunks streamed in; the store does not read the bytes again."""
        ...

    async def delete(self, digest: Digest) -> bool:
        """Remove blob ``digest``; False if it was not there."""
        ...

    def iter_digests(self) -> AsyncIterator[Digest]:
        """Every blob in the store, in no particular order (for garbage collection)."""
        ...

    async def purge_temp(self) -> Sequence[object]:
        """Remove what ingests cut short by a crash left behind (never a blob, never a write
        in progress); run at start-up. Returns what was removed, for logs."""
        ...

    async def aclose(self) -> None:
        """Release the store's resources once nothing uses it any more."""
        ...
