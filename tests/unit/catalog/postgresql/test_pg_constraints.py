"""The constraints and text rules of both schemas behave alike on the same statements: what
SQLite refuses PostgreSQL refuses (checks, NOT NULL, uniqueness that ignores ASCII case, partial
unique indexes, foreign keys), what it accepts PostgreSQL accepts, and lookups, LIKE and
ordering of text answer the same rows in the same order."""

from __future__ import annotations

import pytest

from tests.unit.catalog.postgresql.catalog_rows import Both
from tests.unit.catalog.test_migrations import NOW

USER = "INSERT INTO users (username, name, email, created_at, state, is_admin) VALUES "

# (statement, refused): each runs alone on catalogs holding rows_at(LATEST) (users root and
# alice, groups acme and acme/platform, projects acme/platform/web, alice/sandbox, acme/old).
STATEMENTS = [
    (USER + f"('ROOT', 'x', NULL, '{NOW}', 'active', 0)", True),
    (USER + f"('carol', 'x', 'ALICE@example.com', '{NOW}', 'active', 0)", True),
    (USER + f"('carol', 'x', 'carol@example.com', '{NOW}', 'gone', 0)", True),
    (USER + f"('carol', 'x', NULL, '{NOW}', 'active', 2)", True),
    (USER + f"('carol', NULL, NULL, '{NOW}', 'active', 0)", True),
    (USER + f"('Root2', 'x', 'CAROL@example.com', '{NOW}', 'blocked', 1)", False),
    # Only ASCII letters fold, as in SQLite's NOCASE: Ä and ä are two names.
    (USER + f"('Ärger', 'x', NULL, '{NOW}', 'active', 0)", False),
    (
        "INSERT INTO namespaces (kind, name, path, full_path, created_at)"
        f" VALUES ('group', 'A', 'ACME', 'ACME', '{NOW}')",
        True,
    ),
    (
        "INSERT INTO namespaces (kind, name, path, full_path, parent_id, owner_id, created_at)"
        f" VALUES ('user', 'u', 'u', 'u', 3, 1, '{NOW}')",
        True,
    ),
    (
        "INSERT INTO projects (namespace_id, name, path, full_path, created_at)"
        f" VALUES (4, 'w', 'web2', 'Acme/Platform/WEB', '{NOW}')",
        True,
    ),
    (
        "INSERT INTO projects (namespace_id, name, path, full_path, visibility, created_at)"
        f" VALUES (4, 'w', 'web2', 'acme/platform/web2', 'secret', '{NOW}')",
        True,
    ),
    (
        "INSERT INTO members (user_id, namespace_id, project_id, access_level, created_at)"
        f" VALUES (2, 3, 1, 30, '{NOW}')",
        True,
    ),
    (
        "INSERT INTO members (user_id, namespace_id, access_level, created_at)"
        f" VALUES (2, 3, 30, '{NOW}')",
        True,
    ),
    (
        "INSERT INTO members (user_id, project_id, access_level, created_at)"
        f" VALUES (2, 1, 30, '{NOW}')",
        True,
    ),
    (
        "INSERT INTO members (user_id, project_id, access_level, created_at)"
        f" VALUES (2, 3, 35, '{NOW}')",
        True,
    ),
    (
        "INSERT INTO members (user_id, project_id, access_level, created_at)"
        f" VALUES (2, 3, 30, '{NOW}')",
        False,
    ),
    (f"INSERT INTO blobs (digest, size_bytes, created_at) VALUES ('d', -1, '{NOW}')", True),
    (
        "INSERT INTO repository_blobs (repository_id, digest, linked_at)"
        f" VALUES (1, 'sha256:none', '{NOW}')",
        True,
    ),
    ("UPDATE repositories SET status = 'lost' WHERE id = 1", True),
    ("UPDATE repositories SET status = 'delete_scheduled' WHERE id = 1", False),
    ("UPDATE jobs SET state = 'paused'", True),
    (
        "INSERT INTO deploy_tokens (project_id, namespace_id, name, username, token_digest,"
        f" scopes, created_at) VALUES (1, 3, 'x', 'x', 'dx', 'read_registry', '{NOW}')",
        True,
    ),
    (
        "INSERT INTO tag_protection_rules (project_id, tag_name_pattern,"
        " minimum_access_level_for_push, minimum_access_level_for_delete, immutable,"
        f" created_at) VALUES (1, 'x', 40, NULL, 1, '{NOW}')",
        True,
    ),
    (
        "INSERT INTO tag_protection_rules (project_id, tag_name_pattern, immutable, created_at)"
        f" VALUES (1, 'v.*', 1, '{NOW}')",
        True,
    ),
    (
        "INSERT INTO tag_protection_rules (project_id, tag_name_pattern,"
        " minimum_access_level_for_push, minimum_access_level_for_delete, immutable,"
        f" created_at) VALUES (1, 'v.*', 40, 60, 0, '{NOW}')",
        False,
    ),
    (
        "INSERT INTO repository_protection_rules (project_id, repository_path_pattern,"
        f" created_at) VALUES (1, 'acme/*', '{NOW}')",
        True,
    ),
    ("DELETE FROM blobs WHERE digest = 'sha256:l1'", True),
    ("DELETE FROM users WHERE id = 2", False),
]


@pytest.mark.parametrize(("statement", "refused"), STATEMENTS)
async def test_both_refuse_and_accept_the_same_rows(
    both: Both, statement: str, refused: bool
) -> None:
    assert await both.run(statement) == (refused, refused)
    for table in ("users", "namespaces", "projects", "members", "deploy_tokens"):
        sqlite, postgres = await both.counts(f"SELECT * FROM {table} ORDER BY id")
        assert postgres == sqlite, table


QUERIES = [
    "SELECT id FROM users WHERE username = 'ROOT'",
    "SELECT id FROM users WHERE username = 'Ärger'",
    "SELECT username FROM users WHERE username LIKE 'AL%'",
    "SELECT full_path FROM projects WHERE full_path = 'ACME/PLATFORM/WEB'",
    "SELECT username FROM users ORDER BY username",
    "SELECT name FROM users ORDER BY name",
    "SELECT name FROM users WHERE name > 'Zed' ORDER BY name",
    # SQLite's LIKE ignores ASCII case on any column, PostgreSQL's only on citext ones (the
    # NOCASE columns): on plain text, queries must fold case themselves to agree.
    "SELECT name FROM users WHERE lower(name) LIKE lower('B%') ORDER BY name",
    "SELECT path FROM namespaces ORDER BY path DESC",
    "SELECT full_path FROM namespaces WHERE full_path > 'ACME' ORDER BY full_path",
]


async def test_text_compares_and_sorts_the_same(both: Both) -> None:
    for n, name in enumerate(("Zed", "bob", "Älvin", "_under", "Bob2", "zed")):
        statement = USER + f"('u{n}', '{name}', NULL, '{NOW}', 'active', 0)"
        assert await both.run(statement) == (False, False), name
    for query in QUERIES:
        sqlite, postgres = await both.counts(query)
        assert postgres == sqlite, query
    sqlite, _ = await both.counts("SELECT name FROM users ORDER BY name")
    # Byte order, as SQLite's BINARY: capitals before '_' before small letters before 'Ä'.
    assert [r[0] for r in sqlite] == [
        "Administrator",
        "Alice",
        "Bob2",
        "Zed",
        "_under",
        "bob",
        "zed",
        "Älvin",
    ]
