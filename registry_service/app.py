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
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from registry_service.api.routes import add_routes as add_api_routes
from registry_service.catalog.protocols import CatalogBackend
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
from registry_service.http.read_turns import ReadTurns, read_turns_middleware
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
from registry_service.web.routes import add_web_routes

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
    catalog: CatalogBackend,
    clock: Clock | None = None,
    storage: Storage | None = None,
    queue: JobQueue | None = None,
    resources: contextlib.AsyncExitStack | None = None,
) -> web.Application:
    """The whole service over an open catalog, which the caller owns: it closes it, or hands
    it over in ``resources``.

    Without ``storage`` the app opens the filesystem blob store in the data directory and
    closes it on cleanup. ``resources`` is what the caller opened for the app and hands over
    (``build_app``: the catalog, the store, the jobs): the app closes it last on cleanup, and
    at once when its own start-up fails.
    """
    metrics = Metrics()
    app = web.Application(
        middlewares=[
            request_timer_middleware,
            read_turns_middleware(ReadTurns()),
            request_id_middleware,
        ],
        client_max_size=CLIENT_MAX_SIZE,
    )
    app[metrics_key] = metrics
    app.on_response_prepare.append(record_requests(metrics))
    app[settings_key] = settings
    app[catalog_key] = catalog
    app[clock_key] = clock or SystemClock()
    own_storage = storage is None
    if storage is None:
        storage = Storage.on(
            FilesystemBlobStore(settings.data_path, min_free_bytes=settings.storage.min_free_bytes)
        )
    app[storage_key] = storage
    # Without a runner, intents wait in the catalog until one sweeps them up.
    app[queue_key] = queue or NO_RUNNER
    keyring = SigningKeyring(settings.auth.registry_token_key, settings.data_path)
    app[signing_key_key] = keyring
    app[token_verifier_key] = TokenVerifier(keyring.get, settings.auth.registry_token_issuer)
    app.cleanup_ctx.append(_lifetime(resources, own_storage=own_storage))
    add_health_routes(app)
    add_metrics_routes(app)
    app.add_subapp("/api/v4", create_gitlab_api())
    app.add_subapp("/v2", create_registry_api())
    app.add_subapp("/jwt", create_token_api())
    # The pages for people (issue 15), on the root app under paths the APIs do not use.
    add_web_routes(app)
    return app


def _lifetime(
    resources: contextlib.AsyncExitStack | None, *, own_storage: bool
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The app's one cleanup context: what it owns, opened in order and closed in reverse.

    One context rather than one per resource because a runner does not clean up after a
    failed start-up (``web.run_app`` does not call ``cleanup()`` then): a step that fails here
    closes the steps before it itself, before the error propagates.
    """

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if resources is not None:
                await stack.enter_async_context(resources)
            if own_storage:
                stack.push_async_callback(app[storage_key].store.aclose)
            # Read (or on first start create) the token signing key before the first request;
            # an unusable configured key stops start-up here.
            await asyncio.to_thread(app[signing_key_key].get)
            await stack.enter_async_context(_purging_abandoned_uploads(app))
            yield

    return lifetime


@contextlib.asynccontextmanager
async def _purging_abandoned_uploads(app: web.Application) -> AsyncIterator[None]:
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
