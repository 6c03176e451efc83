"""The ``jobs-runner`` lease that picks the one active in-process runner of a catalog: taken,
renewed, lost, handed over, and taken from a runner of this host known dead. Every runner is a
``RunnerGate`` on one catalog with a settable clock, so nothing here sleeps; "another host" is an
owner name with another host in it."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from jobs.context import JobContext, new_owner_name
from jobs.execute import JobBody, Outcome, Progress
from jobs.runner import InProcessRunner
from jobs.runner_gate import LEASE_NAME, RunnerGate, lock_file_name
from registry_service.catalog import jobs as job_rows
from registry_service.catalog import leases
from registry_service.catalog.db import Catalog
from registry_service.catalog.rows import JobRow
from registry_service.clock import SettableClock
from registry_service.services.blobs import Storage
from registry_service.settings import Settings
from registry_service.storage import file_locks
from registry_service.storage.filesystem import FilesystemBlobStore

LEASE = timedelta(seconds=30)
RENEW = timedelta(seconds=10)
JOB_LEASE = timedelta(seconds=60)

MakeGate = Callable[..., Awaitable[RunnerGate]]


@pytest.fixture
def runners_dir(tmp_path: Path) -> Path:
    path = tmp_path / "runners"
    path.mkdir()
    return path


@pytest.fixture
async def make_gate(
    catalog: Catalog, clock: SettableClock, runners_dir: Path
) -> AsyncIterator[MakeGate]:
    made: list[RunnerGate] = []

    async def make(owner: str | None = None) -> RunnerGate:
        gate = RunnerGate(
            catalog, clock, owner or new_owner_name("runner"), lease=LEASE, renew=RENEW,
            runners_dir=runners_dir,
        )
        await gate.open()
        made.append(gate)
        return gate

    yield make
    for gate in made:
        await gate.close()


async def holder(catalog: Catalog) -> str | None:
    lease = await leases.select_lease(catalog.reader, LEASE_NAME)
    return lease.owner if lease else None


async def set_lease(catalog: Catalog, owner: str, clock: SettableClock) -> None:
    """The lease row as ``owner`` left it at its last renewal, just now."""
    now = clock.now()
    async with catalog.transaction() as tx:
        assert await leases.acquire_lease(tx, LEASE_NAME, owner, now + LEASE, now)


async def running_job(catalog: Catalog, runner: str, clock: SettableClock) -> int:
    """A job ``runner`` claimed (under a claim name of its own, as ``execute_job`` does)."""
    now = clock.now()
    async with catalog.transaction() as tx:
        job_id = await job_rows.insert_job(
            tx, kind="collect_garbage", params="{}", requester_id=None, project_id=None,
            repository_id=None, now=now,
        )
        assert await job_rows.claim_job(tx, job_id, f"{runner}/c1a1m", now + JOB_LEASE, now)
    return job_id


async def job_state(catalog: Catalog, job_id: int) -> str:
    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None
    return job.state


def other_host_owner() -> str:
    return f"runner:not-{socket.gethostname()}:4242:0badcafe"


def this_host_owner(pid: int) -> str:
    return f"runner:{socket.gethostname()}:{pid}:deadbeef"


# --- one lease, renewed ---------------------------------------------------------------------


async def test_the_first_runner_takes_the_lease_and_the_next_stands_by(
    make_gate: MakeGate, catalog: Catalog
) -> None:
    first, second = await make_gate(), await make_gate()

    assert await first.tick() is True
    assert await second.tick() is False
    assert (first.active, second.active) == (True, False)
    assert first.holds() and not second.holds()
    assert await holder(catalog) == first.owner


async def test_the_holder_keeps_the_lease_for_as_long_as_it_renews(
    make_gate: MakeGate, clock: SettableClock
) -> None:
    first, second = await make_gate(), await make_gate()
    await first.tick()
    for _ in range(10):  # 100 s: three lease periods and more
        clock.advance(RENEW)
        assert await first.tick() is True
        assert await second.tick() is False
    assert first.holds()


async def test_a_standby_takes_over_once_an_unrenewed_lease_has_run_out(
    make_gate: MakeGate, clock: SettableClock, catalog: Catalog
) -> None:
    first, second = await make_gate(), await make_gate()
    await first.tick()

    clock.advance(LEASE - timedelta(seconds=1))
    assert await second.tick() is False  # not a moment before
    clock.advance(timedelta(seconds=1))
    assert await second.tick() is True
    assert await holder(catalog) == second.owner


async def test_a_holder_that_missed_its_renewals_stops_claiming_when_its_lease_runs_out(
    make_gate: MakeGate, clock: SettableClock
) -> None:
    """Before any standby may take over: it counts itself active only until the expiry it
    wrote, by its own clock, even if no renewal has told it yet."""
    first = await make_gate()
    await first.tick()
    clock.advance(LEASE - timedelta(milliseconds=1))
    assert first.holds()
    clock.advance(timedelta(milliseconds=1))
    assert not first.holds()


async def test_the_holder_steps_down_when_a_renewal_finds_the_lease_taken(
    make_gate: MakeGate, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = await make_gate(), await make_gate()
    with caplog.at_level(logging.INFO, logger="registry_service.jobs"):
        await first.tick()
        clock.advance(LEASE)  # first stalled past its lease
        await second.tick()
        assert await first.tick() is False
        assert await first.tick() is False
    assert (first.active, first.holds(), second.active) == (False, False, True)
    lines = [r.getMessage() for r in caplog.records]
    assert [line for line in lines if line.startswith("job runner active")] == [
        f"job runner active: this process runs the catalog's jobs (lease jobs-runner as "
        f"{owner})"
        for owner in (first.owner, second.owner)
    ]
    assert [line for line in lines if line.startswith("job runner stepping down")] == [
        "job runner stepping down: lease jobs-runner was taken by another runner"
    ]


async def test_a_failed_renewal_steps_down_only_once_the_lease_has_run_out(
    make_gate: MakeGate, clock: SettableClock
) -> None:
    first = await make_gate()
    await first.tick()
    clock.advance(RENEW)
    first.lapse()  # what the runner calls when a renewal raised
    assert first.active
    clock.advance(LEASE - RENEW)
    first.lapse()
    assert not first.active


async def test_closing_hands_the_lease_and_the_running_jobs_over_at_once(
    make_gate: MakeGate, catalog: Catalog, clock: SettableClock
) -> None:
    first, second = await make_gate(), await make_gate()
    await first.tick()
    job_id = await running_job(catalog, first.owner, clock)

    await first.close()

    assert await job_state(catalog, job_id) == "queued"
    assert await holder(catalog) is None
    assert await second.tick() is True  # no expiry to wait for


# --- proof of death on this host ------------------------------------------------------------


async def test_a_dead_runner_of_this_host_is_replaced_at_once_and_its_jobs_requeued(
    make_gate: MakeGate, catalog: Catalog, clock: SettableClock, runners_dir: Path
) -> None:
    """A restart after SIGKILL: the dead runner's lock file is there, unlocked, and its lease
    and job claims are fresh."""
    dead = this_host_owner(1)
    (runners_dir / lock_file_name(dead)).touch()
    await set_lease(catalog, dead, clock)
    dead_job = await running_job(catalog, dead, clock)
    elsewhere_job = await running_job(catalog, other_host_owner(), clock)

    successor = await make_gate()

    assert await successor.tick() is True
    assert await holder(catalog) == successor.owner
    assert await job_state(catalog, dead_job) == "queued"
    assert await job_state(catalog, elsewhere_job) == "running"  # left to its job lease
    assert not (runners_dir / lock_file_name(dead)).exists()


async def test_a_live_runner_of_this_host_keeps_its_lease(
    make_gate: MakeGate, catalog: Catalog, clock: SettableClock, runners_dir: Path
) -> None:
    live = this_host_owner(2)
    held = file_locks.try_lock(runners_dir / lock_file_name(live))  # as its process holds it
    assert held is not None
    try:
        await set_lease(catalog, live, clock)
        job_id = await running_job(catalog, live, clock)
        standby = await make_gate()

        assert await standby.tick() is False
        assert await holder(catalog) == live
        assert await job_state(catalog, job_id) == "running"
        assert (runners_dir / lock_file_name(live)).exists()
    finally:
        file_locks.unlock(held)


async def test_a_runner_of_another_host_is_waited_out_and_its_jobs_left_to_their_leases(
    make_gate: MakeGate, catalog: Catalog, clock: SettableClock, runners_dir: Path
) -> None:
    """Its lock file, on a shared directory, proves nothing: a network filesystem's locks are
    not this kernel's."""
    remote = other_host_owner()
    (runners_dir / lock_file_name(remote)).touch()
    await set_lease(catalog, remote, clock)
    job_id = await running_job(catalog, remote, clock)
    standby = await make_gate()

    assert await standby.tick() is False
    clock.advance(LEASE)
    assert await standby.tick() is True
    assert await job_state(catalog, job_id) == "running"
    assert (runners_dir / lock_file_name(remote)).exists()


