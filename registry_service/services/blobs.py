"""Blobs of a repository: read, link, delete, and the upload sessions that create them.

A repository may read a blob only through a ``repository_blobs`` link: one copy of the bytes
serves every repository, but pushing a digest somewhere never lets it be read elsewhere. The
order of a commit is the durability rule: the file is renamed into place (fsynced) first, then
the catalog rows are written — so a row never points at a missing file, and a crash in between
leaves at most an unreferenced file for garbage collection.

Both steps happen inside one catalog write transaction (``_place_and_record``) that holds the
digest's file lock (``catalog/locks.py``: SQLite's write lock, a per-digest advisory lock on
PostgreSQL; both hold across processes). Garbage collection unlinks a file only inside a write
transaction that holds the same lock and first checks the blob has no row (``jobs/gc.py``).
The lock therefore serializes the two: either GC unlinks first and this push renames its own
copy in, or the push writes its row first and GC sees it and keeps the file. Without that, a
push finding the file already present would discard its own copy, GC would unlink the old one,
and the new row would point at nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from datetime import datetime

from registry_service.catalog import blobs as blob_rows
from registry_service.catalog import uploads as upload_rows
from registry_service.catalog.locks import lock_blob_files
from registry_service.catalog.protocols import CatalogBackend, Writer
from registry_service.catalog.rows import Repository, Upload
from registry_service.digests import Digest
from registry_service.errors import (
    BlobUnknown,
    BlobUploadUnknown,
    DigestInvalid,
    InsufficientStorage,
    RegistryError,
)
from registry_service.services.config_dates import ConfigDates
from registry_service.storage.base import BlobInfo, BlobStore, PendingBlob, UploadSessionStore


@dataclass(frozen=True)
class Storage:
    """The blob store and its upload sessions: the bytes side of the registry."""

    store: BlobStore
    sessions: UploadSessionStore
    config_dates: ConfigDates = field(default_factory=ConfigDates, compare=False)

    @classmethod
    def on(cls, store: BlobStore) -> Storage:
        return cls(store, store.upload_sessions())


async def stat_blob(
    catalog: CatalogBackend, storage: Storage, repository: Repository, digest: Digest
) -> BlobInfo:
    """The blob if ``repository`` may read it and its bytes are stored; else BLOB_UNKNOWN."""
    size = await blob_rows.select_linked_blob_size(catalog.reader, repository.id, str(digest))
    if size is None or await storage.store.stat(digest) is None:
        raise BlobUnknown(detail={"digest": str(digest)})
    return BlobInfo(digest, size)


async def _place_and_record(
    catalog: CatalogBackend,
    repository: Repository,
    pending: PendingBlob,
    now: datetime,
    upload_id: str | None = None,
) -> BlobInfo:
    """Make ``pending`` visible and catalog it, under its file lock (see the module doc)."""
    async with catalog.transaction() as tx:
        await lock_blob_files(tx, [str(pending.digest)])
        info = await pending.place()
        await blob_rows.insert_blob(tx, str(info.digest), info.size_bytes, now)
        await blob_rows.link_blob(tx, repository.id, str(info.digest), now)
        if upload_id is not None:
            await upload_rows.delete_upload(tx, upload_id)
    return info


async def delete_blob(catalog: CatalogBackend, repository: Repository, digest: Digest) -> None:
    """Unlink the blob from this repository; the bytes go when garbage collection finds no
    other user. BLOB_UNKNOWN if the repository had no such blob."""
    unlinked = await catalog.run_write(
        lambda tx: blob_rows.unlink_blob(tx, repository.id, str(digest))
    )
    if not unlinked:
        raise BlobUnknown(detail={"digest": str(digest)})


async def ingest_blob(
    catalog: CatalogBackend,
    storage: Storage,
    repository: Repository,
    chunks: AsyncIterable[bytes],
    expected: Digest,
    now: datetime,
) -> BlobInfo:
    """A whole blob in one request (monolithic POST ``?digest=``)."""

    async def commit(pending: PendingBlob) -> BlobInfo:
        return await _place_and_record(catalog, repository, pending, now)

    return await storage.store.ingest(chunks, expected, commit=commit)


async def mount_blob(
    catalog: CatalogBackend, source: Repository, target: Repository, digest: Digest, now: datetime
) -> BlobInfo | None:
    """Link a blob that ``source`` can read into ``target``; None if ``source`` has none.

    The caller has checked that the actor may pull ``source`` and push ``target``.
    """

    async def link(tx: Writer) -> int | None:
        # Locked as a manifest push locks what it references: GC deletes the blob before or
        # after this unit, never between the check and the new link.
        await blob_rows.lock_blob_rows(tx, [str(digest)])
        size = await blob_rows.select_linked_blob_size(tx, source.id, str(digest))
        if size is not None:
            await blob_rows.link_blob(tx, target.id, str(digest), now)
        return size

    size = await catalog.run_write(link)
    return None if size is None else BlobInfo(digest, size)


# --- upload sessions ------------------------------------------------------------------------


async def start_upload(
    catalog: CatalogBackend, storage: Storage, repository: Repository, algorithm: str, now: datetime
) -> str:
    """Open an upload session for ``repository``; its id goes into the ``Location`` URL."""
    session_id = uuid.uuid4().hex
    # Folder and row side by side: each waits for a thread, and under a pull storm every wait
    # also sits behind the ready reads. The client learns the id only once both are in; a
    # crash in between leaves a folder or a row alone, which ``purge_abandoned_uploads``
    # sweeps.
    folder = asyncio.ensure_future(storage.sessions.create(session_id, algorithm))
    try:
        await catalog.run_write(
            lambda tx: upload_rows.insert_upload(tx, session_id, repository.id, algorithm, now)
        )
    except BaseException:
        # Removing a folder needs no space. If making it failed too, there is none to remove.
        with contextlib.suppress(RegistryError):
            await folder
            await storage.sessions.cancel(session_id)
        raise
    try:
        await folder
    except BaseException:
        # The folder's error is the answer (a full disk: 507); should deleting the row fail
        # too, the purge sweeps a row whose session is gone.
        with contextlib.suppress(RegistryError):
            await _forget_upload(catalog, session_id)
        raise
    return session_id


async def find_upload(catalog: CatalogBackend, repository: Repository, session_id: str) -> Upload:
    """The session, if it belongs to this repository; else BLOB_UPLOAD_UNKNOWN."""
    upload = await upload_rows.select_upload(catalog.reader, session_id)
    if upload is None or upload.repository_id != repository.id:
        raise BlobUploadUnknown(detail={"session": session_id[:80]})
    return upload


async def upload_progress(
    catalog: CatalogBackend, storage: Storage, repository: Repository, session_id: str
) -> int:
    """Bytes received so far."""
    await find_upload(catalog, repository, session_id)
    return await storage.sessions.size(session_id)


async def append_chunk(
    catalog: CatalogBackend,
    storage: Storage,
    repository: Repository,
    session_id: str,
    chunks: AsyncIterable[bytes],
    start_offset: int | None,
    now: datetime,
) -> int:
    """Append one chunk; return the new size. 416 when it does not start at the current end."""
    await find_upload(catalog, repository, session_id)
    try:
        size = await storage.sessions.append(session_id, chunks, start_offset)
        await catalog.run_write(
            lambda tx: upload_rows.update_upload_offset(tx, session_id, size, now)
        )
    except InsufficientStorage:
        # Out of space: the session gives its bytes back at once (storage/sessions.py).
        with contextlib.suppress(BlobUploadUnknown):
            await storage.sessions.cancel(session_id)
        await _forget_upload(catalog, session_id)
        raise
    return size


async def finish_upload(
    catalog: CatalogBackend,
    storage: Storage,
    repository: Repository,
    session_id: str,
    expected: Digest,
    final_chunks: AsyncIterable[bytes] | None,
    start_offset: int | None,
    now: datetime,
) -> BlobInfo:
    """Close the session: last chunk, digest check, blob in place, rows written."""
    await find_upload(catalog, repository, session_id)

    async def commit(pending: PendingBlob) -> BlobInfo:
        return await _place_and_record(catalog, repository, pending, now, session_id)

    try:
        return await storage.sessions.finish(
            session_id, expected, final_chunks, start_offset=start_offset, commit=commit
        )
    except (DigestInvalid, BlobUploadUnknown, InsufficientStorage):
        # The session is gone either way (a wrong digest cancels it, as distribution does;
        # one that ran out of space gives its bytes back).
        await _forget_upload(catalog, session_id)
        raise


async def cancel_upload(
    catalog: CatalogBackend, storage: Storage, repository: Repository, session_id: str
) -> None:
    await find_upload(catalog, repository, session_id)
    # The folder and the row go side by side, not one after the other: each waits for a
    # thread, and under a pull storm every wait also sits behind the ready reads. Either may
    # be left alone by a crash; ``purge_abandoned_uploads`` sweeps both kinds.
    removal = asyncio.ensure_future(storage.sessions.cancel(session_id))
    try:
        await _forget_upload(catalog, session_id)
    finally:
        # The folder goes whatever happened to the row (as when they went in turn).
        await removal


async def _forget_upload(catalog: CatalogBackend, session_id: str) -> None:
    await catalog.run_write(lambda tx: upload_rows.delete_upload(tx, session_id))


async def purge_abandoned_uploads(
    catalog: CatalogBackend, storage: Storage, max_age_s: float, now: datetime
) -> list[str]:
    """Drop sessions idle for longer than ``max_age_s``, and rows whose session is gone."""
    removed = await storage.sessions.purge_older_than(max_age_s, now)
    await _forget_uploads(catalog, removed)
    stale = [
        upload.id
        for upload in await upload_rows.select_uploads(catalog.reader)
        if not await storage.sessions.exists(upload.id)
    ]
    await _forget_uploads(catalog, stale)
    return sorted({*removed, *stale})


async def _forget_uploads(catalog: CatalogBackend, session_ids: list[str]) -> None:
    if not session_ids:
        return

    async def forget(tx: Writer) -> None:
        for session_id in session_ids:
            await upload_rows.delete_upload(tx, session_id)

    await catalog.run_write(forget)
