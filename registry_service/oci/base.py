"""``GET /v2/``: the API version check clients use to discover how to authenticate."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from registry_service.errors import Unauthorized
from registry_service.keys import actor_key, grant_key

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}


async def check_api_version(request: web.Request) -> web.Response:
    """200 to a signed-in caller or any valid token, 401 with the challenge to anyone else."""
    if request[actor_key].is_anonymous and request.get(grant_key) is None:
        raise Unauthorized()
    return web.json_response({}, headers=API_VERSION_HEADER)


@web.middleware
async def api_version_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every /v2 answer names the API version (docker checks it on ``GET /v2/``; others log it)."""
    response = await handler(request)
    if not response.prepared:
        response.headers.update(API_VERSION_HEADER)
    return response
