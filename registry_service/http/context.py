"""Accessors both sub-applications' handlers use for what the composition root put on the app,
and the two JSON answers of the GitLab API (plain and paged)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from registry_service.catalog.protocols import CatalogBackend
from registry_service.http.pagination import Page, pagination_headers
from registry_service.keys import (
    actor_key,
    catalog_key,
    clock_key,
    queue_key,
    settings_key,
    storage_key,
)
from registry_service.services.blobs import Storage
from registry_service.services.jobs import JobQueue
from registry_service.services.permissions import Actor
from registry_service.settings import Settings


def catalog(request: web.Request) -> CatalogBackend:
    return request.config_dict[catalog_key]


def storage(request: web.Request) -> Storage:
    return request.config_dict[storage_key]


def queue(request: web.Request) -> JobQueue:
    return request.config_dict[queue_key]


def actor(request: web.Request) -> Actor:
    return request[actor_key]


def now(request: web.Request) -> datetime:
    return request.config_dict[clock_key].now()


def settings(request: web.Request) -> Settings:
    return request.config_dict[settings_key]


def base_url(request: web.Request) -> str:
    return settings(request).server.base_url


def json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def paged(request: web.Request, data: list[Any], page: Page, total: int) -> web.Response:
    return json(data, headers=pagination_headers(request, base_url(request), page, total))
