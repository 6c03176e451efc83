"""Handlers: the tags of a project's container repository — list, details, delete one, delete
in bulk (gitlab-api.md E5-E8).

Each first finds the project and checks the read ability (GitLab's ``before`` block), then
parses its parameters (Grape), then finds the repository within the project.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from jobs.cleanup import Anchoring
from registry_service.api.job_entities import CleanupPreviewSchema
from registry_service.api.jobs import job_id_header
from registry_service.api.registry_entities import TagDetailsSchema, TagSchema
from registry_service.api.registry_params import (
    BulkDeleteTagsParams,
    RepositoryIdParams,
    TagListParams,
)
from registry_service.catalog.rows import Repository
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.http.pagination import keyset_link_header
from registry_service.services import cleanup_plans, repositories, tags
from registry_service.services.job_data import CleanupParams
from registry_service.services.projects import ProjectAccess

# Grape's ``status`` with no body of its own: the bare number goes out (Decision 8).
OK = 200
ACCEPTED = 202


async def _repository(
    request: web.Request, params_schema: type[RepositoryIdParams]
) -> tuple[ProjectAccess, dict[str, Any], Repository]:
    catalog = ctx.catalog(request)
    access = await repositories.find_readable_project(
        catalog, ctx.actor(request), request.match_info["id"]
    )
    params = await parse_params(request, params_schema)
    repository = await repositories.find_repository(catalog, access, params["repository_id"])
    return access, params, repository


def _tag_schema(request: web.Request, repository_path: str, *, many: bool = False) -> TagSchema:
    return TagSchema(
        registry_host=ctx.settings(request).registry_host,
        repository_path=repository_path,
        many=many,
    )


async def list_tags(request: web.Request) -> web.Response:
    access, params, repository = await _repository(request, TagListParams)
    path = repositories.image_path(access.project, repository)
    page = params["page"]
    if params["pagination"] == "keyset":
        keyset = await tags.list_tag_names_after(
            ctx.catalog(request),
            repository,
            last=params["last"],
            descending=params["sort"] == "desc",
            limit=page.size,
        )
        headers: dict[str, str] = {}
        if keyset.next_last is not None:
            headers["Link"] = keyset_link_header(
                request,
                ctx.base_url(request),
                {"per_page": page.size, "last": keyset.next_last, "sort": params["sort"]},
            )
        body = _tag_schema(request, path, many=True).dump(keyset.names)
        return ctx.json(body, headers=headers)
    names, total = await tags.list_tag_names(
        ctx.catalog(request), repository, limit=page.limit, offset=page.offset
    )
    return ctx.paged(request, _tag_schema(request, path, many=True).dump(names), page, total)


async def get_tag(request: web.Request) -> web.Response:
    access, _, repository = await _repository(request, RepositoryIdParams)
    details = await tags.get_tag(ctx.catalog(request), repository, request.match_info["tag_name"])
    schema = TagDetailsSchema(
        registry_host=ctx.settings(request).registry_host,
        repository_path=repositories.image_path(access.project, repository),
    )
    return ctx.json(schema.dump(details))


async def delete_tag(request: web.Request) -> web.Response:
    access, _, repository = await _repository(request, RepositoryIdParams)
    await tags.delete_tag(
        ctx.catalog(request),
        ctx.actor(request),
        access,
        repository,
        request.match_info["tag_name"],
        ctx.now(request),
    )
    return ctx.json(OK)


async def bulk_delete_tags(request: web.Request) -> web.Response:
    access, params, repository = await _repository(request, BulkDeleteTagsParams)
    cleanup = ctx.settings(request).cleanup
    wanted = CleanupParams(
        name_regex_delete=params["name_regex_delete"],
        name_regex=params["name_regex"],
        name_regex_keep=params["name_regex_keep"],
        keep_n=params["keep_n"],
        older_than=params["older_than"],
        # The job compiles the regexes again; it must anchor them as configured now.
        anchoring=Anchoring(cleanup.regex_anchoring),
    )
    catalog, actor, now = ctx.catalog(request), ctx.actor(request), ctx.now(request)
    if params["dry_run"]:
        preview = await cleanup_plans.preview_cleanup(
            catalog, actor, access, repository, wanted, now
        )
        return ctx.json(CleanupPreviewSchema().dump(preview))
    job_id = await tags.request_cleanup(
        catalog, ctx.queue(request), actor, access, repository, wanted,
        interval_s=cleanup.bulk_delete_interval_seconds, now=now,
    )
    return ctx.json(ACCEPTED, status=ACCEPTED, headers=job_id_header(job_id))
