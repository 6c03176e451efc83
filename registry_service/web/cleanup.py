"""Pages: a cleanup of one repository (Maintainer+, as the API's bulk delete) — the form,
prefilled from the project's policy; the preview, planned by the same service the API's
``dry_run`` uses (so it cannot differ from what the job then does); and "run", which asks for
the job exactly as the API does (same lease, same interval)."""

from __future__ import annotations

from aiohttp import web

from jobs.cleanup import Anchoring
from registry_service.http import context as ctx
from registry_service.keys import queue_key
from registry_service.services import cleanup_plans, projects, repositories, tags
from registry_service.services.permissions import Ability
from registry_service.services.policies import policy_of
from registry_service.web import cleanup_form
from registry_service.web.cleanup_form import CleanupForm
from registry_service.web.csrf import checked_form
from registry_service.web.lookups import readable_repository, repository_url
from registry_service.web.render import page, redirect, render
from registry_service.web.sessions import Viewer

# Tag lists on the page stop here (the counts are always complete).
SHOWN_TAGS = 500
FRAGMENT_HEADER = "X-Preview-Fragment"


async def _cleanup_page(
    request: web.Request,
    viewer: Viewer,
    form: CleanupForm | None,
    *,
    preview: cleanup_plans.CleanupPreview | None = None,
    problem: str | None = None,
    status: int = 200,
) -> web.Response:
    access, repository = await readable_repository(request, viewer)
    projects.require(access, viewer.actor, Ability.ADMIN_CONTAINER_IMAGE)
    policy = await policy_of(ctx.catalog(request), access.project)
    base = repository_url(access, repository)
    context = {
        "project": access.project,
        "repository": repository,
        "path": repositories.image_path(access.project, repository),
        "policy": policy,
        "form": form or cleanup_form.from_policy(policy),
        "preview": preview,
        "problem": problem,
        "shown": SHOWN_TAGS,
        "base_url": base,
        "anchoring": ctx.settings(request).cleanup.regex_anchoring,
    }
    fragment = request.headers.get(FRAGMENT_HEADER) == "1"
    return render(
        request, viewer, "_preview.html" if fragment else "cleanup.html", context, status=status
    )


@page
async def show_cleanup(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _cleanup_page(request, viewer, None)


@page
async def preview_cleanup(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    # The API's dry_run is a DELETE, which a read_api token may not send: the same here.
    posted = cleanup_form.parse_cleanup_form(await checked_form(request, viewer))
    if posted.problems:
        return await _cleanup_page(request, viewer, posted, status=400)
    access, repository = await readable_repository(request, viewer)
    anchoring = Anchoring(ctx.settings(request).cleanup.regex_anchoring)
    preview = await cleanup_plans.preview_cleanup(
        ctx.catalog(request), viewer.actor, access, repository,
        posted.params(anchoring), ctx.now(request),
    )
    return await _cleanup_page(request, viewer, posted, preview=preview)


@page
async def run_cleanup(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    posted = cleanup_form.parse_cleanup_form(await checked_form(request, viewer))
    if posted.problems:
        return await _cleanup_page(request, viewer, posted, status=400)
    access, repository = await readable_repository(request, viewer)
    settings = ctx.settings(request).cleanup
    job_id = await tags.request_cleanup(
        ctx.catalog(request), request.config_dict[queue_key], viewer.actor, access, repository,
        posted.params(Anchoring(settings.regex_anchoring)),
        interval_s=settings.bulk_delete_interval_seconds, now=ctx.now(request),
    )
    return redirect(f"/jobs/{job_id}")
