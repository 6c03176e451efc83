"""Handlers: job handles (issue 6; not GitLab's) — one job by id, a project's jobs.

Jobs are shown to whoever could have started them (see ``services.job_views``).
"""

from __future__ import annotations

from aiohttp import web

from registry_service.api.job_entities import JobSchema
from registry_service.api.registry_params import JobIdParams, ProjectJobsParams
from registry_service.http import context as ctx
from registry_service.http.fields import parse_params
from registry_service.services import job_views
from registry_service.services.users import require_signed_in

# The header on a 202 that names the job it started (E4, E6); the body stays GitLab's number.
JOB_ID_HEADER = "X-Registry-Job-Id"


def job_id_header(job_id: int) -> dict[str, str]:
    return {JOB_ID_HEADER: str(job_id)}


async def get_job(request: web.Request) -> web.Response:
    actor = ctx.actor(request)
    # As for E3: anonymous callers get 401 before anything is looked up.
    require_signed_in(actor)
    params = await parse_params(request, JobIdParams)
    view = await job_views.get_job(ctx.catalog(request), actor, params["job_id"])
    return ctx.json(JobSchema().dump(view))


async def list_project_jobs(request: web.Request) -> web.Response:
    catalog = ctx.catalog(request)
    access = await job_views.find_jobs_project(
        catalog, ctx.actor(request), request.match_info["id"]
    )
    params = await parse_params(request, ProjectJobsParams)
    page = params["page"]
    found, total = await job_views.list_project_jobs(
        catalog, access, kind=params["kind"], state=params["state"],
        limit=page.limit, offset=page.offset,
    )
    return ctx.paged(request, JobSchema(many=True).dump(found), page, total)
