"""The ``WWW-Authenticate`` challenge of /v2: where to get a token, and for what.

Every 401 under ``/v2`` (and the 403 of a token that lacks an action) names the token endpoint
and the scope the request needs: ``Bearer realm="<external_url>/jwt/auth",
service="container_registry",scope="repository:<path>:<actions>"``, plus ``error=`` when a
token was sent and refused (RFC 6750 §3). The scope is built from the request alone — the path
the client asked for and the method — so it tells a caller nothing about what exists: a hidden
path and a missing one are challenged alike (tests/api/oci/test_hidden_paths.py).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from registry_service.errors import BearerScopeInsufficient, NameInvalid, Unauthorized
from registry_service.keys import settings_key
from registry_service.names import validate_repository_name
from registry_service.services.registry_tokens import SERVICE
from registry_service.services.token_grants import CATALOG, REGISTRY, REPOSITORY

TOKEN_PATH = "/jwt/auth"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


def required_actions(request: web.Request) -> str:
    """The actions a /v2 request needs, as a scope lists them (distribution's choice: a write
    needs pull and push, an upload session's cancel too)."""
    if request.method in _WRITE_METHODS or "session" in request.match_info:
        return "pull,push"
    if request.method == "DELETE":
        return "delete"
    return "pull"


def request_scope(request: web.Request) -> str | None:
    name = request.match_info.get("name")
    if name is None:
        return f"{REGISTRY}:{CATALOG}:*" if request.path.endswith("/_catalog") else None
    try:
        # Only a well-formed name is echoed into the header.
        validate_repository_name(name)
    except NameInvalid:
        return None
    return f"{REPOSITORY}:{name}:{required_actions(request)}"


def bearer_challenge(request: web.Request, error: str | None) -> str:
    realm = request.config_dict[settings_key].server.base_url + TOKEN_PATH
    params = [f'realm="{realm}"', f'service="{SERVICE}"']
    scope = request_scope(request)
    if scope is not None:
        params.append(f'scope="{scope}"')
    if error is not None:
        params.append(f'error="{error}"')
    return "Bearer " + ",".join(params)


@web.middleware
async def challenge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put the challenge on every 401, and on a token's insufficient-scope 403."""
    try:
        return await handler(request)
    except (Unauthorized, BearerScopeInsufficient) as exc:
        exc.headers["WWW-Authenticate"] = bearer_challenge(request, exc.challenge_error)
        raise
