"""Schema migrations: rows written at version 1 survive every later migration; the connections
are WAL with foreign keys on; a migration that fails leaves the previous version as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from registry_service.catalog.db import MIN_SQLITE, Catalog, require_sqlite
from registry_service.catalog.errors import (
    ConstraintViolated,
    ForeignKeyViolated,
    UniqueViolated,
)
from registry_service.catalog.migrate import (
    apply_migrations,
    available_migrations,
    schema_version,
)
from registry_service.catalog.protocols import Reader

LATEST = available_migrations()[-1].version
V1_TABLES = {"users", "personal_access_tokens", "namespaces", "projects", "members"}
NOW = "2026-06-01T12:00:00.000000Z"

# Version 1 rows as plain SQL: migration files are never edited once released, so neither is
# this. Two users with personal namespaces, a group and a subgroup, projects in both kinds of
# namespace, tokens (one revoked, one expiring) and memberships of both kinds.
V1_ROWS = [
    "INSERT INTO users (id, username, name, email, is_admin, external, state, created_at) VALUES"
    f" (1, 'root', 'Administrator', NULL, 1, 0, 'active', '{NOW}'),"
    f" (2, 'alice', 'Alice', 'alice@example.com', 0, 1, 'blocked', '{NOW}')",
    "INSERT INTO personal_access_tokens (id, user_id, name, token_digest, scopes, expires_at,"
    " revoked, created_at, last_used_at) VALUES"
    f" (1, 1, 'bootstrap', 'digest-root', 'api read_api', NULL, 0, '{NOW}', NULL),"
    f" (2, 2, 'ci', 'digest-alice-1', 'read_registry', '2030-01-31', 0, '{NOW}', '{NOW}'),"
    f" (3, 2, 'old', 'digest-alice-2', 'api', NULL, 1, '{NOW}', NULL)",
    "INSERT INTO namespaces (id, kind, name, path, full_path, parent_id, owner_id, visibility,"
    " description, created_at) VALUES"
    f" (1, 'user', 'Administrator', 'root', 'root', NULL, 1, 'private', '', '{NOW}'),"
    f" (2, 'user', 'Alice', 'alice', 'alice', NULL, 2, 'private', '', '{NOW}'),"
    f" (3, 'group', 'ACME', 'acme', 'acme', NULL, NULL, 'internal', 'the group', '{NOW}'),"
    f" (4, 'group', 'Platform', 'platform', 'acme/platform', 3, NULL, 'private', '', '{NOW}')",
    "INSERT INTO projects (id, namespace_id, name, path, full_path, visibility,"
    " container_registry_access_level, description, creator_id, created_at) VALUES"
    f" (1, 4, 'Web', 'web', 'acme/platform/web', 'private', 'enabled', 'w', 1, '{NOW}'),"
    f" (2, 2, 'sandbox', 'sandbox', 'alice/sandbox', 'public', 'private', '', 2, '{NOW}'),"
    f" (3, 3, 'old', 'old', 'acme/old', 'internal', 'disabled', '', NULL, '{NOW}')",
    "INSERT INTO members (id, user_id, namespace_id, project_id, access_level, expires_at,"
    " created_at) VALUES"
    f" (1, 1, 1, NULL, 50, NULL, '{NOW}'),"
    f" (2, 2, 2, NULL, 50, NULL, '{NOW}'),"
    f" (3, 2, 3, NULL, 20, '2031-12-31', '{NOW}'),"
    f" (4, 2, NULL, 1, 40, NULL, '{NOW}')",
]


async def tables(db: Reader) -> set[str]:
    rows = await db.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {row[0] for row in rows}


async def dump(db: Reader, names: set[str]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: [tuple(r) for r in await db.execute_fetchall(f"SELECT * FROM {name} ORDER BY 1")]
        for name in sorted(names)
    }


def as_version_1(
    after: dict[str, list[tuple[Any, ...]]], before: dict[str, list[tuple[Any, ...]]]
) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of the version 1 tables cut to their version 1 columns (later ones append)."""
    return {n: [r[: len(before[n][0])] for r in rows] for n, rows in after.items()}


async def pragma(db: Reader, name: str) -> Any:
    rows = list(await db.execute_fetchall(f"PRAGMA {name}"))
    return rows[0][0]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "registry.sqlite3"


