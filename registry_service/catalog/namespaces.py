"""SQL for namespaces: groups (nested to any depth) and users' personal namespaces."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from registry_service.catalog.db import fetch_all, fetch_one, format_time, insert
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import Namespace

# Namespaces where a user holds a membership, and everything below them (inheritance).
MEMBER_NAMESPACES_CTE = """
member_ns(id) AS (
    SELECT namespace_id FROM members WHERE user_id = :uid AND namespace_id IS NOT NULL
    UNION
    SELECT n.id FROM namespaces n JOIN member_ns m ON n.parent_id = m.id
)"""


async def insert_namespace(
    db: Writer,
    *,
    kind: str,
    name: str,
    path: str,
    full_path: str,
    parent_id: int | None,
    owner_id: int | None,
    visibility: str,
    description: str,
    now: datetime,
) -> int:
    return await insert(
        db,
        "INSERT INTO namespaces (kind, name, path, full_path, parent_id, owner_id, visibility,"
        " description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            kind,
            name,
            path,
            full_path,
            parent_id,
            owner_id,
            visibility,
            description,
            format_time(now),
        ),
    )


async def select_namespace_by_id(db: Reader, namespace_id: int) -> Namespace | None:
    row = await fetch_one(db, "SELECT * FROM namespaces WHERE id = ?", (namespace_id,))
    return Namespace.from_row(row) if row else None


async def select_namespace_by_path(db: Reader, full_path: str) -> Namespace | None:
    row = await fetch_one(db, "SELECT * FROM namespaces WHERE full_path = ?", (full_path,))
    return Namespace.from_row(row) if row else None


async def select_namespaces_by_ids(
    db: Reader, ids: Sequence[int]
) -> dict[int, Namespace]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = await fetch_all(db, f"SELECT * FROM namespaces WHERE id IN ({marks})", tuple(ids))
    return {row["id"]: Namespace.from_row(row) for row in rows}


async def select_user_namespace(db: Reader, user_id: int) -> Namespace | None:
    row = await fetch_one(
        db, "SELECT * FROM namespaces WHERE kind = 'user' AND owner_id = ?", (user_id,)
    )
    return Namespace.from_row(row) if row else None


def _group_filter(
    *,
    like: str,
    user_id: int | None,
    see_all: bool,
    signed_in_non_external: bool,
    membership_only: bool,
    search: str | None,
    top_level_only: bool,
) -> tuple[str, str, dict[str, object]]:
    """(WITH clause, WHERE clause, params) selecting the groups a caller may list."""
    params: dict[str, object] = {"uid": user_id if user_id is not None else -1}
    if membership_only:
        visible = "g.id IN (SELECT id FROM member_ns)"
    elif see_all:
        visible = "1 = 1"
    else:
        visible = (
            "g.visibility = 'public'"
            + (" OR g.visibility = 'internal'" if signed_in_non_external else "")
            + " OR g.id IN (SELECT id FROM member_ns)"
        )
    # A group marked for deletion is gone already (catalog/deletions.py).
    where = [f"g.kind = 'group' AND g.marked_for_deletion_at IS NULL AND ({visible})"]
    if search:
        where.append(
            f"(g.name {like} :search ESCAPE '\\' OR g.path {like} :search ESCAPE '\\'"
            ")"
        )
        params["search"] = "%" + escape_like(search) + "%"
    if top_level_only:
        where.append("g.parent_id IS NULL")
    return "WITH RECURSIVE " + MEMBER_NAMESPACES_CTE, " AND ".join(where), params


GROUP_ORDER = {"name": "g.name", "path": "g.path", "id": "g.id"}


async def select_groups_page(
    db: Reader,
    *,
    user_id: int | None,
    see_all: bool,
    signed_in_non_external: bool,
    membership_only: bool,
    search: str | None,
    top_level_only: bool,
    order_by: str,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[Namespace], int]:
    """One page of groups and the total count."""
    with_clause, where, params = _group_filter(
        like=dialect_of(db).like_ignoring_case,
        user_id=user_id,
        see_all=see_all,
        signed_in_non_external=signed_in_non_external,
        membership_only=membership_only,
        search=search,
        top_level_only=top_level_only,
    )
    direction = "DESC" if sort == "desc" else "ASC"
    column = GROUP_ORDER.get(order_by, "g.name")
    total_row = await fetch_one(
        db, f"{with_clause} SELECT COUNT(*) FROM namespaces g WHERE {where}", params
    )
    rows = await fetch_all(
        db,
        f"{with_clause} SELECT g.* FROM namespaces g WHERE {where}"
        f" ORDER BY {column} {direction}, g.id {direction} LIMIT :limit OFFSET :offset",
        {**params, "limit": dialect_of(db).limit(limit), "offset": offset},
    )
    return [Namespace.from_row(r) for r in rows], int(total_row[0]) if total_row else 0


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
