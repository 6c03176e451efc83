"""A broken constraint leaves the catalog as one of ``catalog.errors``, whichever ``Writer``
method ran the statement and whether SQLite checked it at once or at COMMIT; the driver's own
exceptions never reach the caller. A catalog that cannot answer is ``Unavailable``."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from registry_service.catalog.db import Catalog, fetch_all
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.errors import (
    ConstraintViolated,
    ForeignKeyViolated,
    UniqueViolated,
)
from registry_service.catalog.protocols import Writer
from registry_service.errors import Unavailable

NOW = "2026-06-01T12:00:00.000000Z"
USER = "INSERT INTO users (id, username, name, created_at) VALUES (?, ?, 'N', ?)"
TOKEN = (
    "INSERT INTO personal_access_tokens (user_id, name, token_digest, scopes, created_at)"
    " VALUES (?, 'ci', ?, 'api', ?)"
)

Statement = Callable[[Writer, str, tuple[object, ...]], Awaitable[object]]

# Every way a Writer runs a statement.
STATEMENTS: dict[str, Statement] = {
    "execute": lambda tx, sql, params: tx.execute(sql, params),
    "insert": lambda tx, sql, params: tx.insert(sql, params),
    "executemany": lambda tx, sql, params: tx.executemany(sql, [params]),
    "execute_fetchall": lambda tx, sql, params: tx.execute_fetchall(
        f"{sql} RETURNING id", params
    ),
}


async def _seed_user(catalog: Catalog) -> None:
    async with catalog.transaction() as tx:
        await tx.insert(USER, (1, "alice", NOW))


@pytest.mark.parametrize("method", STATEMENTS)
@pytest.mark.parametrize(
    ("sql", "params", "raised"),
    [
        (TOKEN, (999, "d1", NOW), ForeignKeyViolated),  # no user 999
        (USER, (2, "ALICE", NOW), UniqueViolated),  # usernames are unique, case aside
        (USER, (1, "bob", NOW), UniqueViolated),  # the primary key
        (TOKEN, (1, None, NOW), ConstraintViolated),  # NOT NULL
    ],
    ids=["foreign-key", "unique", "primary-key", "not-null"],
)
async def test_a_broken_constraint_raises_the_catalogs_error_not_the_drivers(
    catalog: Catalog,
    method: str,
    sql: str,
    params: tuple[object, ...],
    raised: type[ConstraintViolated],
) -> None:
    await _seed_user(catalog)

    with pytest.raises(ConstraintViolated) as caught:
        async with catalog.transaction() as tx:
            await STATEMENTS[method](tx, sql, params)

    assert type(caught.value) is raised
    assert not isinstance(caught.value, sqlite3.Error)
    # The unit was undone and the catalog takes the next one.
    async with catalog.transaction() as tx:
        assert await tx.insert(USER, (3, "carol", NOW)) == 3
    assert len(await fetch_all(catalog.reader, "SELECT id FROM users")) == 2


async def test_a_foreign_key_checked_at_commit_raises_foreign_key_violated(
    catalog: Catalog,
) -> None:
    with pytest.raises(ForeignKeyViolated):
        async with catalog.transaction() as tx:
            await tx.execute(dialect_of(tx).defer_foreign_keys)
            await tx.insert(TOKEN, (999, "d1", NOW))

    assert await fetch_all(catalog.reader, "SELECT id FROM personal_access_tokens") == []


async def test_writer_methods_answer_counts_and_row_ids(catalog: Catalog) -> None:
    async with catalog.transaction() as tx:
        assert await tx.insert(USER, (7, "alice", NOW)) == 7
        assert await tx.executemany(USER, [(8, "bob", NOW), (9, "carol", NOW)]) == 2
        assert await tx.execute("UPDATE users SET name = 'M' WHERE id > ?", (7,)) == 2
        rows = await tx.execute_fetchall("SELECT username FROM users ORDER BY id")
        assert [row["username"] for row in rows] == ["alice", "bob", "carol"]


async def test_ping_of_a_catalog_that_cannot_answer_is_unavailable(tmp_path: Path) -> None:
    catalog = await Catalog.open(tmp_path / "registry.sqlite3")
    await catalog.close()

    with pytest.raises(Unavailable):
        await catalog.ping()
