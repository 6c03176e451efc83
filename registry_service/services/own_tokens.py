"""A signed-in user's own personal access tokens: listing, creating (the value is returned
once) and revoking. An administrator may revoke anyone's; anyone else only their own, and a
token of another user is as missing as an unknown id."""

from __future__ import annotations

from datetime import date, datetime

from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Token
from registry_service.errors import RecordNotFound, ValidationFailed
from registry_service.services import tokens
from registry_service.services.permissions import Actor
from registry_service.services.tokens import NewToken
from registry_service.services.users import require_signed_in

MAX_NAME_LENGTH = 255


async def list_own_tokens(catalog: CatalogBackend, actor: Actor) -> list[Token]:
    return await user_rows.select_tokens(catalog.reader, require_signed_in(actor))


async def create_own_token(
    catalog: CatalogBackend,
    actor: Actor,
    *,
    name: str,
    scopes: list[str],
    expires_at: date | None,
    now: datetime,
) -> NewToken:
    user_id = require_signed_in(actor)
    problems: dict[str, list[str]] = {}
    if not name.strip():
        problems["name"] = ["can't be blank"]
    elif len(name) > MAX_NAME_LENGTH:
        problems["name"] = [f"is too long (maximum is {MAX_NAME_LENGTH} characters)"]
    try:
        tokens.check_scopes(scopes)
    except ValueError as exc:
        problems["scopes"] = [str(exc)]
    if expires_at is not None and expires_at <= now.date():
        problems["expires_at"] = ["must be in the future"]
    if problems:
        raise ValidationFailed(problems)
    return await tokens.create_token(
        catalog, user_id=user_id, name=name.strip(), scopes=scopes, expires_at=expires_at,
        now=now,
    )


async def revoke_own_token(catalog: CatalogBackend, actor: Actor, token_id: int) -> Token:
    user_id = require_signed_in(actor)
    token = await user_rows.select_token_by_id(catalog.reader, token_id)
    if token is None or (token.user_id != user_id and not actor.is_admin):
        raise RecordNotFound()
    await tokens.revoke_token(catalog, token_id)
    return token
