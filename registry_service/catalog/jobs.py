"""SQL for job intents: written before a job is enqueued, claimed with an expiring lease.

A job is ``queued`` until a runner claims it (``running``, with ``lease_owner`` and
``lease_expires_at``), then ``done`` or ``failed``. A runner that dies leaves a ``running`` row
whose lease expires; any runner may claim it again. Every transition names the owner, so a
runner that lost its lease cannot overwrite the work of the one that took it over.
"""

from __future__ import annotations

from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time, insert
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import JobRow


async def insert_job(
    tx: Writer,
    *,
    kind: str,
    params: str,
    requester_id: int | None,
    project_id: int | None,
    repository_id: int | None,
    now: datetime,
) -> int:
    return await insert(
        tx,
        "INSERT INTO jobs (kind, params, requester_id, project_id, repository_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (kind, params, requester_id, project_id, repository_id, format_time(now)),
    )


async def insert_claimed_job(
    tx: Writer,
    *,
    kind: str,
    params: str,
    requester_id: int | None,
    owner: str,
    lease_until: datetime,
    now: datetime,
) -> int:
    """A job that starts out ``running`` under ``owner`` (one run on the spot, by the CLI):
    no runner can claim it before its owner starts it."""
    stamp = format_time(now)
    return await insert(
        tx,
        "INSERT INTO jobs (kind, params, requester_id, state, attempts, lease_owner,"
        " lease_expires_at, created_at, started_at) VALUES (?, ?, ?, 'running', 1, ?, ?, ?, ?)",
        (kind, params, requester_id, owner, format_time(lease_until), stamp, stamp),
    )


async def select_job(db: Reader, job_id: int) -> JobRow | None:
    row = await fetch_one(db, "SELECT * FROM jobs WHERE id = ?", (job_id,))
    return JobRow.from_row(row) if row else None


async def select_due_jobs(db: Reader, now: datetime) -> list[tuple[int, int]]:
    """(id, attempts) of the jobs a runner may claim now: queued and due, or running under an
    expired lease."""
    stamp = format_time(now)
    rows = await fetch_all(
        db,
        "SELECT id, attempts FROM jobs"
        " WHERE (state = 'queued' AND (run_after IS NULL OR run_after <= ?))"
        " OR (state = 'running' AND lease_expires_at < ?) ORDER BY id",
        (stamp, stamp),
    )
    return [(r[0], r[1]) for r in rows]


async def select_next_run_after(db: Reader) -> datetime | None:
    """When the earliest deferred job becomes due (None if none is waiting)."""
    row = await fetch_one(
        db, "SELECT MIN(run_after) FROM jobs WHERE state = 'queued' AND run_after IS NOT NULL"
    )
    return datetime.fromisoformat(row[0]) if row and row[0] else None


# Queued and due, or running under an expired lease (``:now``).
_CLAIMABLE = (
    "((state = 'queued' AND (run_after IS NULL OR run_after <= :now))"
    " OR (state = 'running' AND lease_expires_at < :now))"
)


async def claim_job(
    tx: Writer, job_id: int, owner: str, lease_until: datetime, now: datetime
) -> JobRow | None:
    """Take the job if it is claimable; the row as claimed, or None if someone else has it.

    On PostgreSQL a job another writer holds (claiming it, or its runner saving progress) is
    passed over at once rather than waited for: that writer is taking or running it."""
    stamp = format_time(now)
    # The condition twice: the sub-select's lock skips a held row, and the UPDATE's own WHERE
    # is what PostgreSQL re-checks on the newest row version (a sub-select's answer is not).
    changed = await execute(
        tx,
        "UPDATE jobs SET state = 'running', lease_owner = :owner, lease_expires_at = :until,"
        " attempts = attempts + 1, started_at = COALESCE(started_at, :now)"
        f" WHERE id = (SELECT id FROM jobs WHERE id = :id AND {_CLAIMABLE}"
        f"{dialect_of(tx).skip_locked}) AND {_CLAIMABLE}",
        {"owner": owner, "until": format_time(lease_until), "now": stamp, "id": job_id},
    )
    return await select_job(tx, job_id) if changed else None


async def renew_lease(
    tx: Writer, job_id: int, owner: str, lease_until: datetime
) -> bool:
    """Extend the lease; False if this owner no longer holds the job."""
    return (
        await execute(
            tx,
            "UPDATE jobs SET lease_expires_at = ?"
            " WHERE id = ? AND state = 'running' AND lease_owner = ?",
            (format_time(lease_until), job_id, owner),
        )
        == 1
    )