async def open_at_version_1_with_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    catalog = await Catalog.open(path, migrate_to=1)
    try:
        assert await schema_version(catalog.reader) == 1
        assert await tables(catalog.reader) == V1_TABLES
        async with catalog.transaction() as tx:
            for statement in V1_ROWS:
                await tx.execute(statement)
        return await dump(catalog.reader, V1_TABLES)
    finally:
        await catalog.close()


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert LATEST >= 2


async def test_rows_written_at_version_1_survive_all_migrations(path: Path) -> None:
    before = await open_at_version_1_with_rows(path)
    assert {name: len(rows) for name, rows in before.items()} == {
        "users": 2, "personal_access_tokens": 3, "namespaces": 4, "projects": 3, "members": 4,
    }

    catalog = await Catalog.open(path)
    try:
        assert await pragma(catalog.reader, "user_version") == LATEST
        assert await tables(catalog.reader) > V1_TABLES
        after = await dump(catalog.reader, V1_TABLES)
        assert as_version_1(after, before) == before
        # Later versions only append columns, unset on old rows (version 7: deletion marks).
        assert {r[len(before[n][0]) :] for n, rows in after.items() for r in rows} <= {(), (None,)}
        async with catalog.transaction() as tx:
            assert list(await tx.execute_fetchall("PRAGMA foreign_key_check")) == []
            assert await pragma(tx, "integrity_check") == "ok"
    finally:
        await catalog.close()


async def test_opening_an_up_to_date_catalog_changes_nothing(path: Path) -> None:
    await open_at_version_1_with_rows(path)
    first = await Catalog.open(path)
    try:
        everything = await dump(first.reader, await tables(first.reader))
    finally:
        await first.close()
    again = await Catalog.open(path)
    try:
        assert await schema_version(again.reader) == LATEST
        assert await dump(again.reader, await tables(again.reader)) == everything
    finally:
        await again.close()


async def test_both_connections_use_wal_and_enforce_foreign_keys(path: Path) -> None:
    catalog = await Catalog.open(path)
    try:
        assert await pragma(catalog.reader, "journal_mode") == "wal"
        assert await pragma(catalog.reader, "foreign_keys") == 1
        async with catalog.transaction() as tx:
            assert await pragma(tx, "journal_mode") == "wal"
            assert await pragma(tx, "foreign_keys") == 1
            assert await pragma(tx, "synchronous") == 2  # FULL
        with pytest.raises(ForeignKeyViolated, match="FOREIGN KEY"):
            async with catalog.transaction() as tx:
                await tx.execute(
                    "INSERT INTO personal_access_tokens (user_id, name, token_digest, scopes,"
                    f" created_at) VALUES (999, 'x', 'd', 'api', '{NOW}')"
                )
    finally:
        await catalog.close()


async def test_a_failing_migration_leaves_the_previous_version_intact(path: Path) -> None:
    before = await open_at_version_1_with_rows(path)
    # Migration 2 ends by creating cleanup_policies; a table of that name makes it fail after
    # all of its other tables have been created inside its transaction.
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        await db.execute("CREATE TABLE cleanup_policies (blocker INTEGER)")
        with pytest.raises(aiosqlite.OperationalError, match="already exists"):
            await apply_migrations(db)
        assert not db.in_transaction
        assert await schema_version(db) == 1
        assert await tables(db) == V1_TABLES | {"cleanup_policies"}
        assert await dump(db, V1_TABLES) == before
        # With the obstacle gone, the same migration runs to the end.
        await db.execute("DROP TABLE cleanup_policies")
        assert await apply_migrations(db) == LATEST
    finally:
        await db.close()
    catalog = await Catalog.open(path)
    try:
        assert as_version_1(await dump(catalog.reader, V1_TABLES), before) == before
    finally:
        await catalog.close()


async def test_opening_a_catalog_failing_to_migrate_raises_and_keeps_the_file(path: Path) -> None:
    before = await open_at_version_1_with_rows(path)
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("CREATE TABLE leases (blocker INTEGER)")
    with pytest.raises(aiosqlite.OperationalError):
        await Catalog.open(path)
    async with aiosqlite.connect(path) as db:
        assert await schema_version(db) == 1
        assert await tables(db) == V1_TABLES | {"leases"}
        assert await dump(db, V1_TABLES) == before


async def test_a_catalog_newer_than_the_program_is_refused(path: Path) -> None:
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(RuntimeError, match="newer than this program knows"):
        await Catalog.open(path)
    async with aiosqlite.connect(path) as db:
        assert await schema_version(db) == LATEST + 1
        assert await tables(db) == set()


