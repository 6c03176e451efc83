"""Personal access tokens: minting, hashing, and turning a presented token into an ``Actor``.

Tokens are stored only as their sha256 digest. A token is high-entropy random text, so a plain
digest is enough to make a stolen catalog useless for logging in; the lookup is by digest and the
final comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from registry_service.catalog import credentials as credential_rows
from registry_service.catalog import users as user_rows
from registry_service.catalog.errors import UniqueViolated
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Token, User
from registry_service.errors import TokenInvalid, Unauthorized, UserBlocked
from registry_service.services.deploy_credentials import deploy_token_actor
from registry_service.services.permissions import Actor

TOKEN_PREFIX = "glpat-"
VALID_SCOPES = ("api", "read_api", "read_registry", "write_registry")
# Scopes that grant the REST API (/api/v4); the registry scopes only grant /v2.
REST_SCOPES = frozenset({"api", "read_api"})
REGISTRY_READ_SCOPES = frozenset({"api", "read_api", "read_registry", "write_registry"})
REGISTRY_WRITE_SCOPES = frozenset({"api", "write_registry"})


def new_token_value() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_expired(token: Token, now: datetime) -> bool:
    # GitLab treats a token as expired from the first instant of its expiry date.
    return token.expires_at is not None and token.expires_at <= now.date()


@dataclass(frozen=True)
class NewToken:
    """A freshly minted token: the only time its value is known."""

    token: Token
    value: str


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in VALID_SCOPES]
    if unknown or not scopes:
        raise ValueError(
            f"scopes must be some of {', '.join(VALID_SCOPES)}; got {', '.join(scopes) or 'none'}"
        )
    return sorted(set(scopes), key=VALID_SCOPES.index)


class TokenValueTaken(ValueError):
    """A chosen token value (``admin tokens create --value``) that another token already has."""


async def create_token(
    catalog: CatalogBackend,
    *,
    user_id: int,
    name: str,
    scopes: list[str],
    expires_at: date | None,
    now: datetime,
    value: str | None = None,
) -> NewToken:
    """Mint (or, with ``value``, register a chosen) token for a user.

    Raises TokenValueTaken when a chosen ``value`` is already some token's."""
    chosen = value is not None
    value = value or new_token_value()
    try:
        async with catalog.transaction() as tx:
            token_id = await user_rows.insert_token(
                tx,
                user_id=user_id,
                name=name,
                token_digest=token_digest(value),
                scopes=check_scopes(scopes),
                expires_at=expires_at,
                now=now,
            )
            token = await user_rows.select_token_by_id(tx, token_id)
    except UniqueViolated:
        if not chosen:
            raise
        raise TokenValueTaken("that token value is already registered") from None
    assert token is not None
    return NewToken(token, value)


async def revoke_token(catalog: CatalogBackend, token_id: int) -> bool:
    async with catalog.transaction() as tx:
        return await user_rows.update_token_revoked(tx, token_id)


async def list_tokens(catalog: CatalogBackend, user_id: int | None) -> list[Token]:
    """The tokens of one user, or of everyone, in creation order; never their values."""
    return await user_rows.select_tokens(catalog.reader, user_id)


def actor_for(user: User, scopes: frozenset[str] | None, token_id: int | None = None) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        external=user.external,
        scopes=scopes,
        token_id=token_id,
    )


async def authenticate(catalog: CatalogBackend, presented: str, now: datetime) -> Actor:
    """The actor a token stands for; 401 if it is unknown, expired or revoked, 403 (GitLab's
    /api/v4 answer) if its user is blocked."""
    digest = token_digest(presented)
    found = await credential_rows.select_token_with_user(catalog.reader, digest)
    return personal_token_actor(found.token, found.user, digest, now)


def personal_token_actor(
    token: Token | None, user: User | None, digest: str, now: datetime
) -> Actor:
    """The actor of a personal token looked up by ``digest`` (with its user); the errors of
    ``authenticate``."""
    if token is None or not hmac.compare_digest(token.token_digest, digest):
        raise Unauthorized()
    if token.revoked:
        raise TokenInvalid(
            "Token has been revoked. You can either do re-authorization or token refresh."
        )
    if is_expired(token, now):
        raise TokenInvalid(
            "Token is expired. You can either do re-authorization or token refresh."
        )
    if user is None or user.marked_for_deletion_at is not None:
        raise Unauthorized()
    if user.state != "active":
        raise UserBlocked()
    return actor_for(user, frozenset(token.scopes), token.id)


async def authenticate_basic(
    catalog: CatalogBackend, username: str, password: str, now: datetime
) -> Actor:
    """HTTP Basic for /v2: a username and one of that user's tokens, or a deploy token's
    username and value. A blocked user is 401 there, as an unknown one (the registry's
    challenge is the only answer /v2 has).

    Both kinds are looked up in one statement (a deploy token wins, as it always has); the
    checks are the same as ``authenticate``'s and ``deploy_token_actor``'s."""
    digest = token_digest(password)
    found = await credential_rows.select_credentials(catalog.reader, digest)
    deploy_token = await deploy_token_actor(catalog, found.deploy_token, username, digest, now)
    if deploy_token is not None:
        return deploy_token
    try:
        actor = personal_token_actor(found.token, found.user, digest, now)
    except UserBlocked:
        raise Unauthorized() from None
    if actor.username is None or actor.username.lower() != username.lower():
        raise Unauthorized()
    return actor
