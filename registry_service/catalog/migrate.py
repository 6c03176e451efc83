"""Versioned schema migrations: numbered ``migrations/NNNN_name.sql`` files, applied in order.

Each dialect has its own files with the same numbers and names: SQLite's in ``migrations/``,
PostgreSQL's in ``migrations/postgresql/`` (applied by ``pg_migrate``). This module lists both
and applies SQLite's, whose schema version is SQLite's ``PRAGMA user_version``. Each file runs
in its own transaction together with the version bump, so a crash mid-migration leaves the
previous version intact. Files are only ever added, never edited once released.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Literal

import aiosqlite

Dialect = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations(dialect: Dialect = "sqlite") -> list[Migration]:
    """The dialect's migrations by version, checked to run 1..n without gaps."""
    folder = resources.files("registry_service.catalog") / "migrations"
    if dialect == "postgresql":
        folder = folder / "postgresql"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration numbers must run 1..n without gaps: {found!r}")
    return found


def pending(migrations: list[Migration], current: int, target: int | None) -> list[Migration]:
    """The migrations to apply to a catalog at version ``current`` (up to ``target``); refuses
    a catalog newer than the program, which could only be damaged by it."""
    latest = migrations[-1].version
    if current > latest:
        raise RuntimeError(
            f"catalog schema version {current} is newer than this program knows ({latest}); "
            "upgrade registry-service"
        )
    return [
        m for m in migrations if m.version > current and (target is None or m.version <= target)
    ]


async def schema_version(db: aiosqlite.Connection) -> int:
    rows = list(await db.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])


async def apply_migrations(db: aiosqlite.Connection, *, target: int | None = None) -> int:
    """Apply every migration above the current version (up to ``target``); return the version."""
    current = await schema_version(db)
    for migration in pending(available_migrations(), current, target):
        # executescript() commits any open transaction first, then runs the script as is;
        # BEGIN…COMMIT inside makes the file and its version bump one atomic step.
        try:
            await db.executescript(
                f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                f"PRAGMA user_version = {migration.version};\nCOMMIT;"
            )
        except BaseException:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise
        current = migration.version
    return current
