"""Version 7: deletion marks on projects, namespaces and users, and the pass that removes the
marked rows nothing registry-held hangs on any more (catalog/deletions.py)."""

from __future__ import annotations

from pathlib import Path

from registry_service.catalog import deletions
from registry_service.catalog.db import Catalog
from tests.unit.catalog.test_migrations import NOW, open_at_version_1_with_rows


async def ids(catalog: Catalog, table: str) -> list[int]:
    return [r[0] for r in await catalog.reader.execute_fetchall(f"SELECT id FROM {table}")]


async def test_version_7_adds_unset_marks_to_existing_rows(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    await open_at_version_1_with_rows(path)
    catalog = await Catalog.open(path, migrate_to=7)
    try:
        for table in ("projects", "namespaces", "users"):
            marks = await catalog.reader.execute_fetchall(
                f"SELECT DISTINCT marked_for_deletion_at FROM {table}"
            )
            assert [tuple(m) for m in marks] == [(None,)]
    finally:
        await catalog.close()


async def test_marked_rows_go_only_once_nothing_below_them_holds_a_repository(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry.sqlite3"
    await open_at_version_1_with_rows(path)
    catalog = await Catalog.open(path)
    try:
        async with catalog.transaction() as tx:
            # Project 1 (acme/platform/web) has a repository; project 3 (acme/old) has none.
            await tx.execute(
                f"INSERT INTO repositories (id, project_id, name, created_at) VALUES"
                f" (1, 1, '', '{NOW}')"
            )
            # Group acme (3) with its subgroup platform (4), and user alice (2) with her
            # namespace (2) and its project sandbox (2, no repository).
            await tx.execute(
                f"UPDATE projects SET marked_for_deletion_at = '{NOW}' WHERE id IN (1, 2, 3)"
            )
            await tx.execute(
                f"UPDATE namespaces SET marked_for_deletion_at = '{NOW}' WHERE id IN (2, 3, 4)"
            )
            await tx.execute(f"UPDATE users SET marked_for_deletion_at = '{NOW}' WHERE id = 2")
            drained = await deletions.delete_drained_rows(tx)
        # acme/old and alice/sandbox go; web keeps acme and platform; alice's namespace and
        # then alice go in the same pass.
        assert drained == deletions.DrainedRows(projects=2, namespaces=1, users=1)
        assert await ids(catalog, "projects") == [1]
        assert await ids(catalog, "namespaces") == [1, 3, 4]
        assert await ids(catalog, "users") == [1]

        async with catalog.transaction() as tx:
            await tx.execute("DELETE FROM repositories WHERE id = 1")
            drained = await deletions.delete_drained_rows(tx)
        assert drained.projects == 1
        assert await ids(catalog, "projects") == []
        assert await ids(catalog, "namespaces") == [1]
    finally:
        await catalog.close()
