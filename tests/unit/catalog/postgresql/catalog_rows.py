"""Rows a catalog may hold at a given schema version, written as plain SQL that both dialects
run, and the means to read whole catalogs back for comparison.

Migration files are never edited once released, so neither are the rows for a version: a
later version only adds to the list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from registry_service.catalog.copying import move_identities_past_rows
from registry_service.catalog.db import Catalog
from registry_service.catalog.errors import ConstraintViolated
from registry_service.catalog.pg_migrate import VERSION_TABLE
from registry_service.catalog.pg_migrate import apply_migrations as apply_pg_migrations
from tests.unit.catalog.test_migrations import NOW, V1_ROWS

LATER = "2026-06-02T00:00:00.000000Z"
# A BLOB literal: SQLite's x'…' is a bit string in PostgreSQL.
PAYLOAD = {"sqlite": "x'7b7d'", "postgresql": "'\\x7b7d'::bytea"}

Dump = dict[str, list[tuple[Any, ...]]]


def rows_at(version: int, dialect: str) -> list[str]:
    """INSERTs valid at schema ``version``: every table that exists then gets rows, the ones
    a later migration moves (version 5: tag counts, unreferenced stamps) included."""
    payload = PAYLOAD[dialect]
    statements = list(V1_ROWS)
    if version >= 2:
        # Before version 5 the unreferenced stamp is a column of manifests.
        stamp_column = ", unreferenced_at" if version < 5 else ""
        stamps = (", NULL", f", '{LATER}'", ", NULL", f", '{LATER}'") if version < 5 else ("",) * 4
        statements += [
            "INSERT INTO repositories (id, project_id, name, created_at) VALUES"
            f" (1, 1, '', '{NOW}'), (2, 1, 'api', '{NOW}'), (3, 2, '', '{NOW}')",
            f"INSERT INTO blobs (digest, size_bytes, created_at) VALUES ('sha256:l1', 10, '{NOW}'),"
            f" ('sha256:l2', 5000000000, '{NOW}')",
            "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES"
            f" (1, 'sha256:l1', '{NOW}'), (2, 'sha256:l2', '{NOW}')",
            "INSERT INTO manifests (id, repository_id, digest, media_type, payload, size_bytes,"
            f" image_created_at, created_at{stamp_column}) VALUES"
            f" (1, 1, 'sha256:a', 'm', {payload}, 2, NULL, '{NOW}'{stamps[0]}),"
            f" (2, 1, 'sha256:b', 'm', {payload}, 2, '{NOW}', '{NOW}'{stamps[1]}),"
            f" (3, 2, 'sha256:c', 'm', {payload}, 2, NULL, '{NOW}'{stamps[2]}),"
            # Tagged, yet stamped: version 4 stamped an index's tagged children.
            f" (4, 1, 'sha256:d', 'm', {payload}, 2, NULL, '{NOW}'{stamps[3]})",
            "INSERT INTO manifest_blobs (manifest_id, position, digest, size_bytes, media_type)"
            " VALUES (1, -1, 'sha256:l1', 10, 'config'), (1, 0, 'sha256:l2', 5000000000, 'l')",
            "INSERT INTO manifest_children (parent_id, position, child_digest, platform) VALUES"
            " (2, 0, 'sha256:d', '{\"os\": \"linux\"}')",
            "INSERT INTO tags (repository_id, name, manifest_id, pushed_at) VALUES"
            f" (1, 'a', 1, '{NOW}'), (1, 'b', 1, '{NOW}'), (2, 'c', 3, '{NOW}'),"
            f" (1, 'd', 4, '{NOW}')",
            "INSERT INTO uploads (id, repository_id, started_at, updated_at) VALUES"
            f" ('u-1', 1, '{NOW}', '{NOW}')",
            "INSERT INTO jobs (id, kind, params, requester_id, project_id, repository_id,"
            f" created_at) VALUES (1, 'cleanup_tags', '{{}}', 2, 1, 1, '{NOW}')",
            f"INSERT INTO leases (name, owner, expires_at) VALUES ('bulk:1', 'w', '{LATER}')",
            "INSERT INTO cleanup_policies (project_id, enabled, created_at, updated_at) VALUES"
            f" (1, 1, '{NOW}', '{NOW}')",
        ]
    if version >= 6:
        statements.append(
            "INSERT INTO deploy_tokens (id, project_id, namespace_id, name, username,"
            " token_digest, scopes, created_at) VALUES"
            f" (1, 1, NULL, 'k8s', 'gitlab+deploy-token-1', 'd1', 'read_registry', '{NOW}')"
        )
    if version >= 7:
        statements.append(f"UPDATE projects SET marked_for_deletion_at = '{NOW}' WHERE id = 3")
    if version >= 8:
        statements.append(
            "INSERT INTO web_sessions (id_digest, token_id, csrf_token, created_at, expires_at)"
            f" VALUES ('s1', 1, 'c', '{NOW}', '{LATER}')"
        )
    if version >= 9:
        statements.append(
            "INSERT INTO tag_protection_rules (project_id, tag_name_pattern, immutable,"
            f" created_at) VALUES (1, 'v.*', 1, '{NOW}')"
        )
    return statements


async def sqlite_catalog_at(path: Path, version: int) -> None:
    """A SQLite catalog file at ``version`` holding ``rows_at(version)``."""
    catalog = await Catalog.open(path, migrate_to=version)
    try:
        async with catalog.transaction() as tx:
            for statement in rows_at(version, "sqlite"):
                await tx.execute(statement)
    finally:
        await catalog.close()


async def postgres_catalog_at(
    conn: asyncpg.Connection, version: int, *, migrated: bool = False
) -> None:
    """The same in an empty PostgreSQL database (or one ``migrated`` to ``version`` already).
    Generated ids then follow the explicit ones, as SQLite's do."""
    if not migrated:
        assert await apply_pg_migrations(conn, target=version) == version
    async with conn.transaction():
        for statement in rows_at(version, "postgresql"):
            await conn.execute(statement)
        await move_identities_past_rows(conn)


