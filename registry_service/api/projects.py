"""Handlers: listing, reading and creating projects."""

from __future__ import annotations

from aiohttp import web

from registry_service.api.entities import ProjectSchema
from registry_service.api.params import (
    CreateProjectParams,
    ProjectListParams,
    UpdateProjectParams,
)
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import projects


def _schema(request: web.Request, *, many: bool = False) -> ProjectSchema:
    return ProjectSchema(
        base_url=ctx.base_url(request),
        registry_host=ctx.settings(request).registry_host,
        many=many,
    )


async def list_projects(request: web.Request) -> web.Response:
    params = await parse_params(request, ProjectListParams)
    page = params["page"]
    found, total = await projects.list_projects(
        ctx.catalog(request),
        ctx.actor(request),
        membership=params["membership"] or params["owned"],
        visibility=params["visibility"],
        search=params["search"],
        order_by=params["order_by"],
        sort=params["sort"],
        limit=page.limit,
        offset=page.offset,
    )
    return ctx.paged(request, _schema(request, many=True).dump(found), page, total)


async def get_project(request: web.Request) -> web.Response:
    catalog = ctx.catalog(request)
    access = await projects.find_project(catalog, ctx.actor(request), request.match_info["id"])
    return ctx.json(_schema(request).dump(await projects.view(catalog, access.project)))


async def update_project(request: web.Request) -> web.Response:
    params = await parse_params(request, UpdateProjectParams)
    view = await projects.update_project(
        ctx.catalog(request),
        ctx.actor(request),
        request.match_info["id"],
        description=params.get("description"),
        policy_changes=params.get("container_expiration_policy_attributes"),
        now=ctx.now(request),
        registry_access_level=params.get("container_registry_access_level"),
    )
    return ctx.json(_schema(request).dump(view))


async def create_project(request: web.Request) -> web.Response:
    params = await parse_params(request, CreateProjectParams)
    level = params["container_registry_access_level"]
    if level is None:
        level = "disabled" if params["container_registry_enabled"] is False else "enabled"
    view = await projects.create_project(
        ctx.catalog(request),
        ctx.actor(request),
        name=params["name"],
        path=params["path"],
        namespace_id=params["namespace_id"],
        visibility=params["visibility"],
        registry_access_level=level,
        description=params["description"],
        now=ctx.now(request),
    )
    return ctx.json(_schema(request).dump(view), status=201)
