"""Copying a SQLite catalog into an empty PostgreSQL database (``registry-service
migrate-catalog``), then checking the copy row for row.

The source is read inside one read transaction, so the copy is one consistent snapshot even
if a registry still writes to the file (what it writes after the snapshot is not copied: stop
it first). The target is brought to the latest schema and must hold no rows. Tables go over
in foreign-key order, all in one PostgreSQL transaction, through COPY; foreign keys are
deferred to the COMMIT, so a row whose parent comes later in its own table (a subgroup older
than its parent) is no obstacle. The tag-count trigger is off while ``tags`` is filled:
``repositories.tags_count`` arrives as the source counted it, and counting the copied tags
again would double it. Identity sequences are moved past the largest copied id.

Then each table is read back from PostgreSQL and its row count and checksum compared with
what was read from SQLite. The checksum is one SHA-256 over every column of every row in
primary-key order, each value encoded by type (``_encode``), computed by the same Python code
for both sides. Only SQL and the copy itself live here; the command's output is the caller's.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg

from registry_service.catalog.db import Catalog
from registry_service.catalog.pg_migrate import apply_migrations
from registry_service.settings import sqlite_url_path

BATCH_ROWS = 5_000

# Triggers that maintain a copied column (tags_count): off while their table is filled.
COUNTING_TRIGGERS = {"tags": ("tags_count_up",)}


class CopyRefused(Exception):
    """The copy cannot start (no source, a target with rows); the message says why."""


class CopyFailed(Exception):
    """PostgreSQL refused a step (the login, a row); nothing was committed."""


@dataclass(frozen=True)
class TableCopy:
    """One table's rows and checksum as read from each side."""

    table: str
    source_rows: int
    source_checksum: str
    target_rows: int
    target_checksum: str

    @property
    def matches(self) -> bool:
        return (self.source_rows, self.source_checksum) == (
            self.target_rows,
            self.target_checksum,
        )


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///…`` URL, read as ``catalog.url`` is."""
    path = sqlite_url_path(url)
    if path is None:
        raise CopyRefused(f"not a sqlite:///<path> URL: {url!r}")
    return path


class Checksum:
    """SHA-256 over rows, each value tagged with its type and, if variable, its length, so
    that no two different row sequences encode alike (``'1'`` is not ``1``, NULL is not
    ``''``, ``('ab', 'c')`` is not ``('a', 'bc')``)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.rows = 0

    def add(self, row: Sequence[Any]) -> None:
        self._hash.update(b"r%d" % len(row))
        for value in row:
            self._hash.update(_encode(value))
        self.rows += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _encode(value: Any) -> bytes:
    if value is None:
        return b"n"
    if isinstance(value, bool):  # never stored (flags are 0/1), but bool is an int
        raise TypeError(f"unexpected boolean in the catalog: {value!r}")
    if isinstance(value, int):
        return b"i%d;" % value
    if isinstance(value, float):
        return b"f" + value.hex().encode() + b";"
    if isinstance(value, str):
        data = value.encode()
        return b"s%d:" % len(data) + data
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return b"b%d:" % len(data) + data
    raise TypeError(f"unexpected value in the catalog: {type(value).__name__}")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    parents: frozenset[str]


async def _tables(db: aiosqlite.Connection) -> list[Table]:
    """The source's tables in foreign-key order: every table after those it refers to."""
    names = [
        r[0]
        for r in await db.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]
    tables = {}
    for name in names:
        info = list(await db.execute_fetchall(f'PRAGMA table_info("{name}")'))
        keys = sorted((c[5], c[1]) for c in info if c[5])
        parents = {fk[2] for fk in await db.execute_fetchall(f'PRAGMA foreign_key_list("{name}")')}
        tables[name] = Table(
            name,
            tuple(c[1] for c in info),
            tuple(column for _, column in keys),
            frozenset(parents - {name}),
        )
    ordered: list[Table] = []
    placed: set[str] = set()
    while len(ordered) < len(tables):
        ready = [t for n, t in tables.items() if n not in placed and t.parents <= placed]
        if not ready:
            raise RuntimeError(f"foreign keys form a cycle among {sorted(set(tables) - placed)}")
        for table in ready:
            ordered.append(table)
            placed.add(table.name)
    return ordered


def _select(table: Table) -> str:
    columns = ", ".join(f'"{c}"' for c in table.columns)
    order = ", ".join(f'"{c}"' for c in table.primary_key)
    return f'SELECT {columns} FROM "{table.name}" ORDER BY {order}'


async def _source_rows(
    db: aiosqlite.Connection, table: Table, checksum: Checksum
) -> AsyncIterator[tuple[Any, ...]]:
    async with db.execute(_select(table)) as cursor:
        while batch := await cursor.fetchmany(BATCH_ROWS):
            for row in batch:
                values = tuple(row)
                checksum.add(values)
                yield values


async def _target_checksum(conn: asyncpg.Connection, table: Table) -> Checksum:
    checksum = Checksum()
    async with conn.transaction(readonly=True):
        async for row in conn.cursor(_select(table), prefetch=BATCH_ROWS):
            checksum.add(tuple(row))
    return checksum


