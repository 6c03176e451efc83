"""The catalog on a PostgreSQL server, through an ``asyncpg`` pool: ``PostgresCatalog``.

It offers what ``catalog.db.Catalog`` offers (``protocols.CatalogBackend``), so services, jobs
and the app run on either. Statements are the same texts as on SQLite, their ``?``/``:name``
placeholders numbered once per text (``placeholders``); driver errors leave as
``catalog.errors`` (and a full disk as ``InsufficientStorage``), never as asyncpg's.

**Concurrent writers.** Unlike SQLite's single writer, write transactions here run side by
side (READ COMMITTED), across every process and host sharing the database: pushes to different
repositories, tag deletes, upload sessions and job progress do not wait for one another. Each
check-then-write that SQLite's single writer made safe locks what its check reads instead:

* garbage collection locks its candidate manifests and blobs ``FOR UPDATE`` and then re-checks
  the garbage condition (a statement started after the lock sees every row committed before
  it); a manifest push locks the blobs and child manifests it references ``FOR KEY SHARE``
  first, so the two wait for each other and a manifest never commits pointing at a deleted
  blob (``catalog/garbage.py``, ``catalog/blobs.py``, ``catalog/manifests.py``);
* placing a blob file and unlinking it take a per-digest advisory lock (``catalog/locks.py``),
  as does scheduling a garbage collection;
* claims (due jobs, due cleanup policies) skip rows another writer holds (``SKIP LOCKED``);
  leases and job transitions are single conditional statements, which PostgreSQL re-checks on
  the row it waited for;
* checks over rows that may not exist yet lock their parent's row before they read: "a group
  keeps an Owner" the group, "at most so many tag rules" the project, "this immutable tag is
  new" the repository; a tag push locks the tag's row, so the manifest it leaves is stamped.

The fragments that differ from SQLite are in ``catalog/dialect.py`` (empty there). Reads take
no lock and see committed rows, as WAL readers do.

Two writers may still wait on each other in a circle (PostgreSQL then aborts one) or fail a
serialization check: ``run_write`` runs its unit again, a few times, since the unit is a
function of its writer alone; ``transaction()`` cannot re-run its caller's body, so it raises
``WriteConflict``, a 503 the client retries.

**Cancellation.** A COMMIT once sent runs to its end: if the task is cancelled while it is in
flight, the transaction waits for the answer; committed, the unit ends normally (its work
happened, so reporting it cancelled would be false); failed, the failure is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from registry_service.catalog.dialect import POSTGRESQL
from registry_service.catalog.errors import (
    ConstraintViolated,
    ForeignKeyViolated,
    UniqueViolated,
    WriteConflict,
)
from registry_service.catalog.pg_migrate import apply_migrations
from registry_service.catalog.placeholders import numbered
from registry_service.catalog.protocols import Params, Row, Writer
from registry_service.catalog.writer_thread import CatalogClosed
from registry_service.errors import InsufficientStorage, Unavailable

T = TypeVar("T")

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
# Runs of a ``run_write`` unit that lost a deadlock or a serialization check; the pause before
# each re-run grows, with jitter so the two losers do not collide again in step.
WRITE_ATTEMPTS = 5
RETRY_PAUSE_S = 0.005


def translated(exc: BaseException) -> BaseException:
    """The catalog's exception for one of asyncpg's (others are returned as they are)."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return UniqueViolated(str(exc))
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return ForeignKeyViolated(str(exc))
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return ConstraintViolated(str(exc))
    if isinstance(exc, asyncpg.DiskFullError):
        return InsufficientStorage(detail={"reason": "the catalog database's disk is full"})
    if isinstance(exc, (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)):
        return WriteConflict(f"catalog: {exc}")
    return exc


@contextlib.contextmanager
def _driver_errors_translated() -> Any:
    try:
        yield
    except asyncpg.PostgresError as exc:
        raise translated(exc) from exc


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release. asyncpg's default sends a second statement after every
    borrow (unlock advisory locks, close cursors, unlisten, reset settings), doubling the
    round trips of each read. The catalog sets no session state (its advisory locks are
    transaction-scoped), and asyncpg itself still rolls back a transaction left open."""


async def _settled(step: Awaitable[T]) -> T:
    """The outcome of ``step``, awaited to its end however often the caller is cancelled
    meanwhile; those cancellations are dropped (see the module doc on COMMIT)."""
    task = asyncio.ensure_future(step)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
    result: T = task.result()
    return result


def _retry_pause_s(attempt: int) -> float:
    pause_s: float = RETRY_PAUSE_S * 2.0**attempt * (0.5 + random.random())
    return pause_s


def _row_count(status: str) -> int:
    """How many rows a command changed, from its status ("UPDATE 3", "INSERT 0 1")."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else 0


class PostgresReader:
    """The ``Reader`` of the pool: each query runs on a connection borrowed for it."""

    __slots__ = ("_pool",)
    dialect = POSTGRESQL

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> list[Row]:
        statement = numbered(sql)
        with _driver_errors_translated():
            rows: list[Row] = await self._pool.fetch(
                statement.sql, *statement.arguments(parameters)
            )
        return rows


