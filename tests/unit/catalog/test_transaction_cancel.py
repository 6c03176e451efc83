"""A writer cancelled at any await of a transaction leaves the catalog usable and consistent."""

from __future__ import annotations

import asyncio

import pytest

from registry_service.catalog.db import Catalog, fetch_all


async def _count(catalog: Catalog) -> int:
    return (await fetch_all(catalog.reader, "SELECT COUNT(*) FROM leases"))[0][0]


@pytest.mark.parametrize("delay_steps", range(12))
async def test_cancelling_a_unit_anywhere_undoes_it_and_the_next_unit_commits(
    catalog: Catalog, delay_steps: int
) -> None:
    async def unit(name: str) -> None:
        async with catalog.transaction() as tx:
            await tx.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (?, 'x', 'y')", (name,)
            )
            await tx.execute("SELECT 1")

    doomed = asyncio.create_task(unit("doomed"))
    for _ in range(delay_steps):
        await asyncio.sleep(0)  # lets the unit reach a different await each time
    doomed.cancel()
    try:
        await doomed
        survived = True
    except asyncio.CancelledError:
        survived = False

    await unit("next")  # the catalog still takes writes

    names = {r[0] for r in await fetch_all(catalog.reader, "SELECT name FROM leases")}
    assert "next" in names
    assert ("doomed" in names) == survived
    assert await _count(catalog) == len(names)


async def test_a_unit_cancelled_once_its_body_is_done_reports_the_commit_it_made(
    catalog: Catalog,
) -> None:
    # From the end of its body on, a unit's COMMIT is under way (PostgreSQL: sent; SQLite:
    # the unit is released into the group that commits). A cancellation arriving then cannot
    # stop it, so the unit must answer as the COMMIT did: success, and its row is there.
    body_done = asyncio.Event()

    async def unit() -> None:
        async with catalog.transaction() as tx:
            await tx.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES ('late', 'x', 'y')"
            )
            body_done.set()

    doomed = asyncio.create_task(unit())
    await body_done.wait()
    doomed.cancel()
    await doomed  # not CancelledError

    names = {r[0] for r in await fetch_all(catalog.reader, "SELECT name FROM leases")}
    assert names == {"late"}
