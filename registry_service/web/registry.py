"""Pages: a project's container registry (its repositories and cleanup policy status), and
deleting a repository (Maintainer+, after a confirmation step)."""

from __future__ import annotations

from aiohttp import web

from registry_service.http import context as ctx
from registry_service.keys import queue_key
from registry_service.services import projects, repositories, repository_overview
from registry_service.services.permissions import Ability
from registry_service.web.csrf import checked_form
from registry_service.web.lookups import readable_repository
from registry_service.web.params import int_value
from registry_service.web.render import page, redirect, render
from registry_service.web.sessions import Viewer

PER_PAGE = 20


@page
async def show_project_registry(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    number = int_value(request.query, "page", 1, low=1, high=100_000)
    overview = await repository_overview.project_registry(
        ctx.catalog(request), viewer.actor, request.match_info["project_id"],
        limit=PER_PAGE, offset=(number - 1) * PER_PAGE,
    )
    return render(request, viewer, "project.html", {
        "overview": overview,
        "project": overview.access.project,
        "page": number,
        "pages": max(1, -(-overview.total // PER_PAGE)),
        "registry_host": ctx.settings(request).registry_host,
        "may_manage_deploy_tokens": overview.access.can(
            viewer.actor, Ability.ADMIN_DEPLOY_TOKEN
        ),
    })


@page
async def delete_repository(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await checked_form(request, viewer)
    access, repository = await readable_repository(request, viewer)
    # Refused before the confirmation page too: the page offers only what the API allows.
    projects.require(access, viewer.actor, Ability.ADMIN_CONTAINER_IMAGE)
    path = repositories.image_path(access.project, repository)
    if form.get("confirmed") != "yes":
        return render(request, viewer, "confirm_repository_delete.html", {
            "project": access.project, "repository": repository, "path": path,
        })
    job_id = await repositories.schedule_deletion(
        ctx.catalog(request), request.config_dict[queue_key], viewer.actor, access,
        repository, ctx.now(request),
    )
    return redirect(f"/jobs/{job_id}")
