"""Handlers: adding members to projects and groups."""

from __future__ import annotations

from aiohttp import web

from registry_service.api.entities import MemberSchema
from registry_service.api.params import AddMemberParams
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import members
from registry_service.services.permissions import AccessLevel


async def add_project_member(request: web.Request) -> web.Response:
    params = await parse_params(request, AddMemberParams)
    member = await members.add_project_member(
        ctx.catalog(request),
        ctx.actor(request),
        request.match_info["id"],
        user_id=params["user_id"],
        access_level=AccessLevel(params["access_level"]),
        expires_at=params["expires_at"],
        now=ctx.now(request),
    )
    return ctx.json(MemberSchema(base_url=ctx.base_url(request)).dump(member), status=201)


async def add_group_member(request: web.Request) -> web.Response:
    params = await parse_params(request, AddMemberParams)
    member = await members.add_group_member(
        ctx.catalog(request),
        ctx.actor(request),
        request.match_info["id"],
        user_id=params["user_id"],
        access_level=AccessLevel(params["access_level"]),
        expires_at=params["expires_at"],
        now=ctx.now(request),
    )
    return ctx.json(MemberSchema(base_url=ctx.base_url(request)).dump(member), status=201)
