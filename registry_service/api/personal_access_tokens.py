"""Handlers: personal access tokens — list, read, revoke and rotate, by id or ``self``."""

from __future__ import annotations

from aiohttp import web

from registry_service.api.admin_params import RotateTokenParams, TokenListParams
from registry_service.api.entities import NewTokenSchema, TokenSchema
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import token_admin
from registry_service.services.refs import parse_id


def _ref(request: web.Request) -> str | int | None:
    """``self`` on the ``/self`` routes, else the id in the path (None if it is not one)."""
    token_id = request.match_info.get("token_id")
    return token_admin.SELF if token_id is None else parse_id(token_id)


async def list_tokens(request: web.Request) -> web.Response:
    params = await parse_params(request, TokenListParams)
    page = params["page"]
    found, total = await token_admin.list_tokens(
        ctx.catalog(request), ctx.actor(request), params["user_id"],
        limit=page.limit, offset=page.offset,
    )
    body = TokenSchema(now=ctx.now(request), many=True).dump(found)
    return ctx.paged(request, body, page, total)


async def get_token(request: web.Request) -> web.Response:
    token = await token_admin.get_token(ctx.catalog(request), ctx.actor(request), _ref(request))
    return ctx.json(TokenSchema(now=ctx.now(request)).dump(token))


async def revoke_token(request: web.Request) -> web.Response:
    await token_admin.revoke(ctx.catalog(request), ctx.actor(request), _ref(request))
    return web.Response(status=204)


async def rotate_token(request: web.Request) -> web.Response:
    params = await parse_params(request, RotateTokenParams)
    minted = await token_admin.rotate(
        ctx.catalog(request), ctx.actor(request), _ref(request),
        expires_at=params["expires_at"], now=ctx.now(request),
    )
    body = NewTokenSchema(now=ctx.now(request)).dump(minted.token)
    body["token"] = minted.value
    # GitLab sets ``status :ok`` on the rotation's POST.
    return ctx.json(body, status=200)
