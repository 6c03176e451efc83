"""Small accessors handlers use to reach what the composition root put on the application."""

from __future__ import annotations

from typing import Any

from aiohttp import web

# Re-exported: handlers reach every accessor through their own sub-app's ``context``.
from registry_service.http.context import actor as actor
from registry_service.http.context import catalog as catalog
from registry_service.http.context import now as now
from registry_service.http.context import settings as settings
from registry_service.http.pagination import Page, pagination_headers
from registry_service.keys import queue_key
from registry_service.services.jobs import JobQueue


def base_url(request: web.Request) -> str:
    return settings(request).server.base_url


def queue(request: web.Request) -> JobQueue:
    return request.config_dict[queue_key]


def json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def paged(request: web.Request, data: list[Any], page: Page, total: int) -> web.Response:
    return json(data, headers=pagination_headers(request, base_url(request), page, total))
