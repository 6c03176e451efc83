"""Listings: ``/v2/<name>/tags/list``, ``/v2/_catalog`` and ``/v2/<name>/referrers/<digest>``."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from registry_service.errors import NameUnknown, PaginationInvalid
from registry_service.http import context
from registry_service.manifests.media_types import OCI_INDEX
from registry_service.oci import inputs, urls
from registry_service.services import images, manifests, token_grants
from registry_service.services.images import Action

# The most entries one page holds, whatever ``n`` asks for; the Link header leads on. Also
# keeps ``n`` within what SQLite's LIMIT takes (a 20-digit n was a 500).
MAX_PAGE_ENTRIES = 10_000


def _page_size(request: web.Request) -> int | None:
    text = request.query.get("n")
    if text is None or text == "":
        return None
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if not (text.isascii() and text.isdigit()):
        raise PaginationInvalid(f"n must be a non-negative integer, got {text[:40]!r}")
    return min(int(text), MAX_PAGE_ENTRIES)


def _next_link(path: str, limit: int, last: str) -> str:
    return f'<{path}?{urlencode({"n": limit, "last": last})}>; rel="next"'


async def list_tags(request: web.Request) -> web.Response:
    image, repository = await inputs.repository(request, Action.PULL)
    limit = _page_size(request)
    names, more = await manifests.list_tag_names(
        context.catalog(request), repository, limit=limit, after=request.query.get("last")
    )
    headers = {}
    if more and limit and names:
        path = urls.path_for(request, urls.TAGS, name=image.path)
        headers["Link"] = _next_link(path, limit, names[-1])
    return web.json_response({"name": image.path, "tags": names}, headers=headers)


async def list_repositories(request: web.Request) -> web.Response:
    grant = inputs.grant(request)
    if grant is not None:
        paths = await token_grants.catalog_paths(context.catalog(request), grant)
    else:
        paths = await images.visible_image_paths(context.catalog(request), context.actor(request))
    last = request.query.get("last")
    if last:
        paths = [p for p in paths if p > last]
    limit = _page_size(request)
    headers = {}
    if limit is not None:
        if len(paths) > limit and limit:
            path = urls.path_for(request, urls.CATALOG)
            headers["Link"] = _next_link(path, limit, paths[limit - 1])
        paths = paths[:limit]
    return web.json_response({"repositories": paths}, headers=headers)


async def list_referrers(request: web.Request) -> web.Response:
    """Always 200 for a digest (an empty index when nothing refers to it); 400 for a bad one."""
    image = await inputs.image(request, Action.PULL)
    subject = inputs.digest_param(request.match_info["digest"])
    artifact_type = request.query.get("artifactType") or None
    try:
        repository = await images.find_repository(context.catalog(request), image)
    except NameUnknown:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    else:
        index = await manifests.referrers_index(
            context.catalog(request), repository, subject, artifact_type
        )
    # Set as a header, not ``content_type=``: aiohttp would append "; charset=utf-8" to a text
    # body, and clients (the conformance suite) compare the media type exactly.
    headers = {"Content-Type": OCI_INDEX}
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    return web.Response(body=json.dumps(index).encode(), headers=headers)
