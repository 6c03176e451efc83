"""Liveness and readiness: ``/-/health`` answers while the process runs, ``/-/readiness`` only
while the catalog answers too. Both say this process's part in running jobs (``jobs_runner``:
``active``, ``standby`` or ``none``), so an operator or a test sees which process is active."""

from __future__ import annotations

from aiohttp import web

from registry_service.errors import Unavailable
from registry_service.keys import catalog_key, queue_key
from registry_service.services.jobs import runner_role


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "jobs_runner": _runner_role(request)})


async def readiness(request: web.Request) -> web.Response:
    try:
        await request.config_dict[catalog_key].ping()
    except Unavailable as exc:
        return web.json_response(
            {"status": "unavailable", "reason": str(exc), "jobs_runner": _runner_role(request)},
            status=503,
        )
    return web.json_response({"status": "ok", "jobs_runner": _runner_role(request)})


def _runner_role(request: web.Request) -> str:
    return runner_role(request.config_dict[queue_key])


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/-/health", health)
    app.router.add_get("/-/readiness", readiness)
