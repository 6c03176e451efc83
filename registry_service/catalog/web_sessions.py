"""SQL for the web interface's sessions (migration 0006). Only SQL lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from registry_service.catalog.db import execute, fetch_one, format_time, parse_time
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import Token, User


@dataclass(frozen=True)
class WebSessionRow:
    """A session with the token it stands for and that token's user."""

    csrf_token: str
    expires_at: datetime
    token: Token
    user: User


async def insert_session(
    db: Writer,
    *,
    id_digest: str,
    token_id: int,
    csrf_token: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await execute(
        db,
        "INSERT INTO web_sessions (id_digest, token_id, csrf_token, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (id_digest, token_id, csrf_token, format_time(now), format_time(expires_at)),
    )


async def select_session(db: Reader, id_digest: str) -> WebSessionRow | None:
    """The session, its token and user in one statement (every page asks for it)."""
    row = await fetch_one(
        db,
        "SELECT s.csrf_token AS s_csrf, s.expires_at AS s_expires,"
        " t.id AS t_id, t.user_id AS t_user_id, t.name AS t_name,"
        " t.token_digest AS t_token_digest, t.scopes AS t_scopes,"
        " t.expires_at AS t_expires_at, t.revoked AS t_revoked,"
        " t.created_at AS t_created_at, t.last_used_at AS t_last_used_at, u.*"
        " FROM web_sessions s JOIN personal_access_tokens t ON t.id = s.token_id"
        " JOIN users u ON u.id = t.user_id WHERE s.id_digest = ?",
        (id_digest,),
    )
    if row is None:
        return None
    token = Token(
        id=row["t_id"],
        user_id=row["t_user_id"],
        name=row["t_name"],
        token_digest=row["t_token_digest"],
        scopes=tuple(row["t_scopes"].split()),
        expires_at=date.fromisoformat(row["t_expires_at"]) if row["t_expires_at"] else None,
        revoked=bool(row["t_revoked"]),
        created_at=_required(row["t_created_at"]),
        last_used_at=parse_time(row["t_last_used_at"]),
    )
    return WebSessionRow(row["s_csrf"], _required(row["s_expires"]), token, User.from_row(row))


def _required(text: str) -> datetime:
    when = parse_time(text)
    assert when is not None
    return when


async def delete_session(db: Writer, id_digest: str) -> None:
    await execute(db, "DELETE FROM web_sessions WHERE id_digest = ?", (id_digest,))


async def delete_expired_sessions(db: Writer, now: datetime) -> int:
    return await execute(
        db, "DELETE FROM web_sessions WHERE expires_at <= ?", (format_time(now),)
    )
