"""The /v2 route table: the only list of its URLs."""

from __future__ import annotations

from aiohttp import web

from registry_service.oci import base


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", base.check_api_version)
