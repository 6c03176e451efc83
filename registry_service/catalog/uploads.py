"""SQL for blob upload sessions (their bytes live in the store's session directory)."""

from __future__ import annotations

from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import Upload


async def insert_upload(
    db: Writer, upload_id: str, repository_id: int, algorithm: str, now: datetime
) -> None:
    await execute(
        db,
        "INSERT INTO uploads (id, repository_id, algorithm, offset_bytes, started_at, updated_at)"
        " VALUES (?, ?, ?, 0, ?, ?)",
        (upload_id, repository_id, algorithm, format_time(now), format_time(now)),
    )


async def select_upload(db: Reader, upload_id: str) -> Upload | None:
    row = await fetch_one(db, "SELECT * FROM uploads WHERE id = ?", (upload_id,))
    return Upload.from_row(row) if row else None


async def select_uploads(db: Reader) -> list[Upload]:
    return [Upload.from_row(r) for r in await fetch_all(db, "SELECT * FROM uploads ORDER BY id")]


async def update_upload_offset(
    db: Writer, upload_id: str, offset_bytes: int, now: datetime
) -> None:
    await execute(
        db,
        # Never backwards: two processes may record their appends in the other order.
        "UPDATE uploads SET offset_bytes = ?, updated_at = ? WHERE id = ? AND offset_bytes <= ?",
        (offset_bytes, format_time(now), upload_id, offset_bytes),
    )


async def delete_upload(db: Writer, upload_id: str) -> bool:
    return await execute(db, "DELETE FROM uploads WHERE id = ?", (upload_id,)) == 1
