"""The reserve on a real 8 MiB tmpfs: allocated while there is room, given up when another
program fills the disk (so the catalog can still delete), uploads refused meanwhile, and back
once there is room again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_service.catalog.db import Catalog, fetch_all
from registry_service.errors import InsufficientStorage
from registry_service.storage.reserve import Reserve
from registry_service.storage.space import SpaceFloor
from tests.tmpfs import fill, free_bytes, mounted_tmpfs

MIB = 1 << 20
RESERVE_BYTES = 2 * MIB
ROW = "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, 'y')"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", 8 * MIB) as mount:
        (mount / "data").mkdir()
        yield mount


async def test_the_reserve_is_held_given_up_on_a_full_disk_and_restored(disk: Path) -> None:
    reserve = Reserve(disk / "data", RESERVE_BYTES)
    floor = SpaceFloor(disk / "data", 0, reserve)

    await reserve.keep_room()
    assert reserve.path.stat().st_size == RESERVE_BYTES
    floor.check()  # uploads go on while it is held

    filler = fill(disk)
    with pytest.raises(InsufficientStorage) as refused:
        floor.check()
    assert refused.value.detail == {"reason": "the disk is full"}
    assert not reserve.path.exists()
    assert free_bytes(disk) >= RESERVE_BYTES

    filler.unlink()
    floor.check()
    assert reserve.path.stat().st_size == RESERVE_BYTES


async def test_uploads_leave_the_reserves_size_free(disk: Path) -> None:
    reserve = Reserve(disk / "data", RESERVE_BYTES)
    floor = SpaceFloor(disk / "data", 0, reserve)
    await reserve.keep_room()

    with pytest.raises(InsufficientStorage) as refused:
        floor.check(free_bytes(disk) - RESERVE_BYTES + 1)
    assert refused.value.detail == {"reason": "free space below storage.min_free_bytes"}
    assert reserve.path.exists()  # refused by the floor; the reserve is kept


async def test_the_catalog_can_delete_on_a_disk_another_program_filled(disk: Path) -> None:
    reserve = Reserve(disk / "data", RESERVE_BYTES)
    await reserve.keep_room()
    catalog = await Catalog.open_in(disk / "data", before_write=reserve.keep_room)
    try:
        async with catalog.transaction() as tx:
            for n in range(100):
                await tx.execute(ROW, (f"row-{n}", "x" * 1000))
        assert reserve.path.exists()
        fill(disk)

        async with catalog.transaction() as tx:
            await tx.execute("DELETE FROM leases")

        assert await fetch_all(catalog.reader, "SELECT * FROM leases") == []
        assert not reserve.path.exists()
    finally:
        await catalog.close()


def test_no_reserve_at_zero(tmp_path: Path) -> None:
    reserve = Reserve(tmp_path, 0)
    assert reserve.keep_room_now()
    assert not reserve.path.exists()


async def test_a_reserve_left_by_an_earlier_run_counts_as_held_on_a_fuller_disk(
    disk: Path,
) -> None:
    await Reserve(disk / "data", RESERVE_BYTES).keep_room()
    filler = fill(disk)
    os.truncate(filler, filler.stat().st_size - RESERVE_BYTES - MIB)  # under twice the reserve

    restarted = Reserve(disk / "data", RESERVE_BYTES)
    SpaceFloor(disk / "data", 0, restarted).check()  # not refused as if the disk were full
    assert restarted.held
