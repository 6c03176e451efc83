"""SQL for the administrators' pages: the newest jobs of one kind. Only SQL lives here."""

from __future__ import annotations

from registry_service.catalog.db import fetch_all
from registry_service.catalog.protocols import Reader
from registry_service.catalog.rows import JobRow


async def select_newest_jobs(db: Reader, kind: str, limit: int) -> list[JobRow]:
    rows = await fetch_all(
        db, "SELECT * FROM jobs WHERE kind = ? ORDER BY id DESC LIMIT ?", (kind, limit)
    )
    return [JobRow.from_row(r) for r in rows]
