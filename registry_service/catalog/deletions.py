"""SQL for deleting projects, groups and users while their repositories drain.

A deletion marks rows (``marked_for_deletion_at``) and schedules a repository-deletion job per
repository; ``delete_drained_rows`` then removes every marked row that nothing registry-held
hangs on any more. Rows are never deleted with repositories still below them: the schema's
cascades would take tags and manifests along without the repository-deletion jobs.
Only SQL lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, format_time
from registry_service.catalog.protocols import Reader, Writer

_SUBTREE = (
    "WITH RECURSIVE tree(id) AS ("
    " SELECT CAST(:ns AS BIGINT)"
    " UNION SELECT n.id FROM namespaces n JOIN tree ON n.parent_id = tree.id)"
)


@dataclass(frozen=True)
class DrainedRows:
    """How many marked rows one pass removed."""

    projects: int
    namespaces: int
    users: int


async def select_namespace_subtree_ids(db: Reader, namespace_id: int) -> list[int]:
    """The namespace and every namespace below it."""
    rows = await fetch_all(db, _SUBTREE + " SELECT id FROM tree", {"ns": namespace_id})
    return [int(r[0]) for r in rows]


async def select_project_ids_in_namespaces(db: Reader, namespace_ids: list[int]) -> list[int]:
    if not namespace_ids:
        return []
    marks = ", ".join("?" for _ in namespace_ids)
    rows = await fetch_all(
        db, f"SELECT id FROM projects WHERE namespace_id IN ({marks}) ORDER BY id", namespace_ids
    )
    return [int(r[0]) for r in rows]


async def select_repository_ids_of_projects(db: Reader, project_ids: list[int]) -> list[int]:
    if not project_ids:
        return []
    marks = ", ".join("?" for _ in project_ids)
    rows = await fetch_all(
        db, f"SELECT id FROM repositories WHERE project_id IN ({marks}) ORDER BY id", project_ids
    )
    return [int(r[0]) for r in rows]


async def mark_projects(tx: Writer, project_ids: list[int], now: datetime) -> None:
    """Mark projects for deletion; a project already marked keeps its first mark."""
    await tx.executemany(
        "UPDATE projects SET marked_for_deletion_at = COALESCE(marked_for_deletion_at, ?)"
        " WHERE id = ?",
        [(format_time(now), pid) for pid in project_ids],
    )


async def mark_namespaces(tx: Writer, namespace_ids: list[int], now: datetime) -> None:
    await tx.executemany(
        "UPDATE namespaces SET marked_for_deletion_at = COALESCE(marked_for_deletion_at, ?)"
        " WHERE id = ?",
        [(format_time(now), nid) for nid in namespace_ids],
    )


async def mark_user(tx: Writer, user_id: int, now: datetime) -> None:
    await execute(
        tx,
        "UPDATE users SET marked_for_deletion_at = COALESCE(marked_for_deletion_at, ?)"
        " WHERE id = ?",
        (format_time(now), user_id),
    )


async def delete_drained_rows(tx: Writer) -> DrainedRows:
    """Remove the marked projects without repositories, then the marked namespaces without
    projects anywhere below them, then the marked users who own no namespace any more."""
    projects = await execute(
        tx,
        "DELETE FROM projects WHERE marked_for_deletion_at IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM repositories r WHERE r.project_id = projects.id)",
    )
    namespaces = await execute(
        tx,
        "DELETE FROM namespaces WHERE marked_for_deletion_at IS NOT NULL AND NOT EXISTS ("
        " WITH RECURSIVE tree(id) AS (SELECT namespaces.id UNION"
        "  SELECT n.id FROM namespaces n JOIN tree ON n.parent_id = tree.id)"
        " SELECT 1 FROM projects p WHERE p.namespace_id IN (SELECT id FROM tree))",
    )
    users = await execute(
        tx,
        "DELETE FROM users WHERE marked_for_deletion_at IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM namespaces n WHERE n.owner_id = users.id)",
    )
    return DrainedRows(projects, namespaces, users)