async def test_a_starting_runner_clears_the_files_of_dead_runners_of_this_host_only(
    make_gate: MakeGate, runners_dir: Path
) -> None:
    dead, remote = this_host_owner(3), other_host_owner()
    for owner in (dead, remote):
        (runners_dir / lock_file_name(owner)).touch()

    gate = await make_gate()

    assert sorted(p.name for p in runners_dir.iterdir()) == sorted(
        [lock_file_name(remote), lock_file_name(gate.owner)]
    )


async def test_a_runner_that_stopped_leaves_no_file(make_gate: MakeGate, runners_dir: Path) -> None:
    gate = await make_gate()
    assert (runners_dir / lock_file_name(gate.owner)).exists()
    await gate.close()
    assert list(runners_dir.iterdir()) == []


def test_a_gate_refuses_a_renewal_period_as_long_as_its_lease(
    catalog: Catalog, clock: SettableClock
) -> None:
    with pytest.raises(ValueError, match="renew"):
        RunnerGate(catalog, clock, new_owner_name("runner"), lease=LEASE, renew=LEASE)


# --- the runner behind the gate -------------------------------------------------------------


async def test_only_the_runner_holding_the_lease_claims_jobs(
    catalog: Catalog, clock: SettableClock, settings: Settings, runners_dir: Path
) -> None:
    ran: list[tuple[int, str]] = []

    async def body(ctx: JobContext, job: JobRow, progress: Progress) -> Outcome:
        ran.append((job.id, ctx.owner.split("/")[0]))
        return Outcome()

    bodies: dict[str, JobBody] = {"collect_garbage": body}
    store = FilesystemBlobStore(settings.data_path)
    runners = []
    for _ in range(2):
        ctx = JobContext(catalog, Storage.on(store), clock, settings)
        gate = RunnerGate(
            catalog, clock, ctx.owner, lease=LEASE, renew=RENEW, runners_dir=runners_dir
        )
        runners.append((InProcessRunner(ctx, bodies=bodies, gate=gate), gate))
    (first, first_gate), (second, second_gate) = runners
    try:
        # Their gates ticked by hand rather than by ``start``'s timer, and no loop sweeping.
        for gate in (first_gate, second_gate):
            await gate.open()
            await gate.tick()
        assert (first.active, second.active) == (True, False)

        job_id = await queued_job(catalog, clock)
        await second.run_until_idle()
        assert ran == [] and await job_state(catalog, job_id) == "queued"
        await first.run_until_idle()
        assert ran == [(job_id, first.ctx.owner)]

        # The first stalls past its lease; the second takes over, and the first, whose next
        # renewal finds the lease gone, claims nothing more.
        clock.advance(LEASE)
        assert await second_gate.tick() is True
        assert await first_gate.tick() is False
        later = await queued_job(catalog, clock)
        await first.run_until_idle()
        assert await job_state(catalog, later) == "queued"
        await second.run_until_idle()
        assert ran[-1] == (later, second.ctx.owner)
    finally:
        await first.stop()
        await second.stop()
        await store.aclose()


async def queued_job(catalog: Catalog, clock: SettableClock) -> int:
    async with catalog.transaction() as tx:
        return await job_rows.insert_job(
            tx, kind="collect_garbage", params="{}", requester_id=None, project_id=None,
            repository_id=None, now=clock.now(),
        )
