"""The catalog's connections: one SQLite file in WAL mode, opened through aiosqlite.

Only SQL lives in ``registry_service.catalog``. Writes go through ``Catalog.transaction()``,
which serialises writers on one connection behind an asyncio lock and wraps each unit of work
in ``BEGIN IMMEDIATE … COMMIT`` so a multi-row change is all-or-nothing. Reads use a second
connection; WAL lets them run beside a writer and always see committed state.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import aiosqlite

from registry_service.catalog.errors import ConstraintViolated, ForeignKeyViolated, UniqueViolated
from registry_service.catalog.migrate import apply_migrations
from registry_service.catalog.protocols import Params, Reader, Row, Writer
from registry_service.errors import InsufficientStorage, Unavailable

CATALOG_FILENAME = "registry.sqlite3"
BUSY_TIMEOUT_MS = 30_000

T = TypeVar("T")


def format_time(when: datetime) -> str:
    """The catalog's text form of an instant: fixed width, so text order is time order."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    # fromisoformat reads our fixed format (trailing Z included) ~20x faster than strptime,
    # and every row with a date goes through here.
    return datetime.fromisoformat(text)


class LoopReader:
    """Reads run right on the event loop's thread, through plain ``sqlite3``.

    A point lookup takes a few microseconds there, against ~90 µs for a hop to aiosqlite's
    thread and back, and a /v2 request makes several: this is most of a manifest GET's cost.
    WAL readers never wait for the writer, so nothing here blocks on I/O beyond a page read.
    Long scans (thousands of rows) belong on ``Catalog.scan_reader`` instead, off the loop.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> list[Row]:
        return self._conn.execute(sql, parameters).fetchall()

    def close(self) -> None:
        self._conn.close()


class SqliteWriter:
    """The ``Writer`` that ``Catalog.transaction()`` yields: the writer connection, whose
    integrity errors leave as ``catalog.errors``.

    One hop to aiosqlite's thread per statement. Cursors are not closed: a DML statement is
    reset by ``sqlite3`` once it has run, the counts are read from the cursor without a hop,
    and a ``close()`` would be a second hop for nothing. The cursor is freed when the method
    returns, on the loop, while the connection is idle (the unit's statements are awaited one
    at a time under the write lock). No statement with a RETURNING clause comes through
    ``execute``: those are read to the end by ``execute_fetchall``.
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> Iterable[Row]:
        try:
            return await self._conn.execute_fetchall(sql, parameters)
        except sqlite3.IntegrityError as exc:
            raise constraint_violated(exc) from exc

    async def execute(self, sql: str, parameters: Params = ()) -> int:
        try:
            cursor = await self._conn.execute(sql, parameters)
        except sqlite3.IntegrityError as exc:
            raise constraint_violated(exc) from exc
        return cursor.rowcount

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> int:
        try:
            cursor = await self._conn.executemany(sql, parameters)
        except sqlite3.IntegrityError as exc:
            raise constraint_violated(exc) from exc
        return cursor.rowcount

    async def insert(self, sql: str, parameters: Params = ()) -> int:
        try:
            cursor = await self._conn.execute(sql, parameters)
        except sqlite3.IntegrityError as exc:
            raise constraint_violated(exc) from exc
        rowid = cursor.lastrowid
        assert rowid is not None
        return rowid


def constraint_violated(exc: sqlite3.IntegrityError) -> ConstraintViolated:
    """The catalog's exception for one of SQLite's integrity errors, by its extended code."""
    name = exc.sqlite_errorname
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return ForeignKeyViolated(str(exc))
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return UniqueViolated(str(exc))
    return ConstraintViolated(str(exc))


