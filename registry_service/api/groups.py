"""Handlers: listing, reading and creating groups."""

from __future__ import annotations

from aiohttp import web

from registry_service.api.entities import GroupSchema
from registry_service.api.params import CreateGroupParams, GroupListParams
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import groups


async def list_groups(request: web.Request) -> web.Response:
    params = await parse_params(request, GroupListParams)
    page = params["page"]
    found, total = await groups.list_groups(
        ctx.catalog(request),
        ctx.actor(request),
        all_available=params["all_available"],
        search=params["search"],
        top_level_only=params["top_level_only"],
        order_by=params["order_by"],
        sort=params["sort"],
        limit=page.limit,
        offset=page.offset,
    )
    schema = GroupSchema(base_url=ctx.base_url(request), many=True)
    return ctx.paged(request, schema.dump(found), page, total)


async def get_group(request: web.Request) -> web.Response:
    access = await groups.find_group(
        ctx.catalog(request), ctx.actor(request), request.match_info["id"]
    )
    return ctx.json(GroupSchema(base_url=ctx.base_url(request)).dump(access.group))


async def create_group(request: web.Request) -> web.Response:
    params = await parse_params(request, CreateGroupParams)
    group = await groups.create_group(
        ctx.catalog(request),
        ctx.actor(request),
        name=params["name"],
        path=params["path"],
        parent_id=params["parent_id"],
        visibility=params["visibility"],
        description=params["description"],
        now=ctx.now(request),
    )
    return ctx.json(GroupSchema(base_url=ctx.base_url(request)).dump(group), status=201)