async def test_migrate_to_stops_at_the_target(path: Path) -> None:
    async with aiosqlite.connect(path, isolation_level=None) as db:
        assert await apply_migrations(db, target=1) == 1
        assert await tables(db) == V1_TABLES
        assert await apply_migrations(db, target=1) == 1
        assert await apply_migrations(db) == LATEST


async def test_version_5_counts_tags_and_moves_unreferenced_stamps(path: Path) -> None:
    await open_at_version_1_with_rows(path)
    catalog = await Catalog.open(path, migrate_to=4)
    try:
        async with catalog.transaction() as tx:
            await tx.execute(
                "INSERT INTO repositories (id, project_id, name, created_at) VALUES"
                f" (1, 1, '', '{NOW}'), (2, 1, 'api', '{NOW}'), (3, 2, '', '{NOW}')"
            )
            await tx.execute(
                "INSERT INTO manifests (id, repository_id, digest, media_type, payload,"
                " size_bytes, created_at, unreferenced_at) VALUES"
                f" (1, 1, 'sha256:a', 'm', x'00', 1, '{NOW}', NULL),"
                f" (2, 1, 'sha256:b', 'm', x'00', 1, '{NOW}', '2026-06-02T00:00:00.000000Z'),"
                f" (3, 2, 'sha256:c', 'm', x'00', 1, '{NOW}', NULL),"
                # Tagged, yet stamped (version 4 stamped an index's tagged children).
                f" (4, 1, 'sha256:d', 'm', x'00', 1, '{NOW}', '2026-06-03T00:00:00.000000Z')"
            )
            await tx.execute(
                "INSERT INTO tags (repository_id, name, manifest_id, pushed_at) VALUES"
                f" (1, 'a', 1, '{NOW}'), (1, 'b', 1, '{NOW}'), (2, 'c', 3, '{NOW}'),"
                f" (1, 'd', 4, '{NOW}')"
            )
    finally:
        await catalog.close()

    catalog = await Catalog.open(path)
    try:
        counts = await catalog.reader.execute_fetchall(
            "SELECT id, tags_count FROM repositories ORDER BY id"
        )
        assert [tuple(r) for r in counts] == [(1, 3), (2, 1), (3, 0)]
        stamps = await catalog.reader.execute_fetchall("SELECT * FROM unreferenced_manifests")
        assert [tuple(r) for r in stamps] == [(2, "2026-06-02T00:00:00.000000Z")]
        columns = await catalog.reader.execute_fetchall("PRAGMA table_info(manifests)")
        assert "unreferenced_at" not in {c[1] for c in columns}
        # The triggers keep counting; a repository's cascade takes its tags without error.
        async with catalog.transaction() as tx:
            await tx.execute(
                f"INSERT INTO tags (repository_id, name, manifest_id, pushed_at)"
                f" VALUES (2, 'd', 3, '{NOW}')"
            )
            await tx.execute("DELETE FROM tags WHERE repository_id = 1 AND name = 'a'")
            await tx.execute("DELETE FROM repositories WHERE id = 2")
            assert await pragma(tx, "integrity_check") == "ok"
        counts = await catalog.reader.execute_fetchall(
            "SELECT id, tags_count FROM repositories ORDER BY id"
        )
        assert [tuple(r) for r in counts] == [(1, 2), (3, 0)]
    finally:
        await catalog.close()