def _connect_loop_reader(path: Path) -> LoopReader:
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # Read-only by construction: a stray write through it fails instead of bypassing the lock.
    conn.execute("PRAGMA query_only = ON")
    return LoopReader(conn)


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, nothing implicit.
    connecting = aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    # A connection somebody forgot to close (a failed test, an error path) must not keep the
    # process from exiting; ending its thread abruptly is no worse for SQLite than a crash.
    # aiosqlite has no option for it, hence its private attribute, checked before use.
    worker = getattr(connecting, "_thread", None)
    if isinstance(worker, threading.Thread) and not worker.is_alive():
        worker.daemon = True
    conn = await connecting
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA journal_mode = WAL")
    # FULL: a committed transaction survives power loss, not only a process crash.
    await conn.execute("PRAGMA synchronous = FULL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


# RETURNING and ALTER TABLE … DROP COLUMN (migration 0005) arrived in 3.35; the JSON
# functions are built in from 3.38 and compiled in by the distributions before that.
MIN_SQLITE = (3, 35, 0)


def require_sqlite(version: tuple[int, int, int]) -> None:
    """Refuse, with a message saying what to do, a SQLite older than the catalog needs:
    otherwise a migration or query fails halfway with a bare syntax error."""
    if version < MIN_SQLITE:
        have, need = (".".join(map(str, v)) for v in (version, MIN_SQLITE))
        raise RuntimeError(
            f"the catalog needs SQLite {need} or newer; this Python uses SQLite {have}"
            " (it comes with the Python build: use a newer Python or distribution)"
        )


class Catalog:
    """The open catalog: a writer (serialised), a reader on the loop for point lookups, and a
    scan reader on its own thread for reads of many rows."""

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        scan_reader: aiosqlite.Connection,
        reader: LoopReader,
        before_write: Callable[[], Awaitable[None]] | None = None,
    ):
        self.path = path
        # Run before each write transaction begins: the composition root hands in the
        # storage reserve's ``keep_room``, so that SQLite finds room even on a full disk.
        self._before_write = before_write
        self._writer = writer
        self._unit = SqliteWriter(writer)
        self._scan_reader = scan_reader
        self._reader = reader
        self._write_lock = asyncio.Lock()
        # The open group transaction's COMMIT, which its units wait for.
        self._group: asyncio.Future[None] | None = None
        self._committer: asyncio.Future[None] | None = None

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        migrate_to: int | None = None,
        before_write: Callable[[], Awaitable[None]] | None = None,
    ) -> Catalog:
        """Open (creating if needed) the catalog file and bring its schema up to date."""
        require_sqlite(sqlite3.sqlite_version_info)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(path)
        try:
            await apply_migrations(writer, target=migrate_to)
            scan_reader = await _connect(path)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, scan_reader, _connect_loop_reader(path), before_write)

    @classmethod
    async def open_in(
        cls, data_dir: Path, *, before_write: Callable[[], Awaitable[None]] | None = None
    ) -> Catalog:
        return await cls.open(data_dir / CATALOG_FILENAME, before_write=before_write)

    async def close(self) -> None:
        self._reader.close()
        await self._scan_reader.close()
        await self._writer.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Writer]:
        """One unit of work: all of it is committed, or none of it.

        Units are group-committed. Each runs inside a SAVEPOINT of a shared ``BEGIN
        IMMEDIATE`` transaction; a unit that raises is rolled back to its savepoint alone. The
        units that queued up while one ran share its COMMIT — one fsync for all of them, which
        is most of a write's cost with ``synchronous = FULL``. A unit's ``async with`` exits
        only once its COMMIT is durable, and raises if that COMMIT fails (a deferred foreign
        key, checked at COMMIT, raises ``ForeignKeyViolated`` there).
        """
        try:
            async with self._write_lock:
                group = await self._open_unit()
                try:
                    yield self._unit
                except BaseException:
                    await _to_the_end(self._close_unit(rollback=True))
                    raise
                await _to_the_end(self._close_unit(rollback=False))
            try:
                await asyncio.shield(group)
            except sqlite3.IntegrityError as exc:
                raise constraint_violated(exc) from exc
        except sqlite3.OperationalError as exc:
            raise_if_disk_full(exc)
            raise

    async def _open_unit(self) -> asyncio.Future[None]:
        """BEGIN the group if none is open, then SAVEPOINT this unit; the group's COMMIT.

        A statement handed to aiosqlite runs even if the awaiting task is cancelled, so the
        bookkeeping must follow it to the end: a cancellation here waits for the statements,
        undoes the unit if it was opened, and only then goes on.
        """
        opening = asyncio.ensure_future(self._begin_unit())
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await _to_the_end(opening)
            if opening.done() and not opening.cancelled() and opening.exception() is None:
                await _to_the_end(self._close_unit(rollback=True))
            raise

    async def _begin_unit(self) -> asyncio.Future[None]:
        if self._group is None:
            if self._before_write is not None:
                await self._before_write()
            await self._writer.execute("BEGIN IMMEDIATE")
            self._group = asyncio.get_running_loop().create_future()
            # Runs after every writer already waiting for the lock (the lock is FIFO).
            self._committer = asyncio.ensure_future(self._commit_group())
        group = self._group
        await self._writer.execute("SAVEPOINT unit")
        return group

    async def _close_unit(self, *, rollback: bool) -> None:
        if not self._writer.in_transaction:
            return  # SQLite rolled the whole transaction back itself (it may on SQLITE_FULL)
        if rollback:
            await self._writer.execute("ROLLBACK TO unit")
        await self._writer.execute("RELEASE unit")

    async def _commit_group(self) -> None:
        async with self._write_lock:
            group, self._group = self._group, None
            if group is None:
                return
            try:
                await self._writer.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await self._writer.execute("ROLLBACK")
                group.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
                # Nobody may be left waiting on it; mark the exception as seen here.
                group.exception()
                if not isinstance(exc, Exception):
                    raise
            else:
                group.set_result(None)

    @property
    def reader(self) -> LoopReader:
        """For lookups of a few rows (runs on the event loop)."""
        return self._reader

    @property
    def scan_reader(self) -> Reader:
        """For reads of many rows (runs on a thread; the loop stays free)."""
        return self._scan_reader

    async def ping(self) -> None:
        """Unavailable unless the catalog answers a query."""
        try:
            await self._reader.execute_fetchall("SELECT 1")
        except sqlite3.Error as exc:
            raise Unavailable(f"catalog: {exc}") from exc


def raise_if_disk_full(exc: sqlite3.Error) -> None:
    """Raise InsufficientStorage (caused by ``exc``) if ``exc`` is SQLite's SQLITE_FULL,
    "database or disk is full": the one place the catalog's full disk becomes a domain error."""
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        raise InsufficientStorage(detail={"reason": "database or disk is full"}) from exc


async def _to_the_end(step: Awaitable[T]) -> T:
    """Await ``step`` to its end even if the caller is cancelled meanwhile; the cancellation is
    raised afterwards. For catalog bookkeeping that must not stop halfway."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result


async def fetch_all(db: Reader, sql: str, params: Params = ()) -> list[Row]:
    return list(await db.execute_fetchall(sql, params))


async def fetch_one(db: Reader, sql: str, params: Params = ()) -> Row | None:
    rows: Iterable[Row] = await db.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def insert(db: Writer, sql: str, params: Params = ()) -> int:
    """Run an INSERT and return the new rowid."""
    return await db.insert(sql, params)


async def execute(db: Writer, sql: str, params: Params = ()) -> int:
    """Run a statement and return how many rows it changed."""
    return await db.execute(sql, params)
