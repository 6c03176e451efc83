"""Managing personal access tokens through the API: listing (one's own; everyone's for
administrators), reading one, revoking, and rotating (a new value, the old one revoked).

GitLab's answers (lib/api/personal_access_tokens.rb): a non-administrator naming another user in
``user_id`` is 401; an unknown token id is the record miss (404 Not found); another user's token
is 404 to read and 400 to revoke or rotate; rotating a revoked or expired token is 400.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from registry_service.catalog import accounts as account_rows
from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Token
from registry_service.errors import BadRequest, NotFound, RecordNotFound, Unauthorized
from registry_service.services.permissions import Actor
from registry_service.services.tokens import (
    NewToken,
    check_scopes,
    is_expired,
    new_token_value,
    revoke_token,
    token_digest,
)
from registry_service.services.users import require_signed_in

SELF = "self"
# GitLab's default lifetime of a rotated token when no expires_at is given.
ROTATED_LIFETIME = timedelta(days=7)


async def list_tokens(
    catalog: CatalogBackend, actor: Actor, user_id: int | None, *, limit: int, offset: int
) -> tuple[list[Token], int]:
    me = require_signed_in(actor)
    if not actor.is_admin:
        if user_id is not None and user_id != me:
            raise Unauthorized()
        user_id = me
    elif user_id is not None and await user_rows.select_user_by_id(catalog.reader, user_id) is None:
        raise NotFound()
    return await account_rows.select_tokens_page(
        catalog.reader, user_id=user_id, limit=limit, offset=offset
    )


async def _token(catalog: CatalogBackend, actor: Actor, ref: str | int | None) -> Token:
    """The token ``:id`` (or ``self``) names; a miss is GitLab's record miss."""
    token_id = actor.token_id if ref == SELF else ref
    token = (
        await user_rows.select_token_by_id(catalog.reader, token_id)
        if isinstance(token_id, int)
        else None
    )
    if token is None:
        raise RecordNotFound()
    return token


def _own(actor: Actor, token: Token) -> bool:
    return actor.is_admin or token.user_id == actor.user_id


async def get_token(catalog: CatalogBackend, actor: Actor, ref: str | int | None) -> Token:
    require_signed_in(actor)
    token = await _token(catalog, actor, ref)
    if not _own(actor, token):
        raise NotFound()
    return token


async def revoke(catalog: CatalogBackend, actor: Actor, ref: str | int | None) -> None:
    require_signed_in(actor)
    token = await _token(catalog, actor, ref)
    if not _own(actor, token):
        raise BadRequest()
    await revoke_token(catalog, token.id)


async def rotate(
    catalog: CatalogBackend,
    actor: Actor,
    ref: str | int | None,
    *,
    expires_at: date | None,
    now: datetime,
) -> NewToken:
    """A new token with the old one's name and scopes; the old one is revoked in the same
    transaction as the new one is written, so exactly one of them works afterwards."""
    require_signed_in(actor)
    token = await _token(catalog, actor, ref)
    if not _own(actor, token):
        raise _bad_request("not allowed to rotate this token")
    if token.revoked:
        raise _bad_request("token already revoked")
    if is_expired(token, now):
        raise _bad_request("token already expired")
    expires = expires_at or (now + ROTATED_LIFETIME).date()
    if expires <= now.date():
        raise _bad_request("expires_at must be in the future")
    value = new_token_value()
    async with catalog.transaction() as tx:
        # Revoked only if still active: two rotations of one token cannot both succeed.
        if not await account_rows.revoke_unrevoked_token(tx, token.id):
            raise _bad_request("token already revoked")
        new_id = await user_rows.insert_token(
            tx,
            user_id=token.user_id,
            name=token.name,
            token_digest=token_digest(value),
            scopes=check_scopes(list(token.scopes)),
            expires_at=expires,
            now=now,
        )
        minted = await user_rows.select_token_by_id(tx, new_id)
    assert minted is not None
    return NewToken(minted, value)


def _bad_request(reason: str) -> BadRequest:
    # GitLab's bad_request!(message) wording.
    return BadRequest(f"400 Bad request - {reason}")