async def _binary_citext(conn: asyncpg.Connection) -> None:
    """COPY sends rows in binary, for which asyncpg knows no citext codec; citext's binary form
    is text's (UTF-8 bytes), so say so."""
    schema = await conn.fetchval(
        "SELECT n.nspname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE t.typname = 'citext'"
    )
    await conn.set_type_codec(
        "citext", schema=schema, encoder=str.encode, decoder=bytes.decode, format="binary"
    )


async def _refuse_rows(conn: asyncpg.Connection, tables: list[Table]) -> None:
    for table in tables:
        if await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{table.name}")'):
            raise CopyRefused(
                f"the target catalog is not empty (table {table.name} has rows);"
                " migrate-catalog copies into an empty database only"
            )


async def _check_columns(conn: asyncpg.Connection, tables: list[Table]) -> None:
    for table in tables:
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1"
            " ORDER BY ordinal_position",
            table.name,
        )
        if tuple(c[0] for c in columns) != table.columns:
            raise CopyRefused(
                f"table {table.name} differs between the two catalogs:"
                f" {table.columns} in SQLite, {tuple(c[0] for c in columns)} in PostgreSQL"
            )


async def move_identities_past_rows(conn: asyncpg.Connection) -> None:
    """Let every identity column's next generated id follow the largest one in its table, as
    SQLite's would: rows written with explicit ids (a copy) do not move the sequence."""
    identities = await conn.fetch(
        "SELECT c.relname, a.attname,"
        " pg_get_serial_sequence(quote_ident(c.relname), a.attname)"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE a.attidentity <> '' AND c.relnamespace = current_schema()::regnamespace"
    )
    for table, column, sequence in identities:
        await conn.execute(
            f'SELECT setval($1, MAX("{column}")) FROM "{table}" HAVING COUNT(*) > 0', sequence
        )


async def copy_catalog(
    source: Path,
    target_url: str,
    *,
    copied: Callable[[str, int], None] | None = None,
) -> list[TableCopy]:
    """Copy the SQLite catalog at ``source`` into the empty PostgreSQL database at
    ``target_url`` (both brought to the latest schema first); each table's counts and
    checksums from both sides. ``copied(table, rows)`` is told as each table is written."""
    if not source.is_file():
        raise CopyRefused(f"no SQLite catalog at {source}")
    try:
        # Opening migrates the file to this program's schema, as every command opening it does.
        await (await Catalog.open(source)).close()
    except sqlite3.DatabaseError as exc:
        raise CopyRefused(f"{source} is no SQLite catalog: {exc}") from exc
    except RuntimeError as exc:  # a schema newer than this program
        raise CopyRefused(f"{source}: {exc}") from exc
    try:
        return await _copy_into(source, await asyncpg.connect(target_url), copied)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
        raise CopyFailed(f"PostgreSQL: {exc}") from exc
    except sqlite3.Error as exc:
        raise CopyFailed(f"SQLite: {exc}") from exc


async def _copy_into(
    source: Path, conn: asyncpg.Connection, copied: Callable[[str, int], None] | None
) -> list[TableCopy]:
    try:
        try:
            await apply_migrations(conn)
        except RuntimeError as exc:  # a schema newer than this program
            raise CopyRefused(f"the target: {exc}") from exc
        await _binary_citext(conn)
        async with aiosqlite.connect(source, isolation_level=None) as db:
            await db.execute("PRAGMA query_only = ON")
            tables = await _tables(db)
            await _check_columns(conn, tables)
            await _refuse_rows(conn, tables)
            # One read transaction: every table from the same snapshot.
            await db.execute("BEGIN")
            try:
                sums = await _copy_tables(db, conn, tables, copied)
            finally:
                await db.execute("ROLLBACK")
        results = []
        for table in tables:
            target = await _target_checksum(conn, table)
            results.append(
                TableCopy(
                    table.name,
                    sums[table.name].rows,
                    sums[table.name].hexdigest(),
                    target.rows,
                    target.hexdigest(),
                )
            )
        return results
    finally:
        await conn.close()


async def _copy_tables(
    db: aiosqlite.Connection,
    conn: asyncpg.Connection,
    tables: list[Table],
    copied: Callable[[str, int], None] | None,
) -> dict[str, Checksum]:
    sums = {}
    async with conn.transaction():
        # Before any row: ALTER TABLE refuses a table with deferred checks pending. DISABLE
        # TRIGGER is part of this transaction, so a failed copy leaves the trigger enabled.
        for name, triggers in COUNTING_TRIGGERS.items():
            for trigger in triggers:
                await conn.execute(f'ALTER TABLE "{name}" DISABLE TRIGGER "{trigger}"')
        await conn.execute("SET CONSTRAINTS ALL DEFERRED")
        for table in tables:
            checksum = sums[table.name] = Checksum()
            await conn.copy_records_to_table(
                table.name,
                records=_source_rows(db, table, checksum),
                columns=list(table.columns),
            )
            if copied is not None:
                copied(table.name, checksum.rows)
        await move_identities_past_rows(conn)
        # Every foreign key is checked here; then the triggers may be altered back.
        await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name, triggers in COUNTING_TRIGGERS.items():
            for trigger in triggers:
                await conn.execute(f'ALTER TABLE "{name}" ENABLE TRIGGER "{trigger}"')
    return sums
