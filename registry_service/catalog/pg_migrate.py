"""Versioned schema migrations of a PostgreSQL catalog: ``migrations/postgresql/NNNN_name.sql``,
the same numbers and names as SQLite's (listed by ``migrate.available_migrations``).

The schema version lives in a one-row table, ``schema_version`` (SQLite keeps it in
``PRAGMA user_version``; PostgreSQL has no such slot). Each file runs in one transaction with
its version bump: PostgreSQL's DDL is transactional, so a failure leaves the previous version
intact. Several replicas may start at once against one database; a session advisory lock
makes them migrate one after the other, and the ones that come second find nothing left to do.
Only SQL for the schema's bookkeeping lives here.
"""

from __future__ import annotations

import asyncpg

from registry_service.catalog.migrate import available_migrations, pending

# The advisory lock key of the migration runner, one 64-bit number for the whole database:
# b"regmigr" read as an integer, so it is unlikely to collide with another program's key.
MIGRATION_LOCK = int.from_bytes(b"regmigr", "big")

VERSION_TABLE = "schema_version"

_CREATE_VERSION_TABLE = f"""
CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (
    single   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (single),
    version  INTEGER NOT NULL
);
INSERT INTO {VERSION_TABLE} (version) VALUES (0) ON CONFLICT (single) DO NOTHING;
"""


async def schema_version(conn: asyncpg.Connection) -> int:
    """The catalog's schema version; 0 for a database the catalog has never touched."""
    if await conn.fetchval("SELECT to_regclass($1) IS NULL", VERSION_TABLE):
        return 0
    version = await conn.fetchval(f"SELECT version FROM {VERSION_TABLE}")
    return int(version or 0)


async def apply_migrations(conn: asyncpg.Connection, *, target: int | None = None) -> int:
    """Apply every migration above the current version (up to ``target``); return the version.

    ``conn`` must not be inside a transaction: each migration is a transaction of its own.
    """
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        # Read under the lock: a process that waited finds what the first one did.
        current = await schema_version(conn)
        for migration in pending(available_migrations("postgresql"), current, target):
            async with conn.transaction():
                if current == 0:
                    await conn.execute(_CREATE_VERSION_TABLE)
                await conn.execute(migration.sql)
                await conn.execute(f"UPDATE {VERSION_TABLE} SET version = $1", migration.version)
            current = migration.version
        return current
    finally:
        # A connection that broke has lost its lock already; the unlock then fails too, and
        # the error it raises first is the one worth seeing.
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
