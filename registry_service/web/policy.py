"""Page: a project's cleanup policy (Maintainer+, as ``PUT /projects/:id``), changed through
the same service and validated by the same rules (GitLab's allowed values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from registry_service.errors import ValidationFailed
from registry_service.http import context as ctx
from registry_service.services import policies, projects
from registry_service.services.permissions import Ability
from registry_service.web.csrf import checked_form
from registry_service.web.render import page, redirect, render
from registry_service.web.sessions import Viewer


async def _policy_page(
    request: web.Request,
    viewer: Viewer,
    *,
    problems: Mapping[str, list[str]] | None = None,
    status: int = 200,
) -> web.Response:
    catalog = ctx.catalog(request)
    access = await projects.find_project(catalog, viewer.actor, request.match_info["project_id"])
    projects.require(access, viewer.actor, Ability.ADMIN_PROJECT)
    return render(request, viewer, "policy.html", {
        "project": access.project,
        "policy": await policies.policy_of(catalog, access.project),
        "cadences": list(policies.CADENCES),
        "keep_n_values": policies.KEEP_N_VALUES,
        "older_than_values": policies.OLDER_THAN_VALUES,
        "problems": {k.rpartition(".")[2]: v for k, v in (problems or {}).items()},
    }, status=status)


@page
async def show_policy(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _policy_page(request, viewer)


def _changes(form: Mapping[str, str]) -> dict[str, Any]:
    keep_n = form.get("keep_n", "")
    return {
        "enabled": form.get("enabled") == "on",
        "cadence": form.get("cadence", ""),
        "keep_n": int(keep_n) if keep_n.isdigit() else None,
        "older_than": form.get("older_than") or None,
        "name_regex": form.get("name_regex") or None,
        "name_regex_keep": form.get("name_regex_keep") or None,
    }


@page
async def update_policy(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await checked_form(request, viewer)
    project_id = request.match_info["project_id"]
    try:
        await projects.update_project(
            ctx.catalog(request), viewer.actor, project_id, description=None,
            policy_changes=_changes(form), now=ctx.now(request),
        )
    except ValidationFailed as exc:
        problems = (exc.body or {}).get("message", {})
        return await _policy_page(request, viewer, problems=problems, status=400)
    return redirect(f"/projects/{project_id}")
