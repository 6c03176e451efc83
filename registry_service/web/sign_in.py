"""Pages: signing in with a username and personal access token, and signing out.

The token travels only in the body of a POST, never in a URL, and is never written back into
a page (a failed attempt shows the form with the username only).
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from registry_service.errors import Forbidden, Unauthorized
from registry_service.http import context as ctx
from registry_service.services import web_sessions
from registry_service.web.csrf import checked_form
from registry_service.web.render import page, redirect, render
from registry_service.web.sessions import (
    SESSION_COOKIE,
    Viewer,
    clear_session_cookie,
    set_session_cookie,
)


@page
async def show_sign_in(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    if viewer.signed_in:
        return redirect("/")
    return render(request, viewer, "sign_in.html", {"username": "", "problem": None})


@page
async def sign_in(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await checked_form(request, viewer, writes=False)
    username = form.get("username", "").strip()
    ttl = timedelta(seconds=ctx.settings(request).web.session_ttl_seconds)
    try:
        opened = await web_sessions.sign_in(
            ctx.catalog(request), username, form.get("token", ""), now=ctx.now(request), ttl=ttl
        )
    except (Unauthorized, Forbidden) as exc:
        return render(
            request, viewer, "sign_in.html",
            {"username": username, "problem": exc.message or exc.gitlab_text},
            status=exc.status,
        )
    response = redirect("/")
    set_session_cookie(request, response, opened.cookie_value, ttl)
    return response


@page
async def sign_out(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    await checked_form(request, viewer, writes=False)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await web_sessions.sign_out(ctx.catalog(request), cookie)
    response = redirect("/sign-in")
    clear_session_cookie(response)
    return response
