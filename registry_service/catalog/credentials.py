"""SQL for what a presented secret may be: a deploy token, or a personal access token and its
user, read together in one statement.

A secret at ``/v2`` (HTTP Basic) may be either kind, and each was one or two lookups of its own;
on PostgreSQL each lookup is a round trip, so this reads all three tables by the one digest at
once. Both digest columns are unique, so the answer is at most one row of each. Only SQL lives
here: which kind wins and what makes one invalid is ``services.tokens``' business.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry_service.catalog.db import fetch_one
from registry_service.catalog.deploy_tokens import DeployToken
from registry_service.catalog.protocols import Reader, Row
from registry_service.catalog.rows import PrefixedRow, Token, User, prefixed_columns

_TOKEN_COLUMNS = (
    "id, user_id, name, token_digest, scopes, expires_at, revoked, created_at, last_used_at"
)
_DEPLOY_TOKEN_COLUMNS = (
    "id, project_id, namespace_id, name, username, token_digest, scopes, expires_at, revoked,"
    " created_at"
)
# The user's columns come unprefixed (``u.*``): the two token tables' are prefixed.
_TOKEN_WITH_USER = (
    f"SELECT {prefixed_columns('t', _TOKEN_COLUMNS, 't_')}, u.*"
    " FROM personal_access_tokens t LEFT JOIN users u ON u.id = t.user_id"
    " WHERE t.token_digest = ?"
)
# One row whatever matches: the probe row is left-joined to each kind, NULLs where none does.
_ANY_CREDENTIAL = (
    f"SELECT {prefixed_columns('d', _DEPLOY_TOKEN_COLUMNS, 'd_')},"
    f" {prefixed_columns('t', _TOKEN_COLUMNS, 't_')}, u.*"
    " FROM (SELECT 1 AS probe) AS probe"
    " LEFT JOIN deploy_tokens d ON d.token_digest = :digest"
    " LEFT JOIN personal_access_tokens t ON t.token_digest = :digest"
    " LEFT JOIN users u ON u.id = t.user_id"
)


@dataclass(frozen=True)
class Credentials:
    """What one digest names: a deploy token, a personal token with its user, or neither.
    ``user`` is None only when ``token`` is, or when the token's user row is gone."""

    deploy_token: DeployToken | None
    token: Token | None
    user: User | None


async def select_token_with_user(db: Reader, token_digest: str) -> Credentials:
    """The personal access token with this digest and its user, in one statement (never a
    deploy token: ``/api/v4`` takes none)."""
    row = await fetch_one(db, _TOKEN_WITH_USER, (token_digest,))
    if row is None:
        return Credentials(None, None, None)
    return Credentials(None, Token.from_row(PrefixedRow(row, "t_")), _user(row))


async def select_credentials(db: Reader, token_digest: str) -> Credentials:
    """The deploy token and the personal access token (with its user) with this digest, in
    one statement."""
    row = await fetch_one(db, _ANY_CREDENTIAL, {"digest": token_digest})
    assert row is not None  # the probe row is always there
    deploy_token = DeployToken.from_row(PrefixedRow(row, "d_")) if row["d_id"] is not None else None
    token = Token.from_row(PrefixedRow(row, "t_")) if row["t_id"] is not None else None
    return Credentials(deploy_token, token, _user(row))


def _user(row: Row) -> User | None:
    return User.from_row(row) if row["id"] is not None else None
