"""Handlers: listing, reading, changing and removing the members of projects and groups."""

from __future__ import annotations

from aiohttp import web

from registry_service.api.admin_params import EditMemberParams, MemberListParams
from registry_service.api.entities import MemberSchema
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import member_admin
from registry_service.services.member_admin import MemberSource, SourceKind
from registry_service.services.permissions import AccessLevel
from registry_service.services.refs import parse_id


async def _source(request: web.Request, kind: SourceKind) -> MemberSource:
    return await member_admin.find_source(
        ctx.catalog(request), ctx.actor(request), kind, request.match_info["id"]
    )


def _schema(request: web.Request, *, many: bool = False) -> MemberSchema:
    return MemberSchema(base_url=ctx.base_url(request), many=many)


async def _list(request: web.Request, kind: SourceKind, *, inherited: bool) -> web.Response:
    params = await parse_params(request, MemberListParams)
    page = params["page"]
    found, total = await member_admin.list_members(
        ctx.catalog(request),
        await _source(request, kind),
        inherited=inherited,
        query=params["query"],
        limit=page.limit,
        offset=page.offset,
    )
    return ctx.paged(request, _schema(request, many=True).dump(found), page, total)


async def _get(request: web.Request, kind: SourceKind, *, inherited: bool) -> web.Response:
    member = await member_admin.get_member(
        ctx.catalog(request),
        await _source(request, kind),
        parse_id(request.match_info["user_id"]),
        inherited=inherited,
    )
    return ctx.json(_schema(request).dump(member))


async def _edit(request: web.Request, kind: SourceKind) -> web.Response:
    params = await parse_params(request, EditMemberParams)
    member = await member_admin.update_member(
        ctx.catalog(request),
        ctx.actor(request),
        await _source(request, kind),
        parse_id(request.match_info["user_id"]),
        access_level=AccessLevel(params["access_level"]),
        expires_at=params["expires_at"],
    )
    return ctx.json(_schema(request).dump(member))


async def _remove(request: web.Request, kind: SourceKind) -> web.Response:
    await member_admin.remove_member(
        ctx.catalog(request),
        ctx.actor(request),
        await _source(request, kind),
        parse_id(request.match_info["user_id"]),
    )
    return web.Response(status=204)


async def list_project_members(request: web.Request) -> web.Response:
    return await _list(request, SourceKind.PROJECT, inherited=False)


async def list_all_project_members(request: web.Request) -> web.Response:
    return await _list(request, SourceKind.PROJECT, inherited=True)


async def get_project_member(request: web.Request) -> web.Response:
    return await _get(request, SourceKind.PROJECT, inherited=False)


async def get_inherited_project_member(request: web.Request) -> web.Response:
    return await _get(request, SourceKind.PROJECT, inherited=True)


async def edit_project_member(request: web.Request) -> web.Response:
    return await _edit(request, SourceKind.PROJECT)


async def remove_project_member(request: web.Request) -> web.Response:
    return await _remove(request, SourceKind.PROJECT)


async def list_group_members(request: web.Request) -> web.Response:
    return await _list(request, SourceKind.GROUP, inherited=False)


async def list_all_group_members(request: web.Request) -> web.Response:
    return await _list(request, SourceKind.GROUP, inherited=True)


async def get_group_member(request: web.Request) -> web.Response:
    return await _get(request, SourceKind.GROUP, inherited=False)


async def get_inherited_group_member(request: web.Request) -> web.Response:
    return await _get(request, SourceKind.GROUP, inherited=True)


async def edit_group_member(request: web.Request) -> web.Response:
    return await _edit(request, SourceKind.GROUP)


async def remove_group_member(request: web.Request) -> web.Response:
    return await _remove(request, SourceKind.GROUP)
