"""The application factory: ``create_app(settings, *, catalog, clock)`` → ``web.Application``.

The root application holds the shared state under typed keys and mounts two sub-applications,
``/api/v4`` (GitLab JSON errors, token identity) and ``/v2`` (OCI JSON errors, Basic identity),
each with its own middleware. There is no module-level app and importing this has no effects.
"""

from __future__ import annotations

from aiohttp import web

from registry_service.api.routes import add_routes as add_api_routes
from registry_service.catalog.db import Catalog
from registry_service.clock import Clock, SystemClock
from registry_service.http.health import add_health_routes
from registry_service.http.middleware import (
    error_middleware,
    gitlab_identity_middleware,
    registry_identity_middleware,
    request_id_middleware,
)
from registry_service.http.render import render_gitlab, render_oci
from registry_service.keys import catalog_key, clock_key, settings_key
from registry_service.oci.routes import add_routes as add_oci_routes
from registry_service.settings import Settings

# Manifests are at most 4 MiB; bodies of the GitLab API are small. Blob uploads stream and
# are not bound by this.
CLIENT_MAX_SIZE = 4 * 1024 * 1024 + 1


def create_gitlab_api() -> web.Application:
    api = web.Application(
        middlewares=[error_middleware(render_gitlab), gitlab_identity_middleware],
        client_max_size=CLIENT_MAX_SIZE,
    )
    add_api_routes(api)
    return api


def create_registry_api() -> web.Application:
    registry = web.Application(
        middlewares=[error_middleware(render_oci), registry_identity_middleware],
        client_max_size=CLIENT_MAX_SIZE,
    )
    add_oci_routes(registry)
    return registry


def create_app(
    settings: Settings, *, catalog: Catalog, clock: Clock | None = None
) -> web.Application:
    """The whole service over an open catalog; the caller owns (and closes) the catalog."""
    app = web.Application(middlewares=[request_id_middleware], client_max_size=CLIENT_MAX_SIZE)
    app[settings_key] = settings
    app[catalog_key] = catalog
    app[clock_key] = clock or SystemClock()
    add_health_routes(app)
    app.add_subapp("/api/v4", create_gitlab_api())
    app.add_subapp("/v2", create_registry_api())
    return app
