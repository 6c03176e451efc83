"""The catalog's connections: one SQLite file in WAL mode, opened through aiosqlite.

Only SQL lives in ``registry_service.catalog``. Writes go through ``Catalog.transaction()``,
which serialises writers on one connection behind an asyncio lock and wraps each unit of work
in ``BEGIN IMMEDIATE … COMMIT`` so a multi-row change is all-or-nothing. Reads use a second
connection; WAL lets them run beside a writer and always see committed state.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from registry_service.catalog.migrate import apply_migrations

CATALOG_FILENAME = "registry.sqlite3"
BUSY_TIMEOUT_MS = 30_000

Row = sqlite3.Row
Params = Sequence[Any] | dict[str, Any]


def format_time(when: datetime) -> str:
    """The catalog's text form of an instant: fixed width, so text order is time order."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, nothing implicit.
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA journal_mode = WAL")
    # FULL: a committed transaction survives power loss, not only a process crash.
    await conn.execute("PRAGMA synchronous = FULL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


class Catalog:
    """The open catalog: a writer (serialised) and a reader connection."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, migrate_to: int | None = None) -> Catalog:
        """Open (creating if needed) the catalog file and bring its schema up to date."""
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(path)
        try:
            await apply_migrations(writer, target=migrate_to)
            reader = await _connect(path)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader)

    @classmethod
    async def open_in(cls, data_dir: Path) -> Catalog:
        return await cls.open(data_dir / CATALOG_FILENAME)

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; commits on success, rolls back on any exception."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")

    @property
    def reader(self) -> aiosqlite.Connection:
        return self._reader

    async def ping(self) -> None:
        await self._reader.execute_fetchall("SELECT 1")


async def fetch_all(db: aiosqlite.Connection, sql: str, params: Params = ()) -> list[Row]:
    return list(await db.execute_fetchall(sql, params))


async def fetch_one(db: aiosqlite.Connection, sql: str, params: Params = ()) -> Row | None:
    rows: Iterable[Row] = await db.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def insert(db: aiosqlite.Connection, sql: str, params: Params = ()) -> int:
    """Run an INSERT and return the new rowid."""
    cursor = await db.execute(sql, params)
    rowid = cursor.lastrowid
    await cursor.close()
    assert rowid is not None
    return rowid


async def execute(db: aiosqlite.Connection, sql: str, params: Params = ()) -> int:
    """Run a statement and return how many rows it changed."""
    cursor = await db.execute(sql, params)
    count = cursor.rowcount
    await cursor.close()
    return count
