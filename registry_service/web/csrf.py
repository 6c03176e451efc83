"""Anti-forgery checks for every form post: the form's ``csrf_token`` must equal the viewer's
(compared in constant time), or the post is refused with 403 before anything is done."""

from __future__ import annotations

import hmac

from aiohttp import web
from multidict import MultiDict

from registry_service.errors import Forbidden, InsufficientScope
from registry_service.web.sessions import Viewer

FIELD = "csrf_token"
REFUSED = (
    "This form's anti-forgery token is missing or does not match your session."
    " Nothing was changed. Reload the page and try again."
)


async def checked_form(
    request: web.Request, viewer: Viewer, *, writes: bool = True
) -> MultiDict[str]:
    """The posted form once its token matches. ``writes``: the post changes something, so a
    session opened with a read-only (``read_api``) token may not make it, as on the API."""
    form = await request.post()
    sent = form.get(FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode(), viewer.csrf_token.encode()
    ):
        raise Forbidden(REFUSED)
    scopes = viewer.actor.scopes
    if writes and scopes is not None and "api" not in scopes:
        raise InsufficientScope("api")
    # Pages take no file uploads: only text fields go on.
    return MultiDict((k, v) for k, v in form.items() if isinstance(v, str))
