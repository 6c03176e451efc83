"""The PostgreSQL schema is SQLite's: the same tables, columns (order, nullability, defaults,
case-insensitivity), primary keys, unique and plain indexes, foreign keys with their delete
actions, CHECK constraints and triggers, read from each database's own catalog."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from registry_service.catalog.db import Catalog
from registry_service.catalog.pg_migrate import VERSION_TABLE
from registry_service.catalog.protocols import Reader

Schema = dict[str, dict[str, Any]]

PG_DELETE_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL"}


@pytest.fixture
async def sqlite_schema(tmp_path: Path) -> Schema:
    catalog = await Catalog.open(tmp_path / "registry.sqlite3")
    try:
        return await read_sqlite_schema(catalog.reader)
    finally:
        await catalog.close()


@pytest.fixture
async def postgres_schema(postgres_url: str) -> AsyncIterator[Schema]:
    conn = await asyncpg.connect(postgres_url)
    try:
        yield await read_postgres_schema(conn)
    finally:
        await conn.close()


def default(text: str | None) -> str | None:
    """A column default without PostgreSQL's cast (``'active'::text`` is SQLite's
    ``'active'``)."""
    return None if text is None else re.sub(r"::[\w ]+$", "", text)


async def rows(db: Reader, sql: str) -> list[Any]:
    return list(await db.execute_fetchall(sql))


async def read_sqlite_schema(db: Reader) -> Schema:
    schema: Schema = {}
    tables = await rows(
        db,
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    for name, sql in tables:
        info = await rows(db, f"PRAGMA table_info({name})")
        indexes = set()
        for _, index, unique, origin, partial in await rows(db, f"PRAGMA index_list({name})"):
            if origin == "pk":
                continue  # the primary key is compared as such
            columns = tuple(c[2] for c in await rows(db, f"PRAGMA index_info({index})"))
            # Constraint indexes are named by each database its own way; CREATE INDEX names.
            indexes.add((index if origin == "c" else None, columns, bool(unique), bool(partial)))
        foreign_keys: dict[int, list[Any]] = {}
        for fk in await rows(db, f"PRAGMA foreign_key_list({name})"):
            foreign_keys.setdefault(fk[0], []).append(fk)
        schema[name] = {
            # A primary key column is never NULL (SQLite only enforces it for rowid aliases
            # and says notnull = 0 for those; the code never writes NULL to one).
            "columns": [(c[1], bool(c[3] or c[5]), c[4]) for c in info],
            "primary_key": tuple(c[1] for c in sorted(info, key=lambda c: c[5]) if c[5]),
            "case_insensitive": set(re.findall(r"(\w+)\s+TEXT[^,]*COLLATE NOCASE", sql)),
            "indexes": indexes,
            "foreign_keys": {
                (
                    tuple(f[3] for f in fk),
                    fk[0][2],
                    tuple(f[4] for f in fk),
                    fk[0][6],
                )
                for fk in foreign_keys.values()
            },
            "checks": sql.count("CHECK ("),
        }
    triggers = await rows(db, "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
    for table, trigger in triggers:
        schema[table].setdefault("triggers", set()).add(trigger)
    return schema


async def read_postgres_schema(conn: asyncpg.Connection) -> Schema:
    schema: Schema = {}
    tables = await conn.fetch(
        "SELECT c.oid, c.relname FROM pg_class c"
        " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
        " AND c.relname <> $1",
        VERSION_TABLE,
    )
    for oid, name in tables:
        columns = await conn.fetch(
            "SELECT column_name, is_nullable = 'NO', column_default, udt_name"
            " FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            name,
        )
        indexes = set()
        for index in await conn.fetch(
            "SELECT i.relname, x.indisunique, x.indisprimary, x.indpred IS NOT NULL,"
            " EXISTS (SELECT 1 FROM pg_constraint k"
            "         WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u')),"
            # Expression columns (attnum 0) read as NULL, as SQLite's index_info names them.
            " ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)"
            "       LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum"
            "       ORDER BY k.n)"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1",
            oid,
        ):
            index_name, unique, primary, partial, by_constraint, names = index
            if primary:
                continue
            indexes.add((None if by_constraint else index_name, tuple(names), unique, partial))
        primary_key = await conn.fetchval(
            "SELECT ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(attnum, n)"
            "  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum"
            "  ORDER BY u.n)"
            " FROM pg_constraint k WHERE k.conrelid = $1 AND k.contype = 'p'",
            oid,
        )
        foreign_keys = await conn.fetch(
            "SELECT ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(attnum, n)"
            "  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum"
            "  ORDER BY u.n),"
            " k.confrelid::regclass::text,"
            " ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(attnum, n)"
            "  JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum"
            "  ORDER BY u.n),"
            " k.confdeltype::text, k.condeferrable, k.condeferred"
            " FROM pg_constraint k WHERE k.conrelid = $1 AND k.contype = 'f'",
            oid,
        )
        # Deferrable, initially immediate: checked per statement as in SQLite, deferrable
        # to COMMIT as PRAGMA defer_foreign_keys does.
        assert all(fk[4] and not fk[5] for fk in foreign_keys), name
        checks = await conn.fetchval(
            "SELECT COUNT(*) FROM pg_constraint WHERE conrelid = $1 AND contype = 'c'", oid
        )
        triggers = await conn.fetch(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal", oid
        )
        schema[name] = {
            "columns": [
                (c[0], c[1], None if c[2] and c[2].startswith("nextval(") else default(c[2]))
                for c in columns
            ],
            "primary_key": tuple(primary_key or ()),
            "case_insensitive": {c[0] for c in columns if c[3] == "citext"},
            "indexes": indexes,
            "foreign_keys": {
                (tuple(fk[0]), fk[1], tuple(fk[2]), PG_DELETE_ACTIONS[fk[3]]) for fk in foreign_keys
            },
            "checks": checks,
        }
        if triggers:
            schema[name]["triggers"] = {t[0] for t in triggers}
    return schema


async def test_both_dialects_have_the_same_tables(
    sqlite_schema: Schema, postgres_schema: Schema
) -> None:
    assert set(postgres_schema) == set(sqlite_schema)
    assert len(sqlite_schema) >= 20


@pytest.mark.parametrize(
    "aspect",
    [
        "columns",
        "primary_key",
        "case_insensitive",
        "indexes",
        "foreign_keys",
        "checks",
        "triggers",
    ],
)
async def test_every_table_matches_sqlites(
    sqlite_schema: Schema, postgres_schema: Schema, aspect: str
) -> None:
    for table, expected in sorted(sqlite_schema.items()):
        assert postgres_schema[table].get(aspect) == expected.get(aspect), table


async def test_the_comparison_sees_what_it_compares(sqlite_schema: Schema) -> None:
    """Guards against a reader that finds nothing and compares empty to empty."""
    users = sqlite_schema["users"]
    assert users["case_insensitive"] == {"username", "email"}
    assert ("state", True, "'active'") in users["columns"]
    assert (None, ("username",), True, False) in users["indexes"]
    assert ("users_marked", ("marked_for_deletion_at",), False, True) in users["indexes"]
    assert sqlite_schema["repository_blobs"]["primary_key"] == ("repository_id", "digest")
    assert (("user_id",), "users", ("id",), "CASCADE") in sqlite_schema["members"]["foreign_keys"]
    assert ("manifests_built", ("repository_id", None), False, False) in sqlite_schema["manifests"][
        "indexes"
    ]
    assert sqlite_schema["tags"]["triggers"] == {"tags_count_up", "tags_count_down"}
    assert sqlite_schema["tag_protection_rules"]["checks"] == 4
