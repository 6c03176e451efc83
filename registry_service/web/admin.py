"""Pages for instance administrators: storage usage and garbage collection runs, and users
(create, block, unblock). Everyone else gets the API's 401 or 403."""

from __future__ import annotations

from aiohttp import web

from registry_service.errors import Conflict, UserNotFound, ValidationFailed
from registry_service.http import context as ctx
from registry_service.services import administration, user_admin, users
from registry_service.web.csrf import checked_form
from registry_service.web.params import text_value
from registry_service.web.render import page, redirect, render
from registry_service.web.sessions import Viewer

USERS_SHOWN = 500


@page
async def show_admin(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    catalog = ctx.catalog(request)
    usage = await administration.storage_usage(catalog, viewer.actor)
    runs = await administration.gc_runs(catalog, viewer.actor)
    return render(request, viewer, "admin.html", {"usage": usage, "runs": runs})


async def _users_page(
    request: web.Request, viewer: Viewer, *, problem: str | None = None, status: int = 200
) -> web.Response:
    users.require_admin(viewer.actor)
    # The API's listing (GET /users as an administrator), oldest first, one page of them.
    found, _ = await user_admin.list_users(
        ctx.catalog(request), viewer.actor, user_admin.UserFilter(sort="asc"),
        limit=USERS_SHOWN, offset=0,
    )
    return render(request, viewer, "admin_users.html", {"users": found, "problem": problem},
                  status=status)


@page
async def show_users(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _users_page(request, viewer)


@page
async def create_user(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await checked_form(request, viewer)
    users.require_admin(viewer.actor)
    username = form.get("username", "").strip()
    try:
        await users.create_user(
            ctx.catalog(request), username=username,
            name=text_value(form, "name") or username, email=text_value(form, "email"),
            is_admin=form.get("is_admin") == "on", now=ctx.now(request),
        )
    except (ValidationFailed, Conflict) as exc:
        return await _users_page(request, viewer, problem=exc.message, status=exc.status)
    return redirect("/admin/users")


async def _set_blocked(request: web.Request, viewer: Viewer, blocked: bool) -> web.Response:
    await checked_form(request, viewer)
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        raise UserNotFound() from None
    await user_admin.set_blocked(ctx.catalog(request), viewer.actor, user_id, blocked=blocked)
    return redirect("/admin/users")


@page
async def block_user(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _set_blocked(request, viewer, True)


@page
async def unblock_user(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _set_blocked(request, viewer, False)