async def sqlite_dump(catalog: Catalog) -> Dump:
    """Every table's rows as tuples, columns in declaration order, rows by their first column."""
    names = await catalog.reader.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {
        name: [
            tuple(r)
            for r in await catalog.reader.execute_fetchall(f"SELECT * FROM {name} ORDER BY 1, 2")
        ]
        for (name,) in names
    }


async def postgres_dump(conn: asyncpg.Connection) -> Dump:
    names = await conn.fetch(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        " AND table_name <> $1",
        VERSION_TABLE,
    )
    return {
        r[0]: [tuple(row) for row in await conn.fetch(f"SELECT * FROM {r[0]} ORDER BY 1, 2")]
        for r in names
    }


class Both:
    """The same statements against a SQLite catalog and a PostgreSQL database."""

    def __init__(self, sqlite: Catalog, postgres: asyncpg.Connection) -> None:
        self.sqlite = sqlite
        self.postgres = postgres

    async def run(self, statement: str) -> tuple[bool, bool]:
        """Run ``statement`` in a transaction on each; whether each failed."""
        failed = []
        try:
            async with self.sqlite.transaction() as tx:
                await tx.execute(statement)
            failed.append(False)
        except ConstraintViolated:
            failed.append(True)
        try:
            async with self.postgres.transaction():
                await self.postgres.execute(statement)
            failed.append(False)
        except asyncpg.IntegrityConstraintViolationError:
            failed.append(True)
        return failed[0], failed[1]

    async def counts(self, sql: str) -> tuple[list[Any], list[Any]]:
        sqlite = [tuple(r) for r in await self.sqlite.reader.execute_fetchall(sql)]
        postgres = [tuple(r) for r in await self.postgres.fetch(sql)]
        return sqlite, postgres
