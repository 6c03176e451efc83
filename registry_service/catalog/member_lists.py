"""SQL for reading and changing the memberships of one project or group: its direct members,
all members including those inherited from the namespaces above it (highest level wins), one
member, a member's new level, a member's removal, and how many Owners a group has.
Only SQL lives here."""

from __future__ import annotations

from datetime import date, datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, parse_time
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.namespaces import escape_like
from registry_service.catalog.protocols import Reader, Row, Writer
from registry_service.catalog.rows import Member, User

_ANCESTORS = """WITH RECURSIVE anc(id) AS (
    SELECT CAST(:ns AS BIGINT)
    UNION ALL
    SELECT n.parent_id FROM namespaces n JOIN anc ON n.id = anc.id WHERE n.parent_id IS NOT NULL
)"""
_COLUMNS = (
    "u.*, m.id AS m_id, m.access_level AS m_level, m.expires_at AS m_expires,"
    " m.created_at AS m_created"
)


def _member(row: Row) -> Member:
    return Member(
        user=User.from_row(row),
        access_level=row["m_level"],
        expires_at=date.fromisoformat(row["m_expires"]) if row["m_expires"] else None,
        created_at=parse_time(row["m_created"]) or datetime.min,
    )


def _source(project_id: int | None, namespace_id: int | None) -> tuple[str, dict[str, object]]:
    """The condition selecting the direct memberships of a project or a group."""
    if project_id is not None:
        return "m.project_id = :pid", {"pid": project_id}
    return "m.namespace_id = :ns", {"ns": namespace_id}


async def select_members_page(
    db: Reader,
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
    inherited: bool,
    query: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Member], int]:
    """One page of a project's or group's members by user id, and the total. With
    ``inherited``, memberships of every namespace above count too, each user once at their
    highest level."""
    scope, params = await _scope(db, project_id, namespace_id, inherited)
    where = [scope, "u.marked_for_deletion_at IS NULL"]
    if query:
        like = dialect_of(db).like_ignoring_case
        where.append(f"(u.name {like} :q ESCAPE '\\' OR u.username {like} :q ESCAPE '\\')")
        params["q"] = "%" + escape_like(query) + "%"
    ranked = (
        f"{_ANCESTORS}, ranked AS (SELECT {_COLUMNS}, ROW_NUMBER() OVER ("
        " PARTITION BY m.user_id ORDER BY m.access_level DESC, m.id) AS pick"
        " FROM members m JOIN users u ON u.id = m.user_id"
        f" WHERE {' AND '.join(where)})"
    )
    total = await fetch_one(db, f"{ranked} SELECT COUNT(*) FROM ranked WHERE pick = 1", params)
    rows = await fetch_all(
        db,
        f"{ranked} SELECT * FROM ranked WHERE pick = 1 ORDER BY id LIMIT :limit OFFSET :offset",
        {**params, "limit": dialect_of(db).limit(limit), "offset": offset},
    )
    return [_member(r) for r in rows], int(total[0]) if total else 0


async def _scope(
    db: Reader, project_id: int | None, namespace_id: int | None, inherited: bool
) -> tuple[str, dict[str, object]]:
    """The condition on ``m`` (and the ``anc`` CTE's ``:ns``) selecting the memberships that
    count: direct ones, or also those of every namespace above."""
    params: dict[str, object] = {"pid": project_id, "ns": namespace_id}
    if inherited and project_id is not None:
        params["ns"] = await _project_namespace(db, project_id)
        return "(m.project_id = :pid OR m.namespace_id IN (SELECT id FROM anc))", params
    if inherited:
        return "m.namespace_id IN (SELECT id FROM anc)", params
    return _source(project_id, namespace_id)[0], params


async def _project_namespace(db: Reader, project_id: int) -> int | None:
    row = await fetch_one(db, "SELECT namespace_id FROM projects WHERE id = ?", (project_id,))
    return int(row[0]) if row else None


async def select_one_member(
    db: Reader,
    user_id: int,
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
    inherited: bool = False,
) -> Member | None:
    scope, params = await _scope(db, project_id, namespace_id, inherited)
    params["uid"] = user_id
    row = await fetch_one(
        db,
        f"{_ANCESTORS} SELECT {_COLUMNS} FROM members m JOIN users u ON u.id = m.user_id"
        f" WHERE {scope} AND m.user_id = :uid AND u.marked_for_deletion_at IS NULL"
        " ORDER BY m.access_level DESC, m.id LIMIT 1",
        params,
    )
    return _member(row) if row else None


async def update_member(
    tx: Writer,
    user_id: int,
    *,
    access_level: int,
    expires_at: date | None,
    project_id: int | None = None,
    namespace_id: int | None = None,
) -> bool:
    scope, params = _source(project_id, namespace_id)
    return (
        await execute(
            tx,
            f"UPDATE members AS m SET access_level = :level, expires_at = :expires"
            f" WHERE {scope} AND m.user_id = :uid",
            {
                **params,
                "uid": user_id,
                "level": access_level,
                "expires": expires_at.isoformat() if expires_at else None,
            },
        )
        == 1
    )


async def delete_member(
    tx: Writer, user_id: int, *, project_id: int | None = None, namespace_id: int | None = None
) -> bool:
    scope, params = _source(project_id, namespace_id)
    return (
        await execute(
            tx,
            f"DELETE FROM members AS m WHERE {scope} AND m.user_id = :uid",
            {**params, "uid": user_id},
        )
        == 1
    )


async def count_owners(db: Reader, namespace_id: int) -> int:
    """Direct Owners of a group who are not being deleted.

    Inside a write transaction on PostgreSQL, the group's row is locked first, so removals
    and demotions of its Owners count one after the other: two cannot both see "another
    Owner is left" and leave none."""
    lock = dialect_of(db).for_update
    if lock:
        await fetch_all(db, "SELECT id FROM namespaces WHERE id = ?" + lock, (namespace_id,))
    row = await fetch_one(
        db,
        "SELECT COUNT(*) FROM members m JOIN users u ON u.id = m.user_id"
        " WHERE m.namespace_id = ? AND m.access_level = 50 AND u.marked_for_deletion_at IS NULL",
        (namespace_id,),
    )
    return int(row[0]) if row else 0
