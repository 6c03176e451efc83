"""The catalog's connections: one SQLite file in WAL mode.

Only SQL lives in ``registry_service.catalog``. Writes go through ``Catalog.run_write()`` (a
unit of work run whole on the writer's thread, see ``write_batches``) or
``Catalog.transaction()``, which serialise writers on one connection, owned by its own thread
(``writer_thread``), behind an asyncio lock and wrap each unit of work in ``BEGIN IMMEDIATE …
COMMIT`` so a multi-row change is all-or-nothing. Reads use other connections; WAL lets them
run beside a writer and always see committed state.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

import aiosqlite

from registry_service.catalog.errors import ConstraintViolated, ForeignKeyViolated, UniqueViolated
from registry_service.catalog.migrate import apply_migrations
from registry_service.catalog.protocols import Params, Reader, Row, Writer
from registry_service.catalog.write_batches import Work, WriteBatches
from registry_service.catalog.writer_thread import WriterThread
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
    integrity errors leave as ``catalog.errors``. One hop to the writer's thread per statement.
    """

    __slots__ = ("_conn", "_thread")

    def __init__(self, thread: WriterThread, conn: sqlite3.Connection) -> None:
        self._thread = thread
        self._conn = conn

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> Iterable[Row]:
        return await self._thread.call(_fetchall, self._conn, sql, parameters)

    async def execute(self, sql: str, parameters: Params = ()) -> int:
        return await self._thread.call(_execute, self._conn, sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> int:
        return await self._thread.call(_executemany, self._conn, sql, list(parameters))

    async def insert(self, sql: str, parameters: Params = ()) -> int:
        return await self._thread.call(_insert, self._conn, sql, parameters)


class InlineWriter:
    """The ``Writer`` of ``Catalog.run_write()`` units, used on the writer's thread only: each
    statement runs at once, so the unit's coroutine never suspends."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> Iterable[Row]:
        return _fetchall(self._conn, sql, parameters)

    async def execute(self, sql: str, parameters: Params = ()) -> int:
        return _execute(self._conn, sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> int:
        return _executemany(self._conn, sql, parameters)

    async def insert(self, sql: str, parameters: Params = ()) -> int:
        return _insert(self._conn, sql, parameters)


# On the writer's thread. Cursors are not kept: a DML statement is reset by ``sqlite3`` once it
# has run and its counts are read at once; a RETURNING statement is read to the end by
# ``_fetchall``.


def _fetchall(conn: sqlite3.Connection, sql: str, parameters: Params) -> list[Row]:
    try:
        rows: list[Row] = conn.execute(sql, parameters).fetchall()
    except sqlite3.IntegrityError as exc:
        raise constraint_violated(exc) from exc
    return rows


def _execute(conn: sqlite3.Connection, sql: str, parameters: Params) -> int:
    try:
        return conn.execute(sql, parameters).rowcount
    except sqlite3.IntegrityError as exc:
        raise constraint_violated(exc) from exc


def _executemany(conn: sqlite3.Connection, sql: str, parameters: Iterable[Params]) -> int:
    try:
        return conn.executemany(sql, parameters).rowcount
    except sqlite3.IntegrityError as exc:
        raise constraint_violated(exc) from exc


def _insert(conn: sqlite3.Connection, sql: str, parameters: Params) -> int:
    try:
        rowid = conn.execute(sql, parameters).lastrowid
    except sqlite3.IntegrityError as exc:
        raise constraint_violated(exc) from exc
    assert rowid is not None
    return rowid


def _translated(exc: BaseException) -> BaseException:
    """The catalog's exception for a driver's error that a ``run_write`` unit met."""
    if isinstance(exc, sqlite3.IntegrityError):
        return constraint_violated(exc)
    if isinstance(exc, sqlite3.OperationalError):
        try:
            raise_if_disk_full(exc)
        except InsufficientStorage as full:
            return full
    return exc


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


def _connect_writer(path: Path) -> sqlite3.Connection:
    # On the writer's thread, which alone uses it. isolation_level=None: we issue BEGIN/COMMIT
    # ourselves, nothing implicit.
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: a committed transaction survives power loss, not only a process crash.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


async def _open_writer(path: Path) -> tuple[WriterThread, sqlite3.Connection]:
    thread = WriterThread()
    try:
        return thread, await thread.call(_connect_writer, path)
    except BaseException:
        thread.stop()
        raise


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
    """The open catalog: a writer (serialised, on its own thread), a reader on the loop for
    point lookups, and a scan reader on its own thread for reads of many rows."""

    def __init__(
        self,
        path: Path,
        writer: tuple[WriterThread, sqlite3.Connection],
        scan_reader: aiosqlite.Connection,
        reader: LoopReader,
        before_write: Callable[[], Awaitable[None]] | None = None,
    ):
        self.path = path
        # Run before each write transaction begins: the composition root hands in the
        # storage reserve's ``keep_room``, so that SQLite finds room even on a full disk.
        self._before_write = before_write
        self._thread, self._conn = writer
        self._unit = SqliteWriter(self._thread, self._conn)
        self._scan_reader = scan_reader
        self._reader = reader
        self._write_lock = asyncio.Lock()
        # The open group transaction's COMMIT, which its units wait for.
        self._group: asyncio.Future[None] | None = None
        self._committer: asyncio.Future[None] | None = None
        self._batches = WriteBatches(
            self._thread,
            self._conn,
            InlineWriter(self._conn),
            self._write_lock,
            lambda: self._group,
            _translated,
            before_write,
        )

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
        migrator = await _connect(path)
        try:
            await apply_migrations(migrator, target=migrate_to)
        finally:
            await migrator.close()
        writer = await _open_writer(path)
        try:
            scan_reader = await _connect(path)
        except BaseException:
            await _close_writer(writer)
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
        await _close_writer((self._thread, self._conn))

    async def run_write(self, work: Work[T]) -> T:
        """Run ``work(writer)`` as one unit of work, whole on the writer's thread: one crossing
        there and one back, however many statements it runs (see ``write_batches``).

        The same guarantees as ``transaction()``: all of it is committed or none; units that
        queue meanwhile share a COMMIT; it returns once its COMMIT is durable, and raises what
        ``work`` raised (its unit undone) or what the COMMIT raised. ``work`` may only await
        catalog statements on the writer it is given: it runs off the event loop.
        """
        return await self._batches.run(work)

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
                # Released into the group, the unit's fate is the group's COMMIT, and so is
                # its answer: a cancellation from here on cannot undo it, and reporting one
                # for a unit that then commits would be false (as on PostgreSQL).
                with contextlib.suppress(asyncio.CancelledError):
                    await _to_the_end(self._close_unit(rollback=False))
            try:
                await _group_outcome(group)
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
            await self._statement("BEGIN IMMEDIATE")
            self._group = asyncio.get_running_loop().create_future()
            # Runs after every writer already waiting for the lock (the lock is FIFO).
            self._committer = asyncio.ensure_future(self._commit_group())
        group = self._group
        await self._statement("SAVEPOINT unit")
        return group

    async def _close_unit(self, *, rollback: bool) -> None:
        if not self._conn.in_transaction:
            return  # SQLite rolled the whole transaction back itself (it may on SQLITE_FULL)
        if rollback:
            await self._statement("ROLLBACK TO unit")
        await self._statement("RELEASE unit")

    async def _commit_group(self) -> None:
        async with self._write_lock:
            group, self._group = self._group, None
            if group is None:
                return
            try:
                await self._statement("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await self._statement("ROLLBACK")
                group.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
                # Nobody may be left waiting on it; mark the exception as seen here.
                group.exception()
                if not isinstance(exc, Exception):
                    raise
            else:
                group.set_result(None)

    async def _statement(self, sql: str) -> None:
        await self._thread.call(partial(self._conn.execute, sql))

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


async def _close_writer(writer: tuple[WriterThread, sqlite3.Connection]) -> None:
    thread, conn = writer
    if thread.stopped:
        return  # closed already
    try:
        await thread.call(conn.close)
    finally:
        thread.stop()


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


async def _group_outcome(group: asyncio.Future[None]) -> None:
    """Wait for the group's COMMIT to end, however often the caller is cancelled meanwhile;
    raises what the COMMIT raised."""
    while not group.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(group)
    group.result()


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
