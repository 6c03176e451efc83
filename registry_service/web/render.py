"""Rendering pages: the ``page`` wrapper every handler goes through, templates, redirects, and
the HTML form of the service's errors.

``page`` finds the viewer, runs the handler, and turns a ``RegistryError`` into an error page
with the error's own status (the status the API would answer), so a page never builds an error
itself. Every response gets the same protective headers: a Content-Security-Policy that runs
only the app's own script files (no inline script, no other origin), no framing, no sniffing,
and no caching (a page may show a token once).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from registry_service.errors import RegistryError, Unauthorized
from registry_service.web.sessions import Viewer, load_viewer, set_anonymous_csrf_cookie

log = logging.getLogger("registry_service.web")

PageHandler = Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        viewer = await load_viewer(request)
        try:
            response = await handler(request, viewer)
        except RegistryError as exc:
            response = error_page(request, viewer, exc)
        response.headers.update(SECURITY_HEADERS)
        if viewer.sets_csrf_cookie:
            set_anonymous_csrf_cookie(request, response, viewer.csrf_token)
        return response

    return wrapped


def render(
    request: web.Request,
    viewer: Viewer,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    return aiohttp_jinja2.render_template(
        template, request, {"viewer": viewer, **context},
        status=status,
    )


def redirect(location: str) -> web.Response:
    """303 See Other: after a form post, the browser GETs the result."""
    return web.Response(status=303, headers={"Location": location})


def error_page(request: web.Request, viewer: Viewer, exc: RegistryError) -> web.Response:
    if exc.status >= 500:
        log.error("error on %s %s: %s", request.method, request.path, exc)
    message = exc.message or exc.gitlab_text
    return render(
        request,
        viewer,
        "error.html",
        {
            "status": exc.status,
            "message": message,
            "sign_in": isinstance(exc, Unauthorized) and not viewer.signed_in,
        },
        status=exc.status,
    )
