"""What the catalog's query functions need from a connection, as project-owned protocols.

Query modules and the services and jobs above them are typed against these, never against
``sqlite3`` or ``aiosqlite``, so that another backend is one more implementation of them
(``catalog.db`` holds the SQLite one). Each protocol names only what the code calls.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# Positional (``?``) or named (``:name``) parameters of one statement.
Params = Sequence[Any] | dict[str, Any]


class Row(Protocol):
    """One result row: read by column name or position, or unpacked by position."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class Reader(Protocol):
    """What a read query needs: the writer's transaction, the loop reader or the scan reader."""

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> Iterable[Row]: ...


class Writer(Reader, Protocol):
    """What a write query needs: the open unit of work of ``Catalog.transaction()``.

    A broken constraint raises one of ``catalog.errors``, never a driver's exception.
    """

    async def execute(self, sql: str, parameters: Params = ()) -> int:
        """Run one statement; how many rows it changed."""
        ...

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> int:
        """Run one statement per parameter set; how many rows they changed in all."""
        ...

    async def insert(self, sql: str, parameters: Params = ()) -> int:
        """Run an INSERT of one row; the new row's id."""
        ...


class CatalogBackend(Protocol):
    """An open catalog, whatever the database under it: ``catalog.db.Catalog`` (SQLite) and
    ``catalog.postgres.PostgresCatalog``. Services, jobs and the app are typed against this."""

    @property
    def reader(self) -> Reader:
        """For lookups of a few rows."""
        ...

    @property
    def scan_reader(self) -> Reader:
        """For reads of many rows."""
        ...

    async def run_write(self, work: Callable[[Writer], Coroutine[Any, Any, T]]) -> T:
        """Run ``work(writer)`` as one unit of work: all of it is committed, or none."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Writer]:
        """One unit of work that may await other things between its statements."""
        ...

    async def ping(self) -> None:
        """Raise ``Unavailable`` unless the catalog answers a query."""
        ...

    async def close(self) -> None: ...
