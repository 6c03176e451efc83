"""Middleware shared by the sub-applications: request ids, error rendering, identities.

``error_middleware(render)`` is where domain errors become wire errors: each sub-app installs it
with its own renderer, so handlers and services never build an error body themselves. It is
also where a client that hangs up mid-request (reading its body raises ``ConnectionError`` once
its connection is gone) stops being mistaken for a server error: one INFO line and status 499,
nginx's "client closed request", which the access log and the request metrics then record.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from registry_service.errors import (
    InsufficientScope,
    MethodNotAllowed,
    ParamsInvalid,
    PayloadTooLarge,
    RegistryError,
    RouteNotFound,
    Unauthorized,
)
from registry_service.http.fields import FORM_TYPES, read_form
from registry_service.keys import (
    actor_key,
    catalog_key,
    clock_key,
    grant_key,
    request_id_key,
    token_verifier_key,
)
from registry_service.services import tokens
from registry_service.services.permissions import ANONYMOUS, Actor

log = logging.getLogger("registry_service.http")

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# nginx's status for a request whose client closed the connection before the answer.
CLIENT_CLOSED_REQUEST = 499


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    request[request_id_key] = request_id
    response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    return response


def error_middleware(render: Callable[[RegistryError], web.Response]) -> Middleware:
    """Turn raised errors (ours and aiohttp's router's) into this API's error format."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except RegistryError as exc:
            if exc.log_level is not None:
                log.log(
                    exc.log_level,
                    "%s %s (request %s): %s: %s %s",
                    request.method,
                    request.path,
                    request.get(request_id_key, "-"),
                    type(exc).__name__,
                    exc,
                    exc.detail or "",
                )
            return render(exc)
        except web.HTTPNotFound:
            return render(RouteNotFound())
        except web.HTTPMethodNotAllowed:
            return render(MethodNotAllowed())
        except web.HTTPRequestEntityTooLarge:
            return render(PayloadTooLarge())
        except web.HTTPException:
            raise
        except Exception as exc:
            if _client_went_away(request, exc):
                return _client_closed(request, exc)
            log.exception(
                "unhandled error in %s %s (request %s)",
                request.method,
                request.path,
                request.get(request_id_key, "-"),
            )
            return render(RegistryError())

    return middleware


def _client_went_away(request: web.Request, exc: Exception) -> bool:
    # Only a connection error with the client's connection gone: a reset from anything else
    # the server talks to stays a server error.
    return isinstance(exc, ConnectionError) and (
        request.transport is None or request.transport.is_closing()
    )


def _client_closed(request: web.Request, exc: Exception) -> web.Response:
    """The answer for a client that has gone: nobody reads it, but aiohttp counts and logs it
    (``http/metrics.py``, ``http/access_log.py``) before it finds the connection closed."""
    log.info(
        "client closed the connection during %s %s (request %s): %s",
        request.method,
        request.path,
        request.get(request_id_key, "-"),
        exc,
    )
    return web.Response(status=CLIENT_CLOSED_REQUEST, reason="Client Closed Request")


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def _body_token(request: web.Request) -> str | None:
    if not request.can_read_body:
        return None
    if request.content_type in FORM_TYPES:
        try:
            value = (await read_form(request)).get("private_token")
        except ParamsInvalid:
            return None  # the handler's own parsing answers 400 for it
        return value if isinstance(value, str) else None
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            return None
        value = data.get("private_token") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None
    return None


@web.middleware
async def gitlab_identity_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Who is calling /api/v4 (gitlab-api.md §4): PRIVATE-TOKEN, Bearer, or token params.

    A token that is given but unknown, expired or revoked is 401 even where anonymous access
    would do; a token without a REST scope is 403 insufficient_scope.
    """
    token = (
        request.headers.get("PRIVATE-TOKEN")
        or _bearer(request)
        or request.query.get("private_token")
        or request.query.get("access_token")
        or await _body_token(request)
    )
    if not token:
        # GitLab authenticates every non-GET request before looking at anything else.
        if request.method not in READ_METHODS:
            raise Unauthorized()
        request[actor_key] = ANONYMOUS
        return await handler(request)
    config = request.config_dict
    actor = await tokens.authenticate(config[catalog_key], token, config[clock_key].now())
    scopes = actor.scopes or frozenset()
    # Any token may read or revoke itself, whatever its scopes (GitLab's SelfInformation and
    # SelfRevocation endpoints).
    about_itself = request.path.endswith("/personal_access_tokens/self") and (
        request.method in READ_METHODS or request.method == "DELETE"
    )
    if "api" not in scopes and not about_itself:
        if request.method not in READ_METHODS:
            raise InsufficientScope("api")
        if "read_api" not in scopes:
            raise InsufficientScope("api read_api")
    request[actor_key] = actor
    return await handler(request)


def _basic(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthorized("malformed Basic credentials")
    if not username and not password:
        # containers/image (skopeo, podman) sends ":" when told to pull without credentials.
        return None
    return username, password


async def basic_actor(request: web.Request) -> Actor:
    """The caller named by HTTP Basic (anonymous without it); 401 for bad credentials.

    ``tokens.authenticate_basic`` is the one place a (username, secret) pair becomes an actor,
    for /v2 and /jwt/auth alike.
    """
    credentials = _basic(request)
    if credentials is None:
        return ANONYMOUS
    config = request.config_dict
    return await tokens.authenticate_basic(
        config[catalog_key], *credentials, config[clock_key].now()
    )


@web.middleware
async def registry_identity_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Who is calling /v2: a Bearer token from /jwt/auth, HTTP Basic with a username and one of
    its tokens, or anonymous.

    A Bearer token is checked by its signature, issuer, audience and times alone (the
    signature once per token: ``registry_tokens.TokenVerifier``); what it
    grants is put on the request (``grant_key``) and the actor stays anonymous, so nothing
    reads the catalog to decide. A bad token or bad credentials are 401; which scopes and roles
    an operation needs is decided by the operation.
    """
    token = _bearer(request)
    if token is None:
        request[actor_key] = await basic_actor(request)
        return await handler(request)
    config = request.config_dict
    request[grant_key] = config[token_verifier_key].verify(token, config[clock_key].now())
    request[actor_key] = ANONYMOUS
    return await handler(request)


@web.middleware
async def token_request_identity_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Who is asking /jwt/auth for a token: HTTP Basic, or anonymous."""
    request[actor_key] = await basic_actor(request)
    return await handler(request)
