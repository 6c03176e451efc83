"""The only builders of wire error bodies: GitLab JSON for /api/v4, OCI JSON for /v2."""

from __future__ import annotations

from aiohttp import web

from registry_service.errors import RegistryError

BASIC_CHALLENGE = 'Basic realm="registry-service"'


def render_gitlab(exc: RegistryError) -> web.Response:
    return web.json_response(exc.gitlab_body(), status=exc.status, headers=exc.headers)


def render_oci(exc: RegistryError) -> web.Response:
    error: dict[str, object] = {"code": exc.oci_code, "message": exc.oci_message()}
    if exc.detail is not None:
        error["detail"] = exc.detail
    headers = dict(exc.headers)
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", BASIC_CHALLENGE)
    headers.setdefault("Docker-Distribution-API-Version", "registry/2.0")
    return web.json_response({"errors": [error]}, status=exc.status, headers=headers)
