"""The catalog on a PostgreSQL server, through an ``asyncpg`` pool: ``PostgresCatalog``.

It offers what ``catalog.db.Catalog`` offers (``protocols.CatalogBackend``), so services, jobs
and the app run on either. Statements are the same texts as on SQLite, their ``?``/``:name``
placeholders numbered once per text (``placeholders``); driver errors leave as
``catalog.errors`` (and a full disk as ``InsufficientStorage``), never as asyncpg's.

Writes are serialised as on SQLite: every write transaction takes one transaction-scoped
advisory lock, ``pg_advisory_xact_lock(WRITE_LOCK_KEY)``, before its first statement, so at
most one write unit runs at a time across every process and host sharing the database. The
code relies on SQLite's single writer in places (garbage collection re-checks its conditions
inside the delete's transaction and counts what it saw; a push's checks and its rows are one
unit), and this keeps those guarantees identical here rather than re-deriving each one under
PostgreSQL's concurrent writers. Reads take no lock and see committed rows, as WAL readers do.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from registry_service.catalog.dialect import POSTGRESQL
from registry_service.catalog.errors import ConstraintViolated, ForeignKeyViolated, UniqueViolated
from registry_service.catalog.pg_migrate import apply_migrations
from registry_service.catalog.placeholders import numbered
from registry_service.catalog.protocols import Params, Row, Writer
from registry_service.catalog.writer_thread import CatalogClosed
from registry_service.errors import InsufficientStorage, Unavailable

T = TypeVar("T")

# Any constant: what matters is that every writer of the database takes the same one. The
# bytes spell "registry".
WRITE_LOCK_KEY = 0x7265676973747279
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10


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
    return exc


@contextlib.contextmanager
def _driver_errors_translated() -> Any:
    try:
        yield
    except asyncpg.PostgresError as exc:
        raise translated(exc) from exc


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
        pool = await asyncpg.create_pool(url, min_size=POOL_MIN_SIZE, max_size=max_size)
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
        """Run ``work(writer)`` as one transaction under the write lock; its result, or what
        it raised with nothing of it committed."""
        async with self.transaction() as writer:
            return await work(writer)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Writer]:
        """One write transaction under the write lock: all of it is committed, or none. A
        deferred constraint that fails at COMMIT raises from the ``async with`` like one that
        failed at its statement."""
        if self._pool.is_closing():
            # As on SQLite: a write after close is the catalog's error, not the driver's.
            raise CatalogClosed("the catalog is closed")
        if self._before_write is not None:
            await self._before_write()
        with _driver_errors_translated():
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
                yield PostgresWriter(conn)

    async def ping(self) -> None:
        """Unavailable unless the catalog answers a query."""
        try:
            await self._pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise Unavailable(f"catalog: {exc}") from exc
