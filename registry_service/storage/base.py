"""The ``BlobStore`` interface: what services may ask of blob storage, whatever holds the bytes.

Small on purpose — stat, read a range, ingest a stream, commit a finished upload session, delete,
iterate — so that an S3 backend can sit behind it later. Implementations raise the domain errors
of ``registry_service.errors`` (``BlobUnknown``, ``DigestInvalid``, ``RangeNotSatisfiable``…) and
never return a blob that is not complete and verified. No HTTP here.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from registry_service.digests import Digest


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


class BlobStore(Protocol):
    async def stat(self, digest: Digest) -> BlobInfo | None:
        """The stored blob ``digest``, or None if it is not in the store."""
        ...

    async def open_range(
        self, digest: Digest, start: int = 0, end_inclusive: int | None = None
    ) -> AsyncIterator[bytes]:
        """Check that ``digest`` exists and the range is satisfiable, then return an iterator
        over bytes ``start..end_inclusive`` (to the end when None; an end past the blob is
        clamped). Raises BlobUnknown or RangeNotSatisfiable before any byte is produced, so a
        handler can still answer 404/416."""
        ...

    def path_of(self, digest: Digest) -> Path | None:
        """A local file holding the blob, for ``sendfile`` (aiohttp ``FileResponse``), or None
        when the backend has no local files. Does no I/O: call ``stat`` first."""
        ...

    async def ingest(
        self,
        chunks: AsyncIterable[bytes],
        expected: Digest | None = None,
        algorithm: str | None = None,
        commit: Commit = place_only,
    ) -> BlobInfo:
        """Stream ``chunks`` into a new blob, hashing while writing. With ``expected``, a
        different content digest raises DigestInvalid and nothing is stored. ``algorithm``
        defaults to ``expected``'s, else sha256. An existing blob is deduplicated. The
        verified bytes are handed to ``commit``, which places them."""
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
