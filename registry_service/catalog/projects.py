"""SQL for projects."""

from __future__ import annotations

from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time, insert
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.namespaces import MEMBER_NAMESPACES_CTE, escape_like
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import Project


async def insert_project(
    db: Writer,
    *,
    namespace_id: int,
    name: str,
    path: str,
    full_path: str,
    visibility: str,
    registry_access_level: str,
    description: str,
    creator_id: int | None,
    now: datetime,
) -> int:
    return await insert(
        db,
        "INSERT INTO projects (namespace_id, name, path, full_path, visibility,"
        " container_registry_access_level, description, creator_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            namespace_id,
            name,
            path,
            full_path,
            visibility,
            registry_access_level,
            description,
            creator_id,
            format_time(now),
        ),
    )


async def select_project_by_id(db: Reader, project_id: int) -> Project | None:
    row = await fetch_one(db, "SELECT * FROM projects WHERE id = ?", (project_id,))
    return Project.from_row(row) if row else None


async def update_project_description(
    tx: Writer, project_id: int, description: str
) -> None:
    await execute(tx, "UPDATE projects SET description = ? WHERE id = ?", (description, project_id))


async def update_registry_access_level(tx: Writer, project_id: int, level: str) -> None:
    await execute(
        tx,
        "UPDATE projects SET container_registry_access_level = ? WHERE id = ?",
        (level, project_id),
    )


async def select_project_by_path(db: Reader, full_path: str) -> Project | None:
    row = await fetch_one(db, "SELECT * FROM projects WHERE full_path = ?", (full_path,))
    return Project.from_row(row) if row else None


async def select_project_in_namespace(
    db: Reader, namespace_id: int, path: str
) -> Project | None:
    row = await fetch_one(
        db,
        # lower() on both sides: the path column ignores case in neither database's schema
        # (SQLite's index is on the path as written); the namespace narrows it to a few rows.
        "SELECT * FROM projects WHERE namespace_id = ? AND lower(path) = lower(?)",
        (namespace_id, path),
    )
    return Project.from_row(row) if row else None


PROJECT_ORDER = {
    "id": "p.id",
    "name": "p.name",
    "path": "p.path",
    "created_at": "p.created_at",
    "updated_at": "p.created_at",
    "last_activity_at": "p.created_at",
}


async def select_projects_page(
    db: Reader,
    *,
    user_id: int | None,
    see_all: bool,
    signed_in_non_external: bool,
    membership_only: bool,
    visibility: str | None,
    search: str | None,
    order_by: str,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[Project], int]:
    """One page of the projects a caller may see, and how many there are in all."""
    params: dict[str, object] = {"uid": user_id if user_id is not None else -1}
    member = (
        "p.namespace_id IN (SELECT id FROM member_ns)"
        " OR p.id IN (SELECT project_id FROM members WHERE user_id = :uid"
        " AND project_id IS NOT NULL)"
    )
    if membership_only:
        visible = member
    elif see_all:
        visible = "1 = 1"
    else:
        visible = (
            "p.visibility = 'public'"
            + (" OR p.visibility = 'internal'" if signed_in_non_external else "")
            + " OR "
            + member
        )
    # A project marked for deletion is gone already (catalog/deletions.py).
    where = [f"({visible})", "p.marked_for_deletion_at IS NULL"]
    if visibility:
        where.append("p.visibility = :visibility")
        params["visibility"] = visibility
    if search:
        like = dialect_of(db).like_ignoring_case
        where.append(
            f"(p.name {like} :search ESCAPE '\\' OR p.path {like} :search ESCAPE '\\'"
            ")"
        )
        params["search"] = "%" + escape_like(search) + "%"
    with_clause = "WITH RECURSIVE " + MEMBER_NAMESPACES_CTE
    condition = " AND ".join(where)
    direction = "ASC" if sort == "asc" else "DESC"
    column = PROJECT_ORDER.get(order_by, "p.created_at")
    total_row = await fetch_one(
        db, f"{with_clause} SELECT COUNT(*) FROM projects p WHERE {condition}", params
    )
    rows = await fetch_all(
        db,
        f"{with_clause} SELECT p.* FROM projects p WHERE {condition}"
        f" ORDER BY {column} {direction}, p.id {direction} LIMIT :limit OFFSET :offset",
        {**params, "limit": dialect_of(db).limit(limit), "offset": offset},
    )
    return [Project.from_row(r) for r in rows], int(total_row[0]) if total_row else 0


async def select_all_projects(db: Reader) -> list[Project]:
    return [Project.from_row(r) for r in await fetch_all(db, "SELECT * FROM projects ORDER BY id")]


async def select_projects_in_namespace_tree(db: Reader, namespace_id: int) -> list[Project]:
    """Every project of a namespace and of all the namespaces below it, by id."""
    rows = await fetch_all(
        db,
        "WITH RECURSIVE tree(id) AS ("
        " SELECT CAST(? AS BIGINT)"
        " UNION SELECT n.id FROM namespaces n JOIN tree ON n.parent_id = tree.id)"
        " SELECT p.* FROM projects p WHERE p.namespace_id IN (SELECT id FROM tree)"
        " ORDER BY p.id",
        (namespace_id,),
    )
    return [Project.from_row(r) for r in rows]
