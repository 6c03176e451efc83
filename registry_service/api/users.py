"""Handlers: the current user, creating users and their personal access tokens (admin)."""

from __future__ import annotations

from aiohttp import web

from registry_service.api.entities import CurrentUserSchema, NewTokenSchema, UserSchema
from registry_service.api.params import CreateTokenParams, CreateUserParams
from registry_service.errors import UserNotFound
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import tokens, users
from registry_service.services.refs import parse_id


async def get_current_user(request: web.Request) -> web.Response:
    user = await users.current_user(ctx.catalog(request), ctx.actor(request))
    return ctx.json(CurrentUserSchema(base_url=ctx.base_url(request)).dump(user))


async def create_user(request: web.Request) -> web.Response:
    users.require_admin(ctx.actor(request))
    params = await parse_params(request, CreateUserParams)
    user = await users.create_user(
        ctx.catalog(request),
        username=params["username"],
        name=params["name"],
        email=params["email"],
        is_admin=params["admin"],
        external=params["external"],
        now=ctx.now(request),
    )
    return ctx.json(CurrentUserSchema(base_url=ctx.base_url(request)).dump(user), status=201)


async def get_user(request: web.Request) -> web.Response:
    users.require_signed_in(ctx.actor(request))
    user_id = parse_id(request.match_info["user_id"])
    if user_id is None:
        raise UserNotFound()
    user = await users.get_user(ctx.catalog(request), user_id)
    return ctx.json(UserSchema(base_url=ctx.base_url(request)).dump(user))


async def create_personal_access_token(request: web.Request) -> web.Response:
    users.require_admin(ctx.actor(request))
    params = await parse_params(request, CreateTokenParams)
    user_id = parse_id(request.match_info["user_id"])
    if user_id is None:
        raise UserNotFound()
    user = await users.get_user(ctx.catalog(request), user_id)
    minted = await tokens.create_token(
        ctx.catalog(request),
        user_id=user.id,
        name=params["name"],
        scopes=params["scopes"],
        expires_at=params["expires_at"],
        now=ctx.now(request),
    )
    body = NewTokenSchema(now=ctx.now(request)).dump(minted.token)
    body["token"] = minted.value
    return ctx.json(body, status=201)
