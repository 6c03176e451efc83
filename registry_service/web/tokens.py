"""Pages: the viewer's personal access tokens — list, create (the value shown once, on the
answer to the form post, never in a URL), revoke."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from registry_service.errors import RecordNotFound, ValidationFailed
from registry_service.http import context as ctx
from registry_service.services import own_tokens
from registry_service.services.tokens import VALID_SCOPES, NewToken
from registry_service.services.users import require_signed_in
from registry_service.web.csrf import checked_form
from registry_service.web.params import text_value
from registry_service.web.render import page, redirect, render
from registry_service.web.sessions import Viewer


async def _render_tokens(
    request: web.Request,
    viewer: Viewer,
    *,
    created: NewToken | None = None,
    problem: str | None = None,
    status: int = 200,
) -> web.Response:
    found = await own_tokens.list_own_tokens(ctx.catalog(request), viewer.actor)
    return render(request, viewer, "tokens.html", {
        "tokens": sorted(found, key=lambda t: t.id, reverse=True),
        "scopes": VALID_SCOPES,
        "created": created,
        "problem": problem,
        "today": ctx.now(request).date(),
    }, status=status)


@page
async def show_tokens(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    require_signed_in(viewer.actor)
    return await _render_tokens(request, viewer)


@page
async def create_token(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await checked_form(request, viewer)
    require_signed_in(viewer.actor)
    expires = text_value(form, "expires_at")
    try:
        expires_at = date.fromisoformat(expires) if expires else None
        created = await own_tokens.create_own_token(
            ctx.catalog(request), viewer.actor, name=form.get("name", ""),
            scopes=form.getall("scopes", []), expires_at=expires_at, now=ctx.now(request),
        )
    except ValueError:
        return await _render_tokens(
            request, viewer, problem="The expiry date is not a date (YYYY-MM-DD).", status=400
        )
    except ValidationFailed as exc:
        return await _render_tokens(request, viewer, problem=exc.message, status=400)
    # The value is in this answer only; reloading or going back never shows it again.
    return await _render_tokens(request, viewer, created=created)


@page
async def revoke_token(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    await checked_form(request, viewer)
    try:
        token_id = int(request.match_info["token_id"])
    except ValueError:
        raise RecordNotFound() from None
    await own_tokens.revoke_own_token(ctx.catalog(request), viewer.actor, token_id)
    return redirect("/tokens")
