"""Handlers: container repositories of a project or group, one repository, deleting one
(gitlab-api.md E1-E4).

Project endpoints check in GitLab's order (§4): project and read ability first (Grape's
``before`` block), then the parameters, then the repository within the project.
"""

from __future__ import annotations

from aiohttp import web

from registry_service.api.jobs import job_id_header
from registry_service.api.registry_entities import RepositorySchema
from registry_service.api.registry_params import (
    GroupRepositoriesParams,
    ProjectRepositoriesParams,
    RepositoryIdParams,
    RepositoryParams,
)
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import repositories
from registry_service.services.users import require_signed_in

# Grape's ``status 202`` with no body of its own: the bare number is what goes out (Decision 8).
ACCEPTED = 202


def _schema(request: web.Request, *, many: bool = False, **shown: bool) -> RepositorySchema:
    settings = ctx.settings(request)
    return RepositorySchema(
        base_url=settings.server.base_url,
        registry_host=settings.registry_host,
        many=many,
        exclude=RepositorySchema.omitting(**shown),
    )


async def list_project_repositories(request: web.Request) -> web.Response:
    catalog = ctx.catalog(request)
    access = await repositories.find_readable_project(
        catalog, ctx.actor(request), request.match_info["id"]
    )
    params = await parse_params(request, ProjectRepositoriesParams)
    page = params["page"]
    found, total = await repositories.list_project_repositories(
        catalog,
        access,
        tags=params["tags"],
        tags_count=params["tags_count"],
        limit=page.limit,
        offset=page.offset,
    )
    schema = _schema(request, many=True, tags=params["tags"], tags_count=params["tags_count"])
    return ctx.paged(request, schema.dump(found), page, total)


async def list_group_repositories(request: web.Request) -> web.Response:
    catalog = ctx.catalog(request)
    actor = ctx.actor(request)
    group = await repositories.find_readable_group(catalog, actor, request.match_info["id"])
    params = await parse_params(request, GroupRepositoriesParams)
    page = params["page"]
    found, total = await repositories.list_group_repositories(
        catalog, actor, group, limit=page.limit, offset=page.offset
    )
    return ctx.paged(request, _schema(request, many=True).dump(found), page, total)


async def get_repository(request: web.Request) -> web.Response:
    actor = ctx.actor(request)
    # Grape's ``before { authenticate! }``: anonymous callers get 401 before any validation.
    require_signed_in(actor)
    params = await parse_params(request, RepositoryParams)
    view = await repositories.get_repository(
        ctx.catalog(request),
        actor,
        params["id"],
        tags=params["tags"],
        tags_count=params["tags_count"],
        size=params["size"],
    )
    schema = _schema(
        request,
        tags=params["tags"],
        tags_count=params["tags_count"],
        size=params["size"],
        delete_api_path=view.may_admin,
    )
    return ctx.json(schema.dump(view))


async def delete_repository(request: web.Request) -> web.Response:
    catalog = ctx.catalog(request)
    actor = ctx.actor(request)
    access = await repositories.find_readable_project(catalog, actor, request.match_info["id"])
    params = await parse_params(request, RepositoryIdParams)
    repository = await repositories.find_repository(catalog, access, params["repository_id"])
    job_id = await repositories.schedule_deletion(
        catalog, ctx.queue(request), actor, access, repository, ctx.now(request)
    )
    return ctx.json(ACCEPTED, status=ACCEPTED, headers=job_id_header(job_id))
