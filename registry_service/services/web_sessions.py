"""The web interface's sessions: signing in with a username and personal access token,
finding the session a browser's cookie names, and signing out.

A session stands for the token it was opened with and carries that token's scopes, so a page
may do exactly what an API call with the token may. It ends at its own expiry, or as soon as
the token is revoked or expires or the user is blocked. Only the sha256 of the cookie's value
is stored; each session has its own random anti-forgery (CSRF) token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from registry_service.catalog import users as user_rows
from registry_service.catalog import web_sessions as session_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.errors import InsufficientScope, Unauthorized
from registry_service.services.permissions import Actor
from registry_service.services.tokens import (
    REST_SCOPES,
    actor_for,
    authenticate_basic,
    is_expired,
    token_digest,
)

SESSION_ID_BYTES = 32
CSRF_TOKEN_BYTES = 32
# One message for every failed sign-in: which half was wrong is not the caller's business.
SIGN_IN_REFUSED = "Invalid username or personal access token."


@dataclass(frozen=True)
class WebSession:
    actor: Actor
    csrf_token: str
    expires_at: datetime
    token_name: str


@dataclass(frozen=True)
class OpenedSession:
    """A new session and the only copy of its cookie value."""

    cookie_value: str
    session: WebSession


def _digest(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


async def sign_in(
    catalog: CatalogBackend, username: str, token: str, *, now: datetime, ttl: timedelta
) -> OpenedSession:
    """A session for the user of ``token`` (which must be theirs, valid, and carry ``api`` or
    ``read_api`` as the REST API requires); Unauthorized otherwise."""
    try:
        actor = await authenticate_basic(catalog, username, token, now)
    except Unauthorized:
        raise Unauthorized(SIGN_IN_REFUSED) from None
    if not (actor.scopes or frozenset()) & REST_SCOPES:
        raise InsufficientScope("api read_api")
    found = await user_rows.select_token_by_digest(catalog.reader, token_digest(token))
    assert found is not None  # authenticate_basic has just read it
    cookie_value = secrets.token_urlsafe(SESSION_ID_BYTES)
    csrf_token = secrets.token_urlsafe(CSRF_TOKEN_BYTES)
    expires_at = now + ttl
    async with catalog.transaction() as tx:
        # Sign-ins are rare; sweeping expired sessions here keeps the table small.
        await session_rows.delete_expired_sessions(tx, now)
        await session_rows.insert_session(
            tx,
            id_digest=_digest(cookie_value),
            token_id=found.id,
            csrf_token=csrf_token,
            now=now,
            expires_at=expires_at,
        )
    return OpenedSession(cookie_value, WebSession(actor, csrf_token, expires_at, found.name))


async def find_session(
    catalog: CatalogBackend, cookie_value: str, now: datetime
) -> WebSession | None:
    """The live session the cookie names; None if unknown, expired, or its token or user no
    longer valid."""
    row = await session_rows.select_session(catalog.reader, _digest(cookie_value))
    if (
        row is None
        or row.expires_at <= now
        or row.token.revoked
        or is_expired(row.token, now)
        or row.user.state != "active"
    ):
        return None
    actor = actor_for(row.user, frozenset(row.token.scopes))
    return WebSession(actor, row.csrf_token, row.expires_at, row.token.name)


async def sign_out(catalog: CatalogBackend, cookie_value: str) -> None:
    async with catalog.transaction() as tx:
        await session_rows.delete_session(tx, _digest(cookie_value))
