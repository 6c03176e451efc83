"""Who is looking at a page: the session a cookie names, or an anonymous visitor.

The session cookie is HttpOnly, SameSite=Lax, and Secure whenever the service is reached over
TLS. An anonymous visitor gets a second, random cookie that its sign-in form must echo back
(a double-submit token), so a third-party page cannot sign a browser into someone else's
account either.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from registry_service.http import context as ctx
from registry_service.services.permissions import ANONYMOUS, Actor
from registry_service.services.web_sessions import WebSession, find_session

SESSION_COOKIE = "registry_session"
ANONYMOUS_CSRF_COOKIE = "registry_csrf"


@dataclass(frozen=True)
class Viewer:
    actor: Actor
    session: WebSession | None
    # The value every form of this page carries back (the session's, or the anonymous one).
    csrf_token: str
    # A fresh anonymous token that the response must set as a cookie.
    sets_csrf_cookie: bool = False

    @property
    def signed_in(self) -> bool:
        return self.session is not None

    @property
    def username(self) -> str | None:
        return self.actor.username

    @property
    def is_admin(self) -> bool:
        return self.actor.is_admin


async def load_viewer(request: web.Request) -> Viewer:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = await find_session(ctx.catalog(request), cookie, ctx.now(request))
        if session is not None:
            return Viewer(session.actor, session, session.csrf_token)
    anonymous_token = request.cookies.get(ANONYMOUS_CSRF_COOKIE)
    if anonymous_token:
        return Viewer(ANONYMOUS, None, anonymous_token)
    return Viewer(ANONYMOUS, None, secrets.token_urlsafe(32), sets_csrf_cookie=True)


def _secure(request: web.Request) -> bool:
    return request.secure or ctx.settings(request).server.base_url.startswith("https://")


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, value: str, ttl: timedelta
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def set_anonymous_csrf_cookie(
    request: web.Request, response: web.StreamResponse, value: str
) -> None:
    response.set_cookie(
        ANONYMOUS_CSRF_COOKIE,
        value,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )
