"""``registry-service migrate-catalog`` end to end: the real command, as a subprocess, copies a
SQLite catalog filled through the services into PostgreSQL; every row arrives, counts and
checksums are printed per table, the password never is; a target with rows is refused; a copy
that differs is reported and fails."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from registry_service.catalog.copying import Checksum, TableCopy
from registry_service.catalog.db import Catalog
from registry_service.catalog.pg_migrate import apply_migrations
from registry_service.services.seeding import seed_file
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.factories import Factory
from tests.postgres_server import PASSWORD
from tests.unit.catalog.postgresql.catalog_rows import postgres_dump, sqlite_dump

ROOT = Path(__file__).resolve().parents[4]
SEED = ROOT / "config" / "seed.example.toml"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STAMP = "2026-06-01T12:00:00.000000Z"

# Rows the services above do not write (job intents, leases, sessions, …), in tables every
# copy must carry too: odd values on purpose (non-ASCII text, NULLs, a 64-bit size).
EXTRA_ROWS = [
    "INSERT INTO jobs (kind, params, requester_id, project_id, state, counts, result,"
    f" created_at) VALUES ('cleanup_tags', '{{\"keep_n\": 1}}', 1, 1, 'done', '{{}}',"
    f" 'géré ✓', '{STAMP}')",
    f"INSERT INTO leases (name, owner, expires_at) VALUES ('bulk:1', 'w-1', '{STAMP}')",
    "INSERT INTO uploads (id, repository_id, offset_bytes, started_at, updated_at)"
    f" SELECT 'u-1', MIN(id), 5000000000, '{STAMP}', '{STAMP}' FROM repositories",
    "INSERT INTO web_sessions (id_digest, token_id, csrf_token, created_at, expires_at)"
    f" SELECT 'sess', MIN(id), 'csrf', '{STAMP}', '{STAMP}' FROM personal_access_tokens",
    "INSERT INTO cleanup_policies (project_id, enabled, name_regex_keep, created_at, updated_at)"
    f" SELECT MIN(id), 1, NULL, '{STAMP}', '{STAMP}' FROM projects",
    "INSERT INTO tag_protection_rules (project_id, tag_name_pattern, immutable, created_at)"
    f" SELECT MIN(id), '^v', 1, '{STAMP}' FROM projects",
    "INSERT INTO repository_protection_rules (project_id, repository_path_pattern,"
    f" minimum_access_level_for_delete, created_at) SELECT MIN(id), 'acme/*', 60, '{STAMP}'"
    " FROM projects",
    "INSERT INTO unreferenced_manifests (manifest_id, since)"
    f" SELECT MAX(id), '{STAMP}' FROM manifests",
]


@pytest.fixture
async def source(tmp_path: Path) -> Path:
    """A SQLite catalog with rows in every table, made through the services."""
    path = tmp_path / "data" / "registry.sqlite3"
    catalog = await Catalog.open(path)
    store = FilesystemBlobStore(path.parent)
    try:
        await seed_file(catalog, SEED, NOW, store=store)
        factory = Factory(catalog, NOW)
        carol = await factory.user("carol")
        group = await factory.group("acme/tools")
        project = await factory.project("acme/tools/app")
        await factory.member(carol.user, 30, project=project)
        await factory.member(carol.user, 20, group=group)
        await factory.deploy_token(group=group, name="grp")
        async with catalog.transaction() as tx:
            for statement in EXTRA_ROWS:
                await tx.execute(statement)
        empty = [n for n, rows in (await sqlite_dump(catalog)).items() if not rows]
        assert empty == [], "every table needs rows for the copy to be tested"
    finally:
        await store.aclose()
        await catalog.close()
    return path


def migrate_catalog(source: Path, target: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("registry-service")),
        "migrate-catalog",
        "--from",
        f"sqlite://{source}",
        "--to",
        target,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_SERVICE_")}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


async def dump_sqlite(path: Path) -> dict[str, list[tuple[object, ...]]]:
    catalog = await Catalog.open(path)
    try:
        return await sqlite_dump(catalog)
    finally:
        await catalog.close()


async def test_the_copy_holds_every_row_and_says_so_per_table(
    source: Path, empty_database_url: str
) -> None:
    done = migrate_catalog(source, empty_database_url)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert "[FILTERED]" in done.stdout  # the target was named, without its password
    expected = await dump_sqlite(source)
    summary = {
        line.split()[0]: line.split()[1:]
        for line in done.stdout.splitlines()
        if line.split() and line.split()[0] in expected
    }
    assert set(summary) == set(expected)
    for table, rows in expected.items():
        # table, SQLite rows, PostgreSQL rows, checksum
        assert summary[table][:2] == [f"{len(rows):,}"] * 2, table
    assert "verified:" in done.stdout

    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await postgres_dump(conn) == expected
        # The counts came over as they were, not counted twice; the trigger counts again.
        true_counts = (
            "SELECT id, tags_count, (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id)"
            " FROM repositories r ORDER BY id"
        )
        counts = await conn.fetch(true_counts)
        assert [r[1] for r in counts] == [r[2] for r in counts]
        assert sum(r[1] for r in counts) >= 27
        repository, manifest = counts[0][0], await conn.fetchval("SELECT MIN(id) FROM manifests")
        await conn.execute(
            "INSERT INTO tags (repository_id, name, manifest_id, pushed_at)"
            f" VALUES ($1, 'after-copy', $2, '{STAMP}')",
            repository,
            manifest,
        )
        assert (
            await conn.fetchval("SELECT tags_count FROM repositories WHERE id = $1", repository)
            == counts[0][1] + 1
        )
        # New rows get ids after the copied ones.
        top = await conn.fetchval("SELECT MAX(id) FROM users")
        new_id = await conn.fetchval(
            f"INSERT INTO users (username, name, created_at) VALUES ('dave', 'Dave', '{STAMP}')"
            " RETURNING id"
        )
        assert new_id == top + 1
    finally:
        await conn.close()


async def test_a_target_with_rows_is_refused_and_left_alone(
    source: Path, empty_database_url: str
) -> None:
    assert migrate_catalog(source, empty_database_url).returncode == 0
    conn = await asyncpg.connect(empty_database_url)
    try:
        await conn.execute("DELETE FROM leases")
        before = await postgres_dump(conn)
        again = migrate_catalog(source, empty_database_url)
        assert again.returncode == 1
        assert "the target catalog is not empty" in again.stderr
        assert PASSWORD not in again.stdout + again.stderr
        assert await postgres_dump(conn) == before
    finally:
        await conn.close()


async def test_a_copy_that_differs_is_reported_and_fails(
    source: Path, empty_database_url: str
) -> None:
    # A target that alters what it is given: its schema is there, and a trigger of its own
    # rewrites every user's name on the way in.
    conn = await asyncpg.connect(empty_database_url)
    try:
        await apply_migrations(conn)
        await conn.execute(
            "CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN NEW.name = upper(NEW.name); RETURN NEW; END $$;"
            " CREATE TRIGGER shout BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION shout()"
        )
    finally:
        await conn.close()
    done = migrate_catalog(source, empty_database_url)
    assert done.returncode == 1
    mismatched = [line for line in done.stdout.splitlines() if "MISMATCH" in line]
    assert [line.split()[0] for line in mismatched] == ["users"]
    assert "the copy differs in users" in done.stderr


async def test_a_missing_source_or_a_wrong_target_is_refused(
    tmp_path: Path, empty_database_url: str
) -> None:
    missing = migrate_catalog(tmp_path / "nothing.sqlite3", empty_database_url)
    assert missing.returncode == 1
    assert "no SQLite catalog at" in missing.stderr
    assert not (tmp_path / "nothing.sqlite3").exists()
    wrong = migrate_catalog(tmp_path / "nothing.sqlite3", "mysql://u:hunter22@h/db")
    assert wrong.returncode == 2
    assert "hunter22" not in wrong.stderr


async def test_a_target_newer_than_the_program_or_a_source_that_is_no_catalog_is_refused(
    source: Path, tmp_path: Path, empty_database_url: str
) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database, at all" * 100)
    refused = migrate_catalog(garbage, empty_database_url)
    assert refused.returncode == 1
    assert "is no SQLite catalog" in refused.stderr
    conn = await asyncpg.connect(empty_database_url)
    try:
        latest = await apply_migrations(conn)
        await conn.execute("UPDATE schema_version SET version = $1", latest + 1)
        refused = migrate_catalog(source, empty_database_url)
        assert refused.returncode == 1
        assert "newer than this program knows" in refused.stderr
        assert await conn.fetchval("SELECT COUNT(*) FROM users") == 0
    finally:
        await conn.close()


def test_the_checksum_tells_apart_what_a_copy_could_confuse() -> None:
    def digest(*rows: tuple[object, ...]) -> str:
        checksum = Checksum()
        for row in rows:
            checksum.add(row)
        return checksum.hexdigest()

    variants = [
        digest((1, "ab", "c")),
        digest((1, "a", "bc")),
        digest((1, "ab", None)),
        digest((1, "ab", "")),
        digest(("1", "ab", "c")),
        digest((1, b"ab", "c")),
        digest((1, "ab"), ("c",)),
        digest((1, "ab", "c"), (2, "x", "y")),
        digest((2, "x", "y"), (1, "ab", "c")),
    ]
    assert len(set(variants)) == len(variants)
    assert digest((1, "ab", "c")) == variants[0]
    assert TableCopy("t", 1, "x", 1, "x").matches
    assert not TableCopy("t", 1, "x", 1, "y").matches
    assert not TableCopy("t", 1, "x", 2, "x").matches
