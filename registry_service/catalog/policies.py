"""SQL for cleanup policies (GitLab's ``container_expiration_policy``), one row per project.

A project without a row has the default policy (disabled); the first change writes the row.
Only SQL lives here: which values are allowed and when a policy runs next is decided in
``services/policies.py``, and starting a run in ``jobs/policies.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader, Row, Writer


@dataclass(frozen=True)
class CleanupPolicyRow:
    project_id: int
    enabled: bool
    cadence: str
    keep_n: int | None
    older_than: str | None
    name_regex: str | None
    name_regex_keep: str | None
    next_run_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> CleanupPolicyRow:
        next_run_at = row["next_run_at"]
        return cls(
            project_id=row["project_id"],
            enabled=bool(row["enabled"]),
            cadence=row["cadence"],
            keep_n=row["keep_n"],
            older_than=row["older_than"],
            name_regex=row["name_regex"],
            name_regex_keep=row["name_regex_keep"],
            next_run_at=datetime.fromisoformat(next_run_at) if next_run_at else None,
        )


_COLUMNS = (
    "project_id, enabled, cadence, keep_n, older_than, name_regex, name_regex_keep, next_run_at"
)


async def select_policy(db: Reader, project_id: int) -> CleanupPolicyRow | None:
    row = await fetch_one(
        db, f"SELECT {_COLUMNS} FROM cleanup_policies WHERE project_id = ?", (project_id,)
    )
    return CleanupPolicyRow.from_row(row) if row else None


async def select_policies(db: Reader, project_ids: Sequence[int]) -> dict[int, CleanupPolicyRow]:
    """The stored policies of these projects, by project id (projects without a row absent)."""
    if not project_ids:
        return {}
    marks = ", ".join("?" * len(project_ids))
    rows = await fetch_all(
        db,
        f"SELECT {_COLUMNS} FROM cleanup_policies WHERE project_id IN ({marks})",
        tuple(project_ids),
    )
    return {row["project_id"]: CleanupPolicyRow.from_row(row) for row in rows}


async def upsert_policy(tx: Writer, policy: CleanupPolicyRow, now: datetime) -> None:
    stamp = format_time(now)
    await execute(
        tx,
        f"INSERT INTO cleanup_policies ({_COLUMNS}, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (project_id) DO UPDATE SET enabled = excluded.enabled,"
        " cadence = excluded.cadence, keep_n = excluded.keep_n,"
        " older_than = excluded.older_than, name_regex = excluded.name_regex,"
        " name_regex_keep = excluded.name_regex_keep, next_run_at = excluded.next_run_at,"
        " updated_at = excluded.updated_at",
        (
            policy.project_id,
            int(policy.enabled),
            policy.cadence,
            policy.keep_n,
            policy.older_than,
            policy.name_regex,
            policy.name_regex_keep,
            format_time(policy.next_run_at) if policy.next_run_at else None,
            stamp,
            stamp,
        ),
    )


async def select_due_policies(db: Reader, now: datetime) -> list[CleanupPolicyRow]:
    """Enabled policies whose next run is at or before ``now``, by project id."""
    rows = await fetch_all(
        db,
        f"SELECT {_COLUMNS} FROM cleanup_policies"
        " WHERE enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ?"
        " ORDER BY project_id",
        (format_time(now),),
    )
    return [CleanupPolicyRow.from_row(row) for row in rows]


async def claim_due_policies(tx: Writer, now: datetime) -> list[CleanupPolicyRow]:
    """The due policies (as ``select_due_policies``) that this transaction now holds until it
    ends: on PostgreSQL, those another sweep is starting are passed over, and one it started
    meanwhile is no longer due when re-read, so each run starts once. Plain on SQLite."""
    rows = await fetch_all(
        tx,
        f"SELECT {_COLUMNS} FROM cleanup_policies"
        " WHERE enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ?"
        " ORDER BY project_id" + dialect_of(tx).skip_locked,
        (format_time(now),),
    )
    return [CleanupPolicyRow.from_row(row) for row in rows]


async def update_next_run_at(
    tx: Writer, project_id: int, next_run_at: datetime
) -> None:
    await execute(
        tx,
        "UPDATE cleanup_policies SET next_run_at = ? WHERE project_id = ?",
        (format_time(next_run_at), project_id),
    )


async def select_repository_ids_for_run(tx: Reader, project_id: int) -> list[int]:
    """The project's repositories a policy run cleans: all but those being deleted and those
    whose cleanup from an earlier policy run is still queued or running."""
    rows = await fetch_all(
        tx,
        "SELECT r.id FROM repositories r WHERE r.project_id = ? AND r.status IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.repository_id = r.id"
        "   AND j.kind = 'cleanup_tags' AND j.state IN ('queued', 'running')"
        f"   AND {dialect_of(tx).flag_member('j.params', 'policy')})"
        " ORDER BY r.id",
        (project_id,),
    )
    return [row[0] for row in rows]


async def update_cleanup_policy_started_at(
    tx: Writer, repository_id: int, now: datetime
) -> None:
    await execute(
        tx,
        "UPDATE repositories SET cleanup_policy_started_at = ? WHERE id = ?",
        (format_time(now), repository_id),
    )
