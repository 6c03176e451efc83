"""SQL for fixture mode only: wipe every row (reset to the seed), make every queued job due now
(run-jobs), and read back the jobs a run-jobs call touched. Nothing else calls these."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import JobRow


async def delete_all_rows(tx: Writer) -> int:
    """Empty every table (the schema and its version stay); the number of rows deleted.

    Tables are found in the database's own list (``sqlite_master``, ``pg_tables``), so a
    table added by a later migration is emptied too. Foreign keys are checked at COMMIT, when
    nothing is left to violate them; ids start again from 1 (no SQLite table uses
    AUTOINCREMENT; PostgreSQL's identities are restarted), so a reseeded catalog has the
    seed's ids.
    """
    dialect = dialect_of(tx)
    await tx.execute(dialect.defer_foreign_keys)
    tables = await fetch_all(tx, dialect.tables)
    deleted = 0
    for (name,) in tables:
        deleted += await execute(tx, f'DELETE FROM "{name}"')
    if dialect.restart_ids and tables:
        listed = ", ".join(f'"{name}"' for (name,) in tables)
        await tx.execute(dialect.restart_ids.format(tables=listed))
    return deleted


async def make_queued_jobs_due(tx: Writer, now: datetime) -> int:
    """Queued jobs waiting for a later ``run_after`` (retries with backoff) become due now."""
    stamp = format_time(now)
    return await execute(
        tx,
        "UPDATE jobs SET run_after = ? WHERE state = 'queued' AND run_after > ?",
        (stamp, stamp),
    )


async def select_last_job_id(db: Reader) -> int:
    row = await fetch_one(db, "SELECT COALESCE(MAX(id), 0) FROM jobs")
    return int(row[0]) if row else 0


async def select_open_job_ids(db: Reader) -> list[int]:
    rows = await fetch_all(
        db, "SELECT id FROM jobs WHERE state IN ('queued', 'running') ORDER BY id"
    )
    return [int(r[0]) for r in rows]


async def select_jobs_touched(db: Reader, open_ids: Collection[int], after_id: int) -> list[JobRow]:
    """The jobs open before a run (``open_ids``) and every job created since (``id >
    after_id``), by id."""
    placeholders = ", ".join("?" for _ in open_ids) or "NULL"
    rows = await fetch_all(
        db,
        f"SELECT * FROM jobs WHERE id > ? OR id IN ({placeholders}) ORDER BY id",
        (after_id, *open_ids),
    )
    return [JobRow.from_row(r) for r in rows]
