"""SQL for memberships and the effective access level they add up to.

A membership in a namespace is inherited by every subgroup and project below it; the effective
level of a user on a project is the highest of its project membership and the memberships of
all its ancestor namespaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time, parse_time
from registry_service.catalog.protocols import Reader, Row, Writer
from registry_service.catalog.rows import Member, Project, User

_NAMESPACE_ANCESTORS = """
WITH RECURSIVE anc(id) AS (
    SELECT CAST(:ns AS BIGINT)
    UNION ALL
    SELECT n.parent_id FROM namespaces n JOIN anc ON n.id = anc.id WHERE n.parent_id IS NOT NULL
)"""


async def select_project_level(db: Reader, user_id: int, project_id: int) -> int:
    row = await fetch_one(
        db,
        _NAMESPACE_ANCESTORS.replace(":ns", "(SELECT namespace_id FROM projects WHERE id = :pid)")
        + " SELECT MAX(access_level) FROM members WHERE user_id = :uid"
        " AND (project_id = :pid OR namespace_id IN (SELECT id FROM anc))",
        {"uid": user_id, "pid": project_id},
    )
    return int(row[0]) if row and row[0] is not None else 0


def owning_project_cte(full_paths: Sequence[str]) -> tuple[str, dict[str, object]]:
    """``WITH RECURSIVE owning, anc``: the project at the longest of ``full_paths`` that is not
    marked for deletion (one row or none) and its ancestor namespaces; with its parameters.
    ``CALLER_LEVEL`` then reads the effective level of ``:uid`` on it."""
    params: dict[str, object] = {f"p{i}": path for i, path in enumerate(full_paths)}
    marks = ", ".join(f":p{i}" for i in range(len(full_paths)))
    return (
        # The paths are prefixes of one image path, so the longest is the deepest project
        # (gitlab-api.md §8); a marked project is skipped for the next one, as if absent.
        "WITH RECURSIVE owning AS ("
        f" SELECT * FROM projects WHERE full_path IN ({marks})"
        " AND marked_for_deletion_at IS NULL ORDER BY length(full_path) DESC LIMIT 1"
        "), anc(id) AS ("
        " SELECT namespace_id FROM owning"
        " UNION ALL"
        " SELECT n.parent_id FROM namespaces n JOIN anc ON n.id = anc.id"
        " WHERE n.parent_id IS NOT NULL"
        ")",
        params,
    )


# The effective level of ``:uid`` (NULL: none) on the project of ``owning_project_cte``, as
# ``select_project_level`` reads it.
CALLER_LEVEL = (
    "(SELECT MAX(access_level) FROM members WHERE user_id = :uid"
    " AND (project_id = owning.id OR namespace_id IN (SELECT id FROM anc))) AS caller_level"
)


async def select_owning_project_with_level(
    db: Reader, full_paths: Sequence[str], user_id: int | None
) -> tuple[Project, int] | None:
    """The project at the longest of ``full_paths`` that is not marked for deletion, with
    ``user_id``'s effective level on it (0 for None), in one statement: a /v2 request asks for
    both on every call, and on PostgreSQL each statement is a round trip."""
    if not full_paths:
        return None
    cte, params = owning_project_cte(full_paths)
    row = await fetch_one(
        db, f"{cte} SELECT owning.*, {CALLER_LEVEL} FROM owning", {**params, "uid": user_id}
    )
    if row is None:
        return None
    return Project.from_row(row), caller_level(row)


def caller_level(row: Row) -> int:
    """The ``caller_level`` column of a row: 0 when no membership counts."""
    level = row["caller_level"]
    return int(level) if level is not None else 0


async def select_namespace_level(db: Reader, user_id: int, namespace_id: int) -> int:
    row = await fetch_one(
        db,
        _NAMESPACE_ANCESTORS + " SELECT MAX(access_level) FROM members WHERE user_id = :uid"
        " AND namespace_id IN (SELECT id FROM anc)",
        {"uid": user_id, "ns": namespace_id},
    )
    return int(row[0]) if row and row[0] is not None else 0


async def upsert_member(
    db: Writer,
    *,
    user_id: int,
    namespace_id: int | None = None,
    project_id: int | None = None,
    access_level: int,
    expires_at: date | None,
    now: datetime,
) -> bool:
    """Add or change a membership; returns True if it was new."""
    column, source = ("namespace_id", namespace_id) if namespace_id else ("project_id", project_id)
    changed = await execute(
        db,
        f"UPDATE members SET access_level = ?, expires_at = ? WHERE {column} = ? AND user_id = ?",
        (access_level, expires_at.isoformat() if expires_at else None, source, user_id),
    )
    if changed:
        return False
    await execute(
        db,
        f"INSERT INTO members (user_id, {column}, access_level, expires_at, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            user_id,
            source,
            access_level,
            expires_at.isoformat() if expires_at else None,
            format_time(now),
        ),
    )
    return True


async def select_member(
    db: Reader,
    *,
    user_id: int,
    namespace_id: int | None = None,
    project_id: int | None = None,
) -> Member | None:
    column, source = ("namespace_id", namespace_id) if namespace_id else ("project_id", project_id)
    rows = await fetch_all(
        db,
        "SELECT u.*, m.access_level AS m_level, m.expires_at AS m_expires,"
        " m.created_at AS m_created FROM members m JOIN users u ON u.id = m.user_id"
        f" WHERE m.{column} = ? AND m.user_id = ?",
        (source, user_id),
    )
    if not rows:
        return None
    row = rows[0]
    return Member(
        user=User.from_row(row),
        access_level=row["m_level"],
        expires_at=date.fromisoformat(row["m_expires"]) if row["m_expires"] else None,
        created_at=parse_time(row["m_created"]) or datetime.min,
    )
