"""Versioned schema migrations: numbered ``migrations/NNNN_name.sql`` files, applied in order.

The schema version is SQLite's ``PRAGMA user_version``. Each file runs in its own transaction
together with the version bump, so a crash mid-migration leaves the previous version intact.
Files are only ever added, never edited once released.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import aiosqlite


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    folder = resources.files("registry_service.catalog") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration numbers must run 1..n without gaps: {found!r}")
    return found


async def schema_version(db: aiosqlite.Connection) -> int:
    rows = list(await db.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])


async def apply_migrations(db: aiosqlite.Connection, *, target: int | None = None) -> int:
    """Apply every migration above the current version (up to ``target``); return the version."""
    current = await schema_version(db)
    migrations = available_migrations()
    latest = migrations[-1].version
    if current > latest:
        raise RuntimeError(
            f"catalog schema version {current} is newer than this program knows ({latest}); "
            "upgrade registry-service"
        )
    for migration in migrations:
        if migration.version <= current or (target is not None and migration.version > target):
            continue
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
