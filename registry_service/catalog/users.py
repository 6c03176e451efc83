"""SQL for users and their personal access tokens."""

from __future__ import annotations

from datetime import date, datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time, insert
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import Token, User


async def insert_user(
    db: Writer,
    *,
    username: str,
    name: str,
    email: str | None,
    is_admin: bool,
    external: bool,
    now: datetime,
) -> int:
    return await insert(
        db,
        "INSERT INTO users (username, name, email, is_admin, external, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (username, name, email, int(is_admin), int(external), format_time(now)),
    )


async def update_user(
    db: Writer, user_id: int, *, name: str, email: str | None, is_admin: bool
) -> None:
    await execute(
        db,
        "UPDATE users SET name = ?, email = ?, is_admin = ? WHERE id = ?",
        (name, email, int(is_admin), user_id),
    )


async def select_user_by_id(db: Reader, user_id: int) -> User | None:
    row = await fetch_one(db, "SELECT * FROM users WHERE id = ?", (user_id,))
    return User.from_row(row) if row else None


async def select_user_by_username(db: Reader, username: str) -> User | None:
    row = await fetch_one(db, "SELECT * FROM users WHERE username = ?", (username,))
    return User.from_row(row) if row else None


async def select_user_by_email(db: Reader, email: str) -> User | None:
    row = await fetch_one(db, "SELECT * FROM users WHERE email = ?", (email,))
    return User.from_row(row) if row else None


async def select_users(db: Reader) -> list[User]:
    return [User.from_row(r) for r in await fetch_all(db, "SELECT * FROM users ORDER BY id")]


async def count_users(db: Reader) -> int:
    row = await fetch_one(db, "SELECT COUNT(*) FROM users")
    return int(row[0]) if row else 0


async def insert_token(
    db: Writer,
    *,
    user_id: int,
    name: str,
    token_digest: str,
    scopes: list[str],
    expires_at: date | None,
    now: datetime,
) -> int:
    return await insert(
        db,
        "INSERT INTO personal_access_tokens"
        " (user_id, name, token_digest, scopes, expires_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            user_id,
            name,
            token_digest,
            " ".join(scopes),
            expires_at.isoformat() if expires_at else None,
            format_time(now),
        ),
    )


async def select_token_by_digest(db: Reader, token_digest: str) -> Token | None:
    row = await fetch_one(
        db, "SELECT * FROM personal_access_tokens WHERE token_digest = ?", (token_digest,)
    )
    return Token.from_row(row) if row else None


async def select_token_by_id(db: Reader, token_id: int) -> Token | None:
    row = await fetch_one(db, "SELECT * FROM personal_access_tokens WHERE id = ?", (token_id,))
    return Token.from_row(row) if row else None


async def select_tokens(db: Reader, user_id: int | None = None) -> list[Token]:
    if user_id is None:
        rows = await fetch_all(db, "SELECT * FROM personal_access_tokens ORDER BY id")
    else:
        rows = await fetch_all(
            db, "SELECT * FROM personal_access_tokens WHERE user_id = ? ORDER BY id", (user_id,)
        )
    return [Token.from_row(r) for r in rows]


async def update_token_revoked(db: Writer, token_id: int) -> bool:
    return (
        await execute(
            db, "UPDATE personal_access_tokens SET revoked = 1 WHERE id = ?", (token_id,)
        )
        == 1
    )
