"""The only builders of wire error bodies: GitLab JSON for /api/v4, OCI JSON for /v2, and the
docker-style errors of GitLab's token endpoint for /jwt/auth."""

from __future__ import annotations

from aiohttp import web

from registry_service.errors import RegistryError, Unauthorized

# GitLab's JwtController answers every failed login with this text (status 401).
ACCESS_DENIED_TEXT = (
    "HTTP Basic: Access denied. If a password was provided for Git authentication, the password"
    " was incorrect or you're required to use a token instead of a password. If a token was"
    " provided, it was either incorrect, expired, or improperly scoped."
)


def render_gitlab(exc: RegistryError) -> web.Response:
    return web.json_response(exc.gitlab_body(), status=exc.status, headers=exc.headers)


def render_oci(exc: RegistryError) -> web.Response:
    """The OCI error body; a 401's challenge is set by /v2's ``challenge_middleware``."""
    error: dict[str, object] = {"code": exc.oci_code, "message": exc.oci_message()}
    if exc.detail is not None:
        error["detail"] = exc.detail
    headers = dict(exc.headers)
    headers.setdefault("Docker-Distribution-API-Version", "registry/2.0")
    return web.json_response({"errors": [error]}, status=exc.status, headers=headers)


def render_token_auth(exc: RegistryError) -> web.Response:
    """``{"errors": [{"code", "message"}]}`` as GitLab's /jwt/auth answers; every failed login
    the same, whatever failed."""
    if isinstance(exc, Unauthorized):
        error = {"code": "UNAUTHORIZED", "message": ACCESS_DENIED_TEXT}
    else:
        error = {"code": exc.oci_code, "message": exc.oci_message()}
    return web.json_response({"errors": [error]}, status=exc.status)
