"""SQL for deploy tokens, and the projects a deploy token reaches.

The row type lives here rather than in ``rows.py``: nothing but deploy-token code reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog.db import (
    execute,
    fetch_all,
    fetch_one,
    format_time,
    insert,
    parse_time,
)
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader, Row, Writer

DEFAULT_USERNAME_PREFIX = "gitlab+deploy-token-"


@dataclass(frozen=True)
class DeployToken:
    id: int
    # Exactly one of the two is set: the project or the group the token belongs to.
    project_id: int | None
    namespace_id: int | None
    name: str
    username: str
    token_digest: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    revoked: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> DeployToken:
        created_at = parse_time(row["created_at"])
        assert created_at is not None
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            namespace_id=row["namespace_id"],
            name=row["name"],
            username=row["username"],
            token_digest=row["token_digest"],
            scopes=tuple(row["scopes"].split()),
            expires_at=parse_time(row["expires_at"]),
            revoked=bool(row["revoked"]),
            created_at=created_at,
        )


async def insert_deploy_token(
    db: Writer,
    *,
    project_id: int | None,
    namespace_id: int | None,
    name: str,
    username: str | None,
    token_digest: str,
    scopes: list[str],
    expires_at: datetime | None,
    now: datetime,
) -> int:
    """Insert a token; without ``username`` it gets GitLab's ``gitlab+deploy-token-<id>``."""
    token_id = await insert(
        db,
        "INSERT INTO deploy_tokens (project_id, namespace_id, name, username, token_digest,"
        " scopes, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            project_id,
            namespace_id,
            name,
            username or "",
            token_digest,
            " ".join(scopes),
            format_time(expires_at) if expires_at else None,
            format_time(now),
        ),
    )
    if not username:
        await execute(
            db,
            "UPDATE deploy_tokens SET username = ? WHERE id = ?",
            (f"{DEFAULT_USERNAME_PREFIX}{token_id}", token_id),
        )
    return token_id


async def select_deploy_token_by_digest(db: Reader, token_digest: str) -> DeployToken | None:
    row = await fetch_one(
        db, "SELECT * FROM deploy_tokens WHERE token_digest = ?", (token_digest,)
    )
    return DeployToken.from_row(row) if row else None


async def select_deploy_token_by_id(db: Reader, token_id: int) -> DeployToken | None:
    row = await fetch_one(db, "SELECT * FROM deploy_tokens WHERE id = ?", (token_id,))
    return DeployToken.from_row(row) if row else None


def _owner_filter(
    project_id: int | None, namespace_id: int | None, active_at: datetime | None
) -> tuple[str, dict[str, object]]:
    conditions = ["1 = 1"]
    params: dict[str, object] = {}
    if project_id is not None:
        conditions.append("project_id = :project_id")
        params["project_id"] = project_id
    if namespace_id is not None:
        conditions.append("namespace_id = :namespace_id")
        params["namespace_id"] = namespace_id
    if active_at is not None:
        # Times are stored as sortable UTC text, so the comparison is a string one.
        conditions.append("revoked = 0 AND (expires_at IS NULL OR expires_at > :now)")
        params["now"] = format_time(active_at)
    return " AND ".join(conditions), params


async def select_deploy_tokens_page(
    db: Reader,
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
    active_at: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[list[DeployToken], int]:
    """One page of the tokens of a project, of a group, or of everything (neither given), by
    id; with ``active_at``, only those neither revoked nor expired then. Also the total."""
    condition, params = _owner_filter(project_id, namespace_id, active_at)
    total = await fetch_one(db, f"SELECT COUNT(*) FROM deploy_tokens WHERE {condition}", params)
    rows = await fetch_all(
        db,
        f"SELECT * FROM deploy_tokens WHERE {condition} ORDER BY id LIMIT :limit OFFSET :offset",
        {**params, "limit": dialect_of(db).limit(limit), "offset": offset},
    )
    return [DeployToken.from_row(r) for r in rows], int(total[0]) if total else 0


async def update_deploy_token_revoked(db: Writer, token_id: int) -> bool:
    return await execute(db, "UPDATE deploy_tokens SET revoked = 1 WHERE id = ?", (token_id,)) == 1


async def delete_deploy_token(db: Writer, token_id: int) -> bool:
    return await execute(db, "DELETE FROM deploy_tokens WHERE id = ?", (token_id,)) == 1


async def select_reached_project_ids(db: Reader, token: DeployToken) -> frozenset[int]:
    """The projects a token reaches: its own project, or every project below its group at
    any depth (asked when the token is used, so a project created later is reached too)."""
    if token.project_id is not None:
        return frozenset({token.project_id})
    rows = await fetch_all(
        db,
        "WITH RECURSIVE tree(id) AS ("
        " SELECT CAST(? AS BIGINT)"
        " UNION SELECT n.id FROM namespaces n JOIN tree ON n.parent_id = tree.id)"
        " SELECT p.id FROM projects p WHERE p.namespace_id IN (SELECT id FROM tree)",
        (token.namespace_id,),
    )
    return frozenset(int(r[0]) for r in rows)