class PostgresWriter:
    """The ``Writer`` of one write transaction, on the connection that holds it."""

    __slots__ = ("_conn",)
    dialect = POSTGRESQL

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> list[Row]:
        statement = numbered(sql)
        with _driver_errors_translated():
            rows: list[Row] = await self._conn.fetch(
                statement.sql, *statement.arguments(parameters)
            )
        return rows

    async def execute(self, sql: str, parameters: Params = ()) -> int:
        statement = numbered(sql)
        with _driver_errors_translated():
            status = await self._conn.execute(statement.sql, *statement.arguments(parameters))
        return _row_count(status)

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> int:
        statement = numbered(sql)
        changed = 0
        with _driver_errors_translated():
            # One prepared statement, run per parameter set: asyncpg's own executemany does
            # not say how many rows changed, and callers count (new blobs while seeding).
            prepared = await self._conn.prepare(statement.sql)
            for each in parameters:
                await prepared.fetch(*statement.arguments(each))
                changed += _row_count(prepared.get_statusmsg())
        return changed

    async def insert(self, sql: str, parameters: Params = ()) -> int:
        statement = numbered(sql.rstrip().removesuffix(";") + " RETURNING id")
        with _driver_errors_translated():
            new_id = await self._conn.fetchval(statement.sql, *statement.arguments(parameters))
        if new_id is None:
            raise ConstraintViolated("the INSERT wrote no row")
        return int(new_id)


class PostgresCatalog:
    """The open catalog on PostgreSQL: one pool for reads and write transactions alike."""

    def __init__(
        self, pool: asyncpg.Pool, before_write: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._pool = pool
        self._reader = PostgresReader(pool)
        # As on SQLite, run before each write transaction (the storage reserve's keep_room):
        # the blobs written beside the catalog rows still need room on the data directory.
        self._before_write = before_write

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        migrate_to: int | None = None,
        before_write: Callable[[], Awaitable[None]] | None = None,
        max_size: int = POOL_MAX_SIZE,
    ) -> PostgresCatalog:
        """Connect, bring the schema up to date (once, whoever starts first), open the pool."""
        try:
            conn = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError) as exc:
            # The message of a refused connection never holds the URL; the URL is not added.
            raise Unavailable(f"catalog: cannot connect to PostgreSQL: {exc}") from exc
        try:
            await apply_migrations(conn, target=migrate_to)
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(
            url, min_size=POOL_MIN_SIZE, max_size=max_size, reset=_keep_session
        )
        assert pool is not None  # create_pool returns None only when told not to initialise
        return cls(pool, before_write)

    async def close(self) -> None:
        await self._pool.close()

    @property
    def reader(self) -> PostgresReader:
        return self._reader

    @property
    def scan_reader(self) -> PostgresReader:
        # No event loop to keep free of a long read here: the server does the work and asyncpg
        # decodes rows in C. The same reader serves both.
        return self._reader

    async def run_write(self, work: Callable[[Writer], Coroutine[Any, Any, T]]) -> T:
        """Run ``work(writer)`` as one transaction; its result, or what it raised with nothing
        of it committed. A unit that lost a deadlock or a serialization check is run again
        (``work`` depends on nothing but its writer), at most ``WRITE_ATTEMPTS`` times."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                async with self.transaction() as writer:
                    return await work(writer)
            except WriteConflict:
                if attempt + 1 == WRITE_ATTEMPTS:
                    raise
            await asyncio.sleep(_retry_pause_s(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Writer]:
        """One write transaction: all of it is committed, or none. A deferred constraint that
        fails at COMMIT raises from the ``async with`` like one that failed at its statement;
        a deadlock or serialization failure raises ``WriteConflict``. Cancelled while its
        COMMIT is in flight, it waits for it and ends as the COMMIT did (module doc)."""
        if self._pool.is_closing():
            # As on SQLite: a write after close is the catalog's error, not the driver's.
            raise CatalogClosed("the catalog is closed")
        if self._before_write is not None:
            await self._before_write()
        with _driver_errors_translated():
            conn = await self._pool.acquire()
            try:
                async with _open_transaction(conn) as transaction:
                    yield PostgresWriter(conn)
                    await _settled(transaction.commit())
            finally:
                # Handing the connection back must not turn a committed unit into a cancelled
                # one either; asyncpg rolls back whatever a failed unit left open.
                await _settled(self._pool.release(conn))

    async def ping(self) -> None:
        """Unavailable unless the catalog answers a query."""
        try:
            await self._pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise Unavailable(f"catalog: {exc}") from exc


@asynccontextmanager
async def _open_transaction(conn: asyncpg.Connection) -> AsyncIterator[Any]:
    """BEGIN on ``conn``; rolled back if the body raises (COMMIT is the body's last step)."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield transaction
    except BaseException:
        if not conn.is_closed() and conn.is_in_transaction():
            with contextlib.suppress(Exception):
                await _settled(transaction.rollback())
        raise
