"""Manifest endpoints: GET/HEAD, PUT (with ``?tag=``) and DELETE ``/v2/<name>/manifests/<ref>``."""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

from registry_service.http import context, metrics
from registry_service.manifests.media_types import content_type_to_serve, normalize_content_type
from registry_service.oci import inputs, urls
from registry_service.services import images, manifests
from registry_service.services.images import Action


async def get_manifest(request: web.Request) -> web.Response:
    pulled = await _pulled(request)
    if request.method == "GET":
        metrics.count_pulled(request, "manifest", len(pulled.payload))
    return web.Response(
        body=pulled.payload,
        headers={
            "Content-Type": content_type_to_serve(pulled.manifest.media_type),
            "Docker-Content-Digest": pulled.manifest.digest,
            "ETag": f'"{pulled.manifest.digest}"',
        },
    )


async def _pulled(request: web.Request) -> manifests.Pulled:
    """The manifest the URL names: a registry token's grant lets the caller in without the
    catalog; anyone else is let in by the same statement that reads the manifest."""
    catalog, reference = context.catalog(request), request.match_info["reference"]
    if inputs.grant(request) is not None:
        image = await inputs.image(request, Action.PULL)
        return await manifests.pull_manifest(catalog, image, reference)
    return await manifests.pull_manifest_as(
        catalog, context.actor(request), request.match_info["name"], reference
    )


async def put_manifest(request: web.Request) -> web.Response:
    image, guard = await inputs.guarded_image(request, Action.PUSH)
    catalog, now = context.catalog(request), context.now(request)
    payload = await inputs.read_capped(request, manifests.MAX_MANIFEST_BYTES)
    repository = await images.ensure_repository(catalog, image, now)
    extra_tags = request.query.getall("tag", [])
    pushed = await manifests.push_manifest(
        catalog,
        context.storage(request),
        repository,
        request.match_info["reference"],
        payload,
        normalize_content_type(request.headers.get("Content-Type")),
        extra_tags,
        now,
        guard,
    )
    metrics.count_pushed(request, "manifest", len(payload))
    headers: CIMultiDict[str] = CIMultiDict(
        {
            "Location": urls.path_for(
                request, urls.MANIFEST, name=image.path, reference=str(pushed.digest)
            ),
            "Docker-Content-Digest": str(pushed.digest),
        }
    )
    if pushed.subject is not None:
        headers["OCI-Subject"] = str(pushed.subject)
    for tag in extra_tags:
        headers.add("OCI-Tag", tag)
    return web.Response(status=201, headers=headers)


async def delete_manifest(request: web.Request) -> web.Response:
    repository, guard = await inputs.guarded_repository(request, Action.DELETE)
    await manifests.delete_manifest(
        context.catalog(request),
        repository,
        request.match_info["reference"],
        context.now(request),
        guard,
    )
    return web.Response(status=202)
