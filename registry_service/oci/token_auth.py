"""``GET /jwt/auth``: the token endpoint of the docker token flow, as GitLab serves it.

A client challenged by /v2 (``oci/challenge.py``) asks here, with HTTP Basic or anonymously,
for ``?service=container_registry&scope=repository:<path>:pull,push`` (``scope`` repeated for
several resources) and gets ``{"token", "access_token", "expires_in", "issued_at"}``. An
unknown service is a bare 404, as GitLab's ``JwtController`` answers.
"""

from __future__ import annotations

from aiohttp import web

from registry_service.http import context
from registry_service.keys import signing_key_key
from registry_service.services import token_grants
from registry_service.services.registry_tokens import SERVICE


async def issue_token(request: web.Request) -> web.Response:
    if request.query.get("service") != SERVICE:
        return web.Response(status=404)
    settings = context.settings(request)
    issued = await token_grants.issue_registry_token(
        context.catalog(request),
        request.config_dict[signing_key_key].get(),
        context.actor(request),
        request.query.getall("scope", []),
        issuer=settings.auth.registry_token_issuer,
        ttl_s=settings.auth.registry_token_ttl_seconds,
        auto_create=settings.registry.auto_create_projects,
        now=context.now(request),
    )
    return web.json_response(
        {
            "token": issued.token,
            "access_token": issued.token,
            "expires_in": issued.expires_in_s,
            "issued_at": issued.issued_at.isoformat().replace("+00:00", "Z"),
        },
        # A token is a credential: no cache may keep it.
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/auth", issue_token)
