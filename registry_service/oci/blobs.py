"""Blob endpoints: GET/HEAD (with ``Range``) and DELETE ``/v2/<name>/blobs/<digest>``."""

from __future__ import annotations

from aiohttp import web

from registry_service.http import context, metrics
from registry_service.oci import inputs
from registry_service.services import blobs
from registry_service.services.images import Action

BLOB_CONTENT_TYPE = "application/octet-stream"


async def get_blob(request: web.Request) -> web.StreamResponse:
    """The blob's bytes, sent from its file (``sendfile``, counted once sent); aiohttp answers
    ``Range`` with 206 and an unsatisfiable one with 416."""
    _, repository = await inputs.repository(request, Action.PULL)
    digest = inputs.digest_param(request.match_info["digest"])
    storage = context.storage(request)
    info = await blobs.stat_blob(context.catalog(request), storage, repository, digest)
    headers = {
        "Docker-Content-Digest": str(info.digest),
        "Content-Type": BLOB_CONTENT_TYPE,
        # Content-addressed: the bytes behind this URL never change.
        "ETag": f'"{info.digest}"',
        "Cache-Control": "max-age=31536000",
    }
    return metrics.blob_file_response(request, storage.store.path_of(digest), headers)


async def delete_blob(request: web.Request) -> web.Response:
    _, repository = await inputs.repository(request, Action.DELETE)
    digest = inputs.digest_param(request.match_info["digest"])
    await blobs.delete_blob(context.catalog(request), repository, digest)
    return web.Response(status=202, headers={"Docker-Content-Digest": str(digest)})
