"""Pages: background jobs — a project's jobs, and one job with its state, counts and progress,
which keeps itself up to date while the job is queued or running (a small script fetches the
progress panel each second; without script, a <meta refresh> reloads the page).

Jobs are shown to whoever could have started them, as on the API (``services.job_views``).
"""

from __future__ import annotations

from aiohttp import web

from registry_service.errors import JobNotFound
from registry_service.http import context as ctx
from registry_service.services import job_views
from registry_service.services.job_data import CleanupCounts
from registry_service.services.job_views import JobView
from registry_service.services.users import require_signed_in
from registry_service.web.render import page, render
from registry_service.web.sessions import Viewer

RUNNING = frozenset({"queued", "running"})
PER_PAGE = 50


def progress_of(view: JobView) -> tuple[int, int] | None:
    """(done, of) for a job that says how far it is, else None."""
    counts = view.counts
    if not isinstance(counts, CleanupCounts):
        return None
    planned, done = counts.planned, counts.processed
    if planned is not None and done is not None and planned > 0:
        return min(done, planned), planned
    return None


async def _job(request: web.Request, viewer: Viewer) -> JobView:
    require_signed_in(viewer.actor)
    try:
        job_id = int(request.match_info["job_id"])
    except ValueError:
        raise JobNotFound() from None
    return await job_views.get_job(ctx.catalog(request), viewer.actor, job_id)


def _context(view: JobView) -> dict[str, object]:
    return {
        "view": view,
        "job": view.job,
        "running": view.job.state in RUNNING,
        "progress": progress_of(view),
    }


@page
async def show_job(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return render(request, viewer, "job.html", _context(await _job(request, viewer)))


@page
async def show_job_progress(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return render(request, viewer, "_job_progress.html", _context(await _job(request, viewer)))


@page
async def show_project_jobs(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    catalog = ctx.catalog(request)
    access = await job_views.find_jobs_project(
        catalog, viewer.actor, request.match_info["project_id"]
    )
    found, total = await job_views.list_project_jobs(
        catalog, access, kind=None, state=None, limit=PER_PAGE, offset=0
    )
    return render(request, viewer, "jobs.html", {
        "project": access.project, "jobs": found, "total": total,
        "progress_of": progress_of,
    })
