"""SQL for named, expiring, exclusive leases (one cleanup per repository at a time; the
once-an-hour bulk-delete limit; the one active in-process job runner of a catalog).

Plain SQL that SQLite and PostgreSQL both accept: the catalog may be shared by several hosts,
and a lease is how they agree without any other service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog.db import execute, fetch_one, format_time, parse_time
from registry_service.catalog.protocols import Reader, Writer


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    expires_at: datetime


async def acquire_lease(tx: Writer, name: str, owner: str, until: datetime, now: datetime) -> bool:
    """Take or extend ``name`` for ``owner``; False while another owner holds it unexpired."""
    return (
        await execute(
            tx,
            "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
            " expires_at = excluded.expires_at"
            " WHERE leases.owner = excluded.owner OR leases.expires_at <= ?",
            (name, owner, format_time(until), format_time(now)),
        )
        == 1
    )


async def take_over_lease(
    tx: Writer, name: str, owner: str, previous_owner: str, until: datetime
) -> bool:
    """Give ``name`` to ``owner`` before it expires, if ``previous_owner`` still holds it (the
    caller knows that holder is dead); False if someone else has it by now."""
    return (
        await execute(
            tx,
            "UPDATE leases SET owner = ?, expires_at = ? WHERE name = ? AND owner = ?",
            (owner, format_time(until), name, previous_owner),
        )
        == 1
    )


async def select_lease(db: Reader, name: str) -> Lease | None:
    """The lease row, expired or not (None if nobody ever took it or it was released)."""
    row = await fetch_one(db, "SELECT owner, expires_at FROM leases WHERE name = ?", (name,))
    if row is None:
        return None
    expires_at = parse_time(row[1])
    assert expires_at is not None  # the column is NOT NULL
    return Lease(name, str(row[0]), expires_at)


async def release_lease(tx: Writer, name: str, owner: str) -> bool:
    return await execute(tx, "DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner)) == 1
