"""Pages: a project's or a group's deploy tokens — list, create (the value shown once, on the
answer to the form post, never in a URL), revoke — through the deploy token service, so its
rules are the API's: Maintainer+ of the owner, 404 for an owner the viewer cannot see.

The owner is the URL's: ``/projects/<id>/deploy-tokens`` or ``/groups/<id>/deploy-tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web

from registry_service.errors import BadRequest, RecordNotFound
from registry_service.http import context as ctx
from registry_service.services import deploy_tokens, groups, projects
from registry_service.services.deploy_credentials import is_expired
from registry_service.services.deploy_tokens import NewDeployToken, TokenOwner
from registry_service.web.csrf import checked_form
from registry_service.web.params import int_value, text_value
from registry_service.web.render import page, redirect, render
from registry_service.web.sessions import Viewer

PER_PAGE = 50


@dataclass(frozen=True)
class OwnerPage:
    """The project or group whose tokens a page shows, as the page names and links it."""

    kind: str
    full_path: str
    url: str


def _owner(request: web.Request) -> TokenOwner:
    if "project_id" in request.match_info:
        return TokenOwner("project", request.match_info["project_id"])
    return TokenOwner("group", request.match_info["group_id"])


async def _owner_page(request: web.Request, viewer: Viewer, owner: TokenOwner) -> OwnerPage:
    catalog = ctx.catalog(request)
    if owner.kind == "project":
        project = (await projects.find_project(catalog, viewer.actor, owner.ref)).project
        return OwnerPage("project", project.full_path, f"/projects/{project.id}")
    group = (await groups.find_group(catalog, viewer.actor, owner.ref)).group
    return OwnerPage("group", group.full_path, f"/groups/{group.id}")


async def _render_tokens(
    request: web.Request,
    viewer: Viewer,
    *,
    created: NewDeployToken | None = None,
    problem: str | None = None,
    status: int = 200,
) -> web.Response:
    owner = _owner(request)
    now = ctx.now(request)
    number = int_value(request.query, "page", 1, low=1, high=10_000)
    # The service checks who may manage the owner's tokens before anything is read.
    found, total = await deploy_tokens.list_deploy_tokens(
        ctx.catalog(request), viewer.actor, owner, active=False,
        limit=PER_PAGE, offset=(number - 1) * PER_PAGE, now=now,
    )
    return render(request, viewer, "deploy_tokens.html", {
        "owner": await _owner_page(request, viewer, owner),
        "tokens": [(t, is_expired(t, now)) for t in found],
        "total": total,
        "page": number,
        "pages": max(1, -(-total // PER_PAGE)),
        "scopes": deploy_tokens.AVAILABLE_SCOPES,
        "created": created,
        "problem": problem,
        "earliest_expiry": (now + timedelta(days=1)).date(),
        "registry_host": ctx.settings(request).registry_host,
    }, status=status)


@page
async def show_deploy_tokens(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _render_tokens(request, viewer)


def _expiry(value: str | None) -> datetime | None:
    """A date from the form means its midnight UTC, as a bare date does on the API.

    Raises ValueError for anything but YYYY-MM-DD."""
    if value is None:
        return None
    return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)


@page
async def create_deploy_token(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await checked_form(request, viewer)
    try:
        expires_at = _expiry(text_value(form, "expires_at"))
    except ValueError:
        return await _render_tokens(
            request, viewer, problem="The expiry date is not a date (YYYY-MM-DD).", status=400
        )
    try:
        created = await deploy_tokens.create_deploy_token(
            ctx.catalog(request), viewer.actor, _owner(request),
            name=form.get("name", ""), username=text_value(form, "username"),
            scopes=form.getall("scopes", []), expires_at=expires_at, now=ctx.now(request),
        )
    except BadRequest as exc:
        problem = exc.message or exc.gitlab_text
        return await _render_tokens(request, viewer, problem=problem, status=400)
    # The value is in this answer only; reloading or going back never shows it again.
    return await _render_tokens(request, viewer, created=created)


@page
async def revoke_deploy_token(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    await checked_form(request, viewer)
    try:
        token_id = int(request.match_info["token_id"])
    except ValueError:
        raise RecordNotFound() from None
    owner = _owner(request)
    # The API's DELETE: the token stops working at once and leaves the list.
    await deploy_tokens.delete_deploy_token(ctx.catalog(request), viewer.actor, owner, token_id)
    return redirect(request.path.rsplit("/", 2)[0])
