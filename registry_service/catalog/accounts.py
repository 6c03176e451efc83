"""SQL for administering accounts: listing users, blocking them, what a user's deletion must
look at, and listing and revoking personal access tokens. Only SQL lives here."""

from __future__ import annotations

from registry_service.catalog.db import execute, fetch_all, fetch_one
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.namespaces import escape_like
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import Namespace, Token, User

USER_ORDER = {
    "id": "id",
    "name": "name",
    "username": "username",
    "created_at": "created_at",
    "updated_at": "created_at",
}


async def select_users_page(
    db: Reader,
    *,
    username: str | None,
    search: str | None,
    search_email: bool,
    states: set[str],
    order_by: str,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[User], int]:
    """One page of the users in one of ``states`` who are not being deleted, filtered, and
    how many match in all."""
    params: dict[str, object] = {f"state{n}": s for n, s in enumerate(sorted(states))}
    where = [
        "marked_for_deletion_at IS NULL",
        "state IN (" + ", ".join(f":{k}" for k in params) + ")" if params else "1 = 0",
    ]
    if username is not None:
        where.append("username = :username")  # the column is NOCASE, as GitLab's lookup
        params["username"] = username
    if search:
        like = dialect_of(db).like_ignoring_case
        params["search"] = "%" + escape_like(search) + "%"
        fields = ["name", "username"] + (["email"] if search_email else [])
        where.append(
            "(" + " OR ".join(f"{f} {like} :search ESCAPE '\\'" for f in fields) + ")"
        )
    condition = " AND ".join(where)
    direction = "ASC" if sort == "asc" else "DESC"
    column = USER_ORDER.get(order_by, "id")
    total = await fetch_one(db, f"SELECT COUNT(*) FROM users WHERE {condition}", params)
    rows = await fetch_all(
        db,
        f"SELECT * FROM users WHERE {condition} ORDER BY {column} {direction}, id {direction}"
        " LIMIT :limit OFFSET :offset",
        {**params, "limit": dialect_of(db).limit(limit), "offset": offset},
    )
    return [User.from_row(r) for r in rows], int(total[0]) if total else 0


async def update_user_state(tx: Writer, user_id: int, state: str) -> None:
    await execute(tx, "UPDATE users SET state = ? WHERE id = ?", (state, user_id))


async def select_solo_owned_groups(db: Reader, user_id: int) -> list[Namespace]:
    """Groups (not being deleted) whose only direct Owner is this user."""
    rows = await fetch_all(
        db,
        "SELECT n.* FROM namespaces n JOIN members m ON m.namespace_id = n.id"
        " WHERE n.kind = 'group' AND n.marked_for_deletion_at IS NULL"
        " AND m.user_id = ? AND m.access_level = 50"
        " AND NOT EXISTS (SELECT 1 FROM members o WHERE o.namespace_id = n.id"
        "  AND o.access_level = 50 AND o.user_id <> m.user_id)"
        " ORDER BY n.id",
        (user_id,),
    )
    return [Namespace.from_row(r) for r in rows]


async def delete_user_memberships(tx: Writer, user_id: int) -> int:
    return await execute(tx, "DELETE FROM members WHERE user_id = ?", (user_id,))


async def delete_user_tokens(tx: Writer, user_id: int) -> int:
    return await execute(tx, "DELETE FROM personal_access_tokens WHERE user_id = ?", (user_id,))


async def select_tokens_page(
    db: Reader, *, user_id: int | None, limit: int, offset: int
) -> tuple[list[Token], int]:
    """One page of personal access tokens by id, of one user or of everyone."""
    where = "WHERE user_id = :uid" if user_id is not None else ""
    params: dict[str, object] = {"uid": user_id}
    total = await fetch_one(db, f"SELECT COUNT(*) FROM personal_access_tokens {where}", params)
    rows = await fetch_all(
        db,
        f"SELECT * FROM personal_access_tokens {where} ORDER BY id LIMIT :limit OFFSET :offset",
        {**params, "limit": dialect_of(db).limit(limit), "offset": offset},
    )
    return [Token.from_row(r) for r in rows], int(total[0]) if total else 0


async def revoke_unrevoked_token(tx: Writer, token_id: int) -> bool:
    """Revoke a token that is not revoked yet; False if it was (or is gone)."""
    return (
        await execute(
            tx,
            "UPDATE personal_access_tokens SET revoked = 1 WHERE id = ? AND revoked = 0",
            (token_id,),
        )
        == 1
    )
