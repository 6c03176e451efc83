"""Pages: the projects and groups the viewer can see (with search), and a group's images."""

from __future__ import annotations

from aiohttp import web

from registry_service.http import context as ctx
from registry_service.services import groups, projects, repositories
from registry_service.services.permissions import Ability
from registry_service.web.params import int_value, text_value
from registry_service.web.render import page, render
from registry_service.web.sessions import Viewer

PER_PAGE = 25


@page
async def show_home(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    catalog = ctx.catalog(request)
    search = text_value(request.query, "search")
    number = int_value(request.query, "page", 1, low=1, high=10_000)
    # GitLab's GET /projects: what the viewer can see (anonymous: public projects only).
    found, total = await projects.list_projects(
        catalog, viewer.actor, membership=False, visibility=None, search=search,
        order_by="path", sort="asc", limit=PER_PAGE, offset=(number - 1) * PER_PAGE,
    )
    found_groups, groups_total = await groups.list_groups(
        catalog, viewer.actor, all_available=True, search=search, top_level_only=False,
        order_by="path", sort="asc", limit=PER_PAGE, offset=0,
    )
    return render(request, viewer, "home.html", {
        "search": search or "",
        "projects": found,
        "total": total,
        "page": number,
        "pages": max(1, -(-total // PER_PAGE)),
        "groups": found_groups,
        "groups_total": groups_total,
    })


@page
async def show_group(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    catalog = ctx.catalog(request)
    access = await repositories.find_readable_group(
        catalog, viewer.actor, request.match_info["group_id"]
    )
    number = int_value(request.query, "page", 1, low=1, high=10_000)
    found, total = await repositories.list_group_repositories(
        catalog, viewer.actor, access, limit=PER_PAGE, offset=(number - 1) * PER_PAGE
    )
    return render(request, viewer, "group.html", {
        "group": access.group,
        "repositories": found,
        "total": total,
        "page": number,
        "pages": max(1, -(-total // PER_PAGE)),
        "may_manage_deploy_tokens": access.can(viewer.actor, Ability.ADMIN_DEPLOY_TOKEN),
    })
