"""Accessors both sub-applications' handlers use for what the composition root put on the app."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from registry_service.catalog.db import Catalog
from registry_service.keys import actor_key, catalog_key, clock_key, settings_key
from registry_service.services.permissions import Actor
from registry_service.settings import Settings


def catalog(request: web.Request) -> Catalog:
    return request.config_dict[catalog_key]


def actor(request: web.Request) -> Actor:
    return request[actor_key]


def now(request: web.Request) -> datetime:
    return request.config_dict[clock_key].now()


def settings(request: web.Request) -> Settings:
    return request.config_dict[settings_key]
