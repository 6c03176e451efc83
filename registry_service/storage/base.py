"""The ``BlobStore`` interface: what services may ask of blob storage, whatever holds the bytes.

Small on purpose — stat, read a range, ingest a stream, commit a finished upload session, delete,
iterate — so that an S3 backend can sit behind it later. Implementations raise the domain errors
of ``registry_service.errors`` (``BlobUnknown``, ``DigestInvalid``, ``RangeNotSatisfiable``…) and
never return a blob that is not complete and verified. No HTTP here.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from registry_service.digests import Digest


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A blob that is durably in the store."""

    digest: Digest
    size_bytes: int


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
    ) -> BlobInfo:
        """Stream ``chunks`` into a new blob, hashing while writing. With ``expected``, a
        different content digest raises DigestInvalid and nothing is stored. ``algorithm``
        defaults to ``expected``'s, else sha256. An existing blob is deduplicated."""
        ...

    async def commit_upload(self, session_id: str, expected: Digest) -> BlobInfo:
        """Move the bytes of upload session ``session_id`` into place as blob ``expected``.

        The session layer calls this after it has verified ``expected`` against the digest it
        computed while the chunks streamed in; the store does not read the bytes again."""
        ...

    async def delete(self, digest: Digest) -> bool:
        """Remove blob ``digest``; False if it was not there."""
        ...

    def iter_digests(self) -> AsyncIterator[Digest]:
        """Every blob in the store, in no particular order (for garbage collection)."""
        ...