async def record_progress(
    tx: Writer, job_id: int, owner: str, counts: str, result: str | None = None
) -> bool:
    return (
        await execute(
            tx,
            "UPDATE jobs SET counts = ?, result = COALESCE(?, result)"
            " WHERE id = ? AND state = 'running' AND lease_owner = ?",
            (counts, result, job_id, owner),
        )
        == 1
    )


async def finish_job(
    tx: Writer,
    job_id: int,
    owner: str,
    *,
    state: str,
    counts_patch: str,
    result_patch: str | None,
    error: str | None,
    now: datetime,
) -> bool:
    """End the job as ``done`` or ``failed``, merging the patches (JSON objects, RFC 7396:
    a null member removes the key) into its saved counts and result."""
    dialect = dialect_of(tx)
    return (
        await execute(
            tx,
            "UPDATE jobs SET state = :state,"
            f" counts = {dialect.merged('counts', ':counts')},"
            " result = CASE WHEN CAST(:result AS TEXT) IS NULL THEN result"
            f"          ELSE {dialect.merged('result', ':result')} END,"
            " error = :error, finished_at = :now, lease_owner = NULL, lease_expires_at = NULL"
            " WHERE id = :id AND state = 'running' AND lease_owner = :owner",
            {"state": state, "counts": counts_patch, "result": result_patch, "error": error,
             "now": format_time(now), "id": job_id, "owner": owner},
        )
        == 1
    )


async def defer_job(
    tx: Writer,
    job_id: int,
    owner: str,
    *,
    run_after: datetime,
    error: str | None,
) -> bool:
    """Put the job back in the queue until ``run_after`` (a retry with backoff)."""
    return (
        await execute(
            tx,
            "UPDATE jobs SET state = 'queued', run_after = ?, error = ?,"
            " lease_owner = NULL, lease_expires_at = NULL"
            " WHERE id = ? AND state = 'running' AND lease_owner = ?",
            (format_time(run_after), error, job_id, owner),
        )
        == 1
    )


async def release_running_jobs(tx: Writer) -> int:
    """Return every running job to the queue (the in-process runner's start-up: the only
    runner that could hold them was this process's previous life)."""
    return await execute(
        tx,
        "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL"
        " WHERE state = 'running'",
    )


async def select_running_job_owners(db: Reader) -> list[str]:
    """The distinct lease owners of running jobs (each a runner's name, ``/`` and a claim's)."""
    rows = await fetch_all(
        db,
        "SELECT DISTINCT lease_owner FROM jobs WHERE state = 'running' AND lease_owner IS NOT NULL",
    )
    return [str(r[0]) for r in rows]


async def release_jobs_of_runner(tx: Writer, runner: str) -> int:
    """Return to the queue every running job claimed by ``runner`` (its claims are named
    ``<runner>/<suffix>``): the runner stopped, or is known to be dead."""
    prefix = runner + "/"
    return await execute(
        tx,
        "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL"
        " WHERE state = 'running' AND substr(lease_owner, 1, ?) = ?",
        (len(prefix), prefix),
    )


async def select_open_job_id(db: Reader, kind: str, repository_id: int) -> int | None:
    """The newest job of this kind for the repository that is still queued or running."""
    row = await fetch_one(
        db,
        "SELECT id FROM jobs WHERE kind = ? AND repository_id = ?"
        " AND state IN ('queued', 'running') ORDER BY id DESC LIMIT 1",
        (kind, repository_id),
    )
    return int(row[0]) if row else None


async def select_project_jobs_page(
    db: Reader,
    project_id: int,
    *,
    kind: str | None,
    state: str | None,
    limit: int,
    offset: int,
) -> tuple[list[JobRow], int]:
    """One page of a project's jobs, newest first, optionally of one kind or state; and how
    many match."""
    where = "project_id = ?"
    params: list[object] = [project_id]
    if kind is not None:
        where += " AND kind = ?"
        params.append(kind)
    if state is not None:
        where += " AND state = ?"
        params.append(state)
    # Only the fixed conditions above are formatted in; every value is a parameter.
    rows = await fetch_all(
        db,
        f"SELECT * FROM jobs WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    total = await fetch_one(db, f"SELECT COUNT(*) FROM jobs WHERE {where}", tuple(params))
    return [JobRow.from_row(r) for r in rows], int(total[0]) if total else 0
