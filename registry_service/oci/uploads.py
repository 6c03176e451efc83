"""Blob uploads: POST (session, monolithic, mount), PATCH, PUT, GET and DELETE on a session.

Every answer that continues a session carries ``Location`` (relative, with the session id),
``Range`` (inclusive, bytes received so far) and ``Docker-Upload-UUID``.
"""

from __future__ import annotations

from aiohttp import web

from registry_service.catalog.rows import Repository
from registry_service.digests import DEFAULT_ALGORITHM, Digest, new_hasher
from registry_service.errors import BlobUploadInvalid, RegistryError
from registry_service.http import context, metrics
from registry_service.oci import inputs, urls
from registry_service.services import blobs, images
from registry_service.services.images import Action, Image
from registry_service.storage.base import BlobInfo
from registry_service.storage.sessions import range_header

# Announced to clients; chunks of any size are accepted, but each PATCH costs an fsync.
CHUNK_MIN_LENGTH = 1


def _session_headers(
    request: web.Request, image: Image, session_id: str, size: int
) -> dict[str, str]:
    return {
        "Location": urls.path_for(request, urls.UPLOAD, name=image.path, session=session_id),
        "Range": range_header(size),
        "Docker-Upload-UUID": session_id,
    }


def _created(request: web.Request, image: Image, info: BlobInfo) -> web.Response:
    return web.Response(
        status=201,
        headers={
            "Location": urls.path_for(request, urls.BLOB, name=image.path, digest=str(info.digest)),
            "Docker-Content-Digest": str(info.digest),
        },
    )


async def start_upload(request: web.Request) -> web.Response:
    """POST: mount (``mount`` + ``from``), monolithic (``digest``), or a new session."""
    image = await inputs.image(request, Action.PUSH)
    catalog, storage, now = context.catalog(request), context.storage(request), context.now(request)
    repository = await images.ensure_repository(catalog, image, now)
    query = request.query
    if "mount" in query:
        digest = inputs.digest_param(query.get("mount"), "mount")
        source = query.get("from")
        if source:
            mounted = await _mount(request, source, repository, digest)
            if mounted is not None:
                return _created(request, image, mounted)
    elif "digest" in query:
        digest = inputs.digest_param(query.get("digest"))
        body = metrics.CountedChunks(inputs.body_chunks(request))
        info = await blobs.ingest_blob(catalog, storage, repository, body, digest, now)
        metrics.count_pushed(request, "blob", body.size_bytes)
        return _created(request, image, info)
    algorithm = query.get("digest-algorithm", DEFAULT_ALGORITHM)
    new_hasher(algorithm)  # DIGEST_INVALID for an algorithm we cannot verify
    session_id = await blobs.start_upload(catalog, storage, repository, algorithm, now)
    headers = _session_headers(request, image, session_id, 0)
    headers["OCI-Chunk-Min-Length"] = str(CHUNK_MIN_LENGTH)
    return web.Response(status=202, headers=headers)


async def _mount(
    request: web.Request, source_path: str, target: Repository, digest: Digest
) -> BlobInfo | None:
    """Link the blob from ``source_path`` if the caller may pull it there; None otherwise (the
    client then gets an upload session, as the spec asks)."""
    catalog = context.catalog(request)
    try:
        source_image = await inputs.image(request, Action.PULL, name=source_path)
        source = await images.find_repository(catalog, source_image)
    except RegistryError:
        return None
    return await blobs.mount_blob(catalog, source, target, digest, context.now(request))


def _start_offset(request: web.Request) -> int | None:
    """Where the chunk starts, from ``Content-Range: <start>-<end>`` (Docker's form, no unit);
    None when absent (a streamed chunk appends at the end)."""
    header = request.headers.get("Content-Range")
    if header is None:
        return None
    text = header.strip()
    if text.startswith("bytes"):
        text = text[5:].lstrip(" =")
    start_text, sep, end_text = text.partition("-")
    end_text = end_text.split("/", 1)[0]
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses (a 500).
    digits = f"{start_text}{end_text}"
    if not (sep and start_text and end_text and digits.isascii() and digits.isdigit()):
        raise BlobUploadInvalid(f"malformed Content-Range {header[:80]!r}")
    start, end = int(start_text), int(end_text)
    length = request.content_length
    if end < start or (length is not None and length != end - start + 1):
        raise BlobUploadInvalid(
            f"Content-Range {header[:80]!r} does not match Content-Length {length}"
        )
    return start


async def upload_chunk(request: web.Request) -> web.Response:
    image, repository = await inputs.repository(request, Action.PUSH)
    session_id = request.match_info["session"]
    start = _start_offset(request)
    chunk = metrics.CountedChunks(inputs.body_chunks(request))
    size = await blobs.append_chunk(
        context.catalog(request),
        context.storage(request),
        repository,
        session_id,
        chunk,
        start,
        context.now(request),
    )
    metrics.count_pushed(request, "blob", chunk.size_bytes)
    return web.Response(status=202, headers=_session_headers(request, image, session_id, size))


async def finish_upload(request: web.Request) -> web.Response:
    image, repository = await inputs.repository(request, Action.PUSH)
    session_id = request.match_info["session"]
    digest = inputs.digest_param(request.query.get("digest"))
    body = None
    if inputs.has_body(request):
        body = metrics.CountedChunks(inputs.body_chunks(request))
    info = await blobs.finish_upload(
        context.catalog(request),
        context.storage(request),
        repository,
        session_id,
        digest,
        body,
        _start_offset(request) if body else None,
        context.now(request),
    )
    if body is not None:
        metrics.count_pushed(request, "blob", body.size_bytes)
    return _created(request, image, info)


async def upload_status(request: web.Request) -> web.Response:
    image, repository = await inputs.repository(request, Action.PUSH)
    session_id = request.match_info["session"]
    size = await blobs.upload_progress(
        context.catalog(request), context.storage(request), repository, session_id
    )
    return web.Response(status=204, headers=_session_headers(request, image, session_id, size))


async def cancel_upload(request: web.Request) -> web.Response:
    _, repository = await inputs.repository(request, Action.PUSH)
    await blobs.cancel_upload(
        context.catalog(request),
        context.storage(request),
        repository,
        request.match_info["session"],
    )
    return web.Response(status=204)
