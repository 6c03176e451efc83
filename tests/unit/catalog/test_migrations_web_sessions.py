"""Version 8: web sessions and the two indexes the web interface's tag orders walk."""

from __future__ import annotations

from pathlib import Path

from registry_service.catalog.db import Catalog
from tests.unit.catalog.test_migrations import open_at_version_1_with_rows


async def names(catalog: Catalog, kind: str) -> set[str]:
    rows = await catalog.reader.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = ?", (kind,)
    )
    return {row[0] for row in rows}


async def test_version_8_adds_sessions_and_tag_order_indexes_keeping_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry.sqlite3"
    await open_at_version_1_with_rows(path)
    before = await Catalog.open(path, migrate_to=7)
    try:
        assert "web_sessions" not in await names(before, "table")
        users_before = await before.reader.execute_fetchall("SELECT id FROM users ORDER BY id")
    finally:
        await before.close()
    after = await Catalog.open(path, migrate_to=8)
    try:
        assert "web_sessions" in await names(after, "table")
        assert {"tags_pushed", "manifests_built"} <= await names(after, "index")
        users_after = await after.reader.execute_fetchall("SELECT id FROM users ORDER BY id")
        assert [tuple(r) for r in users_after] == [tuple(r) for r in users_before]
    finally:
        await after.close()
