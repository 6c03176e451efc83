"""SQL for the administrators' pages: a user's state, and the newest jobs of one kind. Only SQL
lives here."""

from __future__ import annotations

from registry_service.catalog.db import execute, fetch_all
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import JobRow


async def update_user_state(db: Writer, user_id: int, state: str) -> bool:
    """Set ``active`` or ``blocked``; False if there is no such user."""
    return await execute(db, "UPDATE users SET state = ? WHERE id = ?", (state, user_id)) == 1


async def select_newest_jobs(db: Reader, kind: str, limit: int) -> list[JobRow]:
    rows = await fetch_all(
        db, "SELECT * FROM jobs WHERE kind = ? ORDER BY id DESC LIMIT ?", (kind, limit)
    )
    return [JobRow.from_row(r) for r in rows]