async def test_version_9_adds_protection_rules_that_go_with_their_project(path: Path) -> None:
    await open_at_version_1_with_rows(path)
    catalog = await Catalog.open(path, migrate_to=9)
    try:
        async with catalog.transaction() as tx:
            await tx.execute(
                "INSERT INTO tag_protection_rules (project_id, tag_name_pattern,"
                " minimum_access_level_for_push, minimum_access_level_for_delete, immutable,"
                f" created_at) VALUES (1, 'v.*', 40, 50, 0, '{NOW}'),"
                f" (1, 'v.*', NULL, NULL, 1, '{NOW}')"
            )
            await tx.execute(
                "INSERT INTO repository_protection_rules (project_id, repository_path_pattern,"
                " minimum_access_level_for_push, minimum_access_level_for_delete, created_at)"
                f" VALUES (1, 'acme/platform/web/*', NULL, 60, '{NOW}')"
            )
        bad = [
            # An immutable rule has no levels; a mutable one has both.
            "INSERT INTO tag_protection_rules (project_id, tag_name_pattern,"
            " minimum_access_level_for_push, minimum_access_level_for_delete, immutable,"
            f" created_at) VALUES (1, 'x', 40, NULL, 1, '{NOW}')",
            "INSERT INTO tag_protection_rules (project_id, tag_name_pattern,"
            " minimum_access_level_for_push, minimum_access_level_for_delete, immutable,"
            f" created_at) VALUES (1, 'x', 40, NULL, 0, '{NOW}')",
            # Developer (30) is no protection level.
            "INSERT INTO repository_protection_rules (project_id, repository_path_pattern,"
            " minimum_access_level_for_push, minimum_access_level_for_delete, created_at)"
            f" VALUES (1, 'acme/platform/web', 30, NULL, '{NOW}')",
            "INSERT INTO repository_protection_rules (project_id, repository_path_pattern,"
            " minimum_access_level_for_push, minimum_access_level_for_delete, created_at)"
            f" VALUES (1, 'acme/platform/web', NULL, NULL, '{NOW}')",
        ]
        for statement in bad:
            with pytest.raises(ConstraintViolated):
                async with catalog.transaction() as tx:
                    await tx.execute(statement)
        async with catalog.transaction() as tx:
            await tx.execute("DELETE FROM projects WHERE id = 1")
        for table in ("tag_protection_rules", "repository_protection_rules"):
            rows = await catalog.reader.execute_fetchall(f"SELECT COUNT(*) FROM {table}")
            assert next(iter(rows))[0] == 0
    finally:
        await catalog.close()


def test_a_sqlite_older_than_the_catalog_needs_is_refused_with_the_versions() -> None:
    require_sqlite(MIN_SQLITE)
    require_sqlite(sqlite3.sqlite_version_info)  # the one these tests run on
    with pytest.raises(RuntimeError, match=r"needs SQLite 3\.35\.0 or newer; .* SQLite 3\.31\.1"):
        require_sqlite((3, 31, 1))


async def test_version_6_adds_deploy_tokens_owned_by_a_project_or_a_group(path: Path) -> None:
    await open_at_version_1_with_rows(path)
    catalog = await Catalog.open(path, migrate_to=5)
    try:
        assert "deploy_tokens" not in await tables(catalog.reader)
        before = await dump(catalog.reader, await tables(catalog.reader))
    finally:
        await catalog.close()

    catalog = await Catalog.open(path, migrate_to=6)
    try:
        assert await dump(catalog.reader, set(before)) == before
        async with catalog.transaction() as tx:
            await tx.execute(
                "INSERT INTO deploy_tokens (id, project_id, namespace_id, name, username,"
                " token_digest, scopes, expires_at, created_at) VALUES"
                f" (1, 1, NULL, 'k8s', 'gitlab+deploy-token-1', 'd1', 'read_registry', NULL,"
                f" '{NOW}'),"
                f" (2, NULL, 4, 'ci', 'ci', 'd2', 'read_registry write_registry',"
                f" '2027-01-01T00:00:00.000000Z', '{NOW}')"
            )
        # Exactly one owner; one digest per token.
        for owners in ("NULL, NULL", "1, 4"):
            with pytest.raises(ConstraintViolated, match="CHECK"):
                async with catalog.transaction() as tx:
                    await tx.execute(
                        "INSERT INTO deploy_tokens (project_id, namespace_id, name, username,"
                        f" token_digest, scopes, created_at) VALUES ({owners}, 'x', 'x', 'd3',"
                        f" 'read_registry', '{NOW}')"
                    )
        with pytest.raises(UniqueViolated, match="UNIQUE"):
            async with catalog.transaction() as tx:
                await tx.execute(
                    "INSERT INTO deploy_tokens (project_id, name, username, token_digest,"
                    f" scopes, created_at) VALUES (2, 'x', 'x', 'd1', 'read_registry', '{NOW}')"
                )
        # A project's or a group's tokens go with it.
        async with catalog.transaction() as tx:
            await tx.execute("DELETE FROM projects WHERE id = 1")
            await tx.execute("DELETE FROM namespaces WHERE id = 4")
            assert list(await tx.execute_fetchall("SELECT id FROM deploy_tokens")) == []
            assert await pragma(tx, "integrity_check") == "ok"
    finally:
        await catalog.close()
