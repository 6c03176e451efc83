"""SQL for named, expiring, exclusive leases (one cleanup per repository at a time; the
once-an-hour bulk-delete limit)."""

from __future__ import annotations

from datetime import datetime

from registry_service.catalog.db import execute, format_time
from registry_service.catalog.protocols import Writer


async def acquire_lease(
    tx: Writer, name: str, owner: str, until: datetime, now: datetime
) -> bool:
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


async def release_lease(tx: Writer, name: str, owner: str) -> bool:
    return (
        await execute(tx, "DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner)) == 1
    )
