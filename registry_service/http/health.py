"""Liveness and readiness: ``/-/health`` answers while the process runs, ``/-/readiness`` only
while the catalog answers too."""

from __future__ import annotations

from aiohttp import web

from registry_service.errors import Unavailable
from registry_service.keys import catalog_key


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readiness(request: web.Request) -> web.Response:
    try:
        await request.config_dict[catalog_key].ping()
    except Unavailable as exc:
        return web.json_response({"status": "unavailable", "reason": str(exc)}, status=503)
    return web.json_response({"status": "ok"})


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/-/health", health)
    app.router.add_get("/-/readiness", readiness)
