"""Handlers: listing users, blocking, unblocking and deleting them (administrators)."""

from __future__ import annotations

from aiohttp import web

from registry_service.api.admin_params import DeleteUserParams, UserListParams
from registry_service.api.entities import CurrentUserSchema, UserSchema
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import user_admin
from registry_service.services.refs import parse_id


async def list_users(request: web.Request) -> web.Response:
    params = await parse_params(request, UserListParams)
    page = params["page"]
    actor = ctx.actor(request)
    found, total = await user_admin.list_users(
        ctx.catalog(request),
        actor,
        user_admin.UserFilter(
            username=params["username"],
            search=params["search"],
            active=params["active"],
            blocked=params["blocked"],
            order_by=params["order_by"],
            sort=params["sort"],
        ),
        limit=page.limit,
        offset=page.offset,
    )
    # Administrators get GitLab's entity with admin fields, others its basic one.
    schema = CurrentUserSchema if actor.is_admin else UserSchema
    body = schema(base_url=ctx.base_url(request), many=True).dump(found)
    return ctx.paged(request, body, page, total)


async def block_user(request: web.Request) -> web.Response:
    changed = await user_admin.set_blocked(
        ctx.catalog(request), ctx.actor(request), parse_id(request.match_info["user_id"]),
        blocked=True,
    )
    # Grape sends what the endpoint returned, with POST's 201.
    return ctx.json(changed, status=201)


async def unblock_user(request: web.Request) -> web.Response:
    changed = await user_admin.set_blocked(
        ctx.catalog(request), ctx.actor(request), parse_id(request.match_info["user_id"]),
        blocked=False,
    )
    return ctx.json(changed, status=201)


async def delete_user(request: web.Request) -> web.Response:
    params = await parse_params(request, DeleteUserParams)
    await user_admin.delete_user(
        ctx.catalog(request),
        ctx.queue(request),
        ctx.actor(request),
        parse_id(request.match_info["user_id"]),
        hard_delete=params["hard_delete"],
        now=ctx.now(request),
    )
    return web.Response(status=204)
