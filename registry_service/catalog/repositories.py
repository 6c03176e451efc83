"""SQL for container repositories (one project has a root image and named sub-images)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import Repository


async def select_repository(
    db: Reader, project_id: int, name: str
) -> Repository | None:
    row = await fetch_one(
        db, "SELECT * FROM repositories WHERE project_id = ? AND name = ?", (project_id, name)
    )
    return Repository.from_row(row) if row else None


async def select_repository_by_id(
    db: Reader, repository_id: int
) -> Repository | None:
    row = await fetch_one(db, "SELECT * FROM repositories WHERE id = ?", (repository_id,))
    return Repository.from_row(row) if row else None


async def lock_repository(tx: Writer, repository_id: int) -> None:
    """Hold the repository's row until ``tx`` ends (PostgreSQL; SQLite's single writer holds
    everything already): for a check over its tags that no row of its own stands for, such as
    "this immutable tag does not exist yet"."""
    lock = dialect_of(tx).for_update
    if lock:
        await fetch_all(tx, "SELECT id FROM repositories WHERE id = ?" + lock, (repository_id,))


async def ensure_repository(
    db: Writer, project_id: int, name: str, now: datetime
) -> Repository:
    """Find or create (GitLab creates the row when a push is first authorised)."""
    await execute(
        db,
        "INSERT INTO repositories (project_id, name, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (project_id, name) DO NOTHING",
        (project_id, name, format_time(now)),
    )
    found = await select_repository(db, project_id, name)
    assert found is not None
    return found


async def select_repository_names(db: Reader) -> list[tuple[int, str]]:
    """(project id, repository name) of every repository not being deleted."""
    rows = await fetch_all(
        db,
        "SELECT project_id, name FROM repositories"
        " WHERE status IS NULL OR status <> 'delete_ongoing'",
    )
    return [(r[0], r[1]) for r in rows]


async def mark_deletion_started(
    tx: Writer, repository_id: int, now: datetime
) -> None:
    await execute(
        tx,
        "UPDATE repositories SET status = 'delete_ongoing', delete_started_at = ? WHERE id = ?",
        (format_time(now), repository_id),
    )


async def mark_deletion_failed(
    tx: Writer, repository_id: int, *, failures: int, retry_at: datetime | None
) -> None:
    """Back to ``delete_scheduled`` with the next attempt time, or ``delete_failed`` for good
    when ``retry_at`` is None."""
    await execute(
        tx,
        "UPDATE repositories SET status = ?, failed_deletion_count = ?,"
        " next_delete_attempt_at = ? WHERE id = ?",
        (
            "delete_failed" if retry_at is None else "delete_scheduled",
            failures,
            format_time(retry_at) if retry_at else None,
            repository_id,
        ),
    )


async def delete_repository_row(tx: Writer, repository_id: int) -> bool:
    """Remove the repository; its manifests, tags, blob links and uploads go with it."""
    await execute(tx, "DELETE FROM tags WHERE repository_id = ?", (repository_id,))
    return await execute(tx, "DELETE FROM repositories WHERE id = ?", (repository_id,)) == 1


async def select_repository_in_project(
    db: Reader, project_id: int, repository_id: int
) -> Repository | None:
    """A repository by id, only if it belongs to the project (GitLab scopes the lookup)."""
    row = await fetch_one(
        db,
        "SELECT * FROM repositories WHERE id = ? AND project_id = ?",
        (repository_id, project_id),
    )
    return Repository.from_row(row) if row else None


async def select_repositories_page(
    db: Reader, project_ids: Sequence[int], *, limit: int, offset: int
) -> tuple[list[Repository], int]:
    """One page of the projects' repositories by id, and how many there are in all."""
    if not project_ids:
        return [], 0
    marks = ",".join("?" * len(project_ids))
    total = await fetch_one(
        db, f"SELECT COUNT(*) FROM repositories WHERE project_id IN ({marks})", tuple(project_ids)
    )
    rows = await fetch_all(
        db,
        f"SELECT * FROM repositories WHERE project_id IN ({marks}) ORDER BY id LIMIT ? OFFSET ?",
        (*project_ids, limit, offset),
    )
    return [Repository.from_row(r) for r in rows], int(total[0]) if total else 0


async def mark_deletion_scheduled(tx: Writer, repository_id: int) -> bool:
    """Ask for the repository's deletion (GitLab's ``delete_scheduled!``); False if it was
    already scheduled or under way, which leaves its attempt count and back-off alone.

    A repository whose deletion failed for good starts over with a fresh attempt count.
    """
    return (
        await execute(
            tx,
            "UPDATE repositories SET status = 'delete_scheduled', failed_deletion_count = 0,"
            " next_delete_attempt_at = NULL, delete_started_at = NULL"
            " WHERE id = ? AND (status IS NULL OR status = 'delete_failed')",
            (repository_id,),
        )
        == 1
    )
