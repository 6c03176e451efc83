"""The application factory: ``create_app(settings, *, catalog, clock)`` → ``web.Application``.

The root application holds the shared state under typed keys and mounts three sub-applications,
``/api/v4`` (GitLab JSON errors, token identity), ``/v2`` (OCI JSON errors, Bearer or Basic
identity) and ``/jwt`` (the docker token endpoint), each with its own middleware. There is no
module-level app and importing this has no effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from registry_service.api.routes import add_routes as add_api_routes
from registry_service.catalog.db import Catalog
from registry_service.clock import Clock, SystemClock
from registry_service.http.health import add_health_routes
from registry_service.http.metrics import (
    add_metrics_routes,
    record_requests,
    request_timer_middleware,
)
from registry_service.http.middleware import (
    error_middleware,
    gitlab_identity_middleware,
    registry_identity_middleware,
    request_id_middleware,
    token_request_identity_middleware,
)
from registry_service.http.render import render_gitlab, render_oci, render_token_auth
from registry_service.keys import (
    catalog_key,
    clock_key,
    metrics_key,
    queue_key,
    settings_key,
    signing_key_key,
    storage_key,
    token_verifier_key,
)
from registry_service.metrics import Metrics
from registry_service.oci.base import api_version_middleware
from registry_service.oci.challenge import challenge_middleware
from registry_service.oci.routes import add_routes as add_oci_routes
from registry_service.oci.token_auth import add_routes as add_token_routes
from registry_service.services import blobs
from registry_service.services.blobs import Storage
from registry_service.services.jobs import NO_RUNNER, JobQueue
from registry_service.services.registry_tokens import TokenVerifier
from registry_service.services.signing_keys import SigningKeyring
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore

# Manifests are at most 4 MiB; bodies of the GitLab API are small. Blob uploads stream and
# are not bound by this.
CLIENT_MAX_SIZE = 4 * 1024 * 1024 + 1
PURGE_INTERVAL_S = 3600.0

log = logging.getLogger("registry_service")


def create_gitlab_api() -> web.Application:
    api = web.Application(
        middlewares=[error_middleware(render_gitlab), gitlab_identity_middleware],
        client_max_size=CLIENT_MAX_SIZE,
    )
    add_api_routes(api)
    return api


def create_registry_api() -> web.Application:
    registry = web.Application(
        middlewares=[
            api_version_middleware,
            error_middleware(render_oci),
            challenge_middleware,
            registry_identity_middleware,
        ],
        client_max_size=CLIENT_MAX_SIZE,
    )
    add_oci_routes(registry)
    return registry


def create_token_api() -> web.Application:
    """``/jwt``: GitLab's token endpoint for the docker token flow (``/jwt/auth``)."""
    token_api = web.Application(
        middlewares=[error_middleware(render_token_auth), token_request_identity_middleware]
    )
    add_token_routes(token_api)
    return token_api


def create_app(
    settings: Settings,
    *,
    catalog: Catalog,
    clock: Clock | None = None,
    storage: Storage | None = None,
    queue: JobQueue | None = None,
) -> web.Application:
    """The whole service over an open catalog; the caller owns (and closes) the catalog.

    Without ``storage`` the app opens the filesystem blob store in the data directory and
    closes it on cleanup.
    """
    metrics = Metrics()
    app = web.Application(
        middlewares=[request_timer_middleware, request_id_middleware],
        client_max_size=CLIENT_MAX_SIZE,
    )
    app[metrics_key] = metrics
    app.on_response_prepare.append(record_requests(metrics))
    app[settings_key] = settings
    app[catalog_key] = catalog
    app[clock_key] = clock or SystemClock()
    if storage is None:
        storage = Storage.on(FilesystemBlobStore(settings.data_path))
        app.cleanup_ctx.append(_own_storage)
    app[storage_key] = storage
    # Without a runner, intents wait in the catalog until one sweeps them up.
    app[queue_key] = queue or NO_RUNNER
    keyring = SigningKeyring(settings.auth.registry_token_key, settings.data_path)
    app[signing_key_key] = keyring
    app[token_verifier_key] = TokenVerifier(keyring.get, settings.auth.registry_token_issuer)
    app.cleanup_ctx.append(_load_signing_key)
    app.cleanup_ctx.append(_purge_abandoned_uploads)
    add_health_routes(app)
    add_metrics_routes(app)
    app.add_subapp("/api/v4", create_gitlab_api())
    app.add_subapp("/v2", create_registry_api())
    app.add_subapp("/jwt", create_token_api())
    return app


async def _load_signing_key(app: web.Application) -> AsyncIterator[None]:
    """Read (or on first start create) the token signing key before the first request."""
    await asyncio.to_thread(app[signing_key_key].get)
    yield


async def _own_storage(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[storage_key].store.aclose()


async def _purge_abandoned_uploads(app: web.Application) -> AsyncIterator[None]:
    """Remove what a crash leaves behind at start-up — temp files, abandoned upload sessions —
    and then abandoned sessions hourly."""

    async def purge() -> None:
        removed = await blobs.purge_abandoned_uploads(
            app[catalog_key],
            app[storage_key],
            app[settings_key].registry.abandoned_upload_max_age_seconds,
            app[clock_key].now(),
        )
        if removed:
            log.info("removed %d abandoned upload session(s)", len(removed))

    async def every_hour() -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            try:
                await purge()
            except Exception:
                log.exception("purging abandoned uploads failed; retrying in an hour")

    # Temp files of ingests a crash cut short are never blobs; nothing can be writing them yet.
    await app[storage_key].store.purge_temp()
    await purge()
    task = asyncio.create_task(every_hour())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
