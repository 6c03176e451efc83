"""Cleanup policy runs, under both runners (see conftest): a due policy cleans every repository
of its project once per cadence, stamps ``cleanup_policy_started_at``, and a run cut off by a
crash resumes to the same end as an uninterrupted one."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from jobs import tag_cleanup
from jobs.bodies import JOB_BODIES
from jobs.cleanup import CleanupRules, TagInfo, plan_cleanup
from jobs.context import JobContext
from jobs.execute import Outcome, Progress
from jobs.policies import schedule_due_policies
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.db import Catalog, fetch_all
from registry_service.catalog.rows import JobRow, Project, Repository
from registry_service.clock import SettableClock
from registry_service.services.jobs import NO_RUNNER, JobKind
from registry_service.services.policies import update_policy
from registry_service.settings import Settings
from tests.factories import Factory
from tests.jobs.conftest import RunnerHandle
from tests.jobs.tagsets import SeedTag, make_repository, seed_tags, tag_names

DAY = timedelta(days=1)
POLICY = {
    "enabled": True,
    "cadence": "1d",
    "keep_n": 5,
    "older_than": "7d",
    "name_regex": ".*",
    "name_regex_keep": "v.*",
}
WAIT_S = 30.0


def daily_tags(now: datetime) -> list[SeedTag]:
    """build-00 (a day old) … build-19 (20 days old), a kept release and an old ``latest``."""
    tags = [SeedTag(f"build-{i:02d}", now - (i + 1) * DAY, now - (i + 1) * DAY) for i in range(20)]
    return [
        *tags,
        SeedTag("v1.0", now - 30 * DAY, now - 30 * DAY),
        SeedTag("latest", now - 30 * DAY, now - 30 * DAY),
    ]


def expected_after_run(tags: list[SeedTag], run_at: datetime) -> set[str]:
    plan = plan_cleanup(
        [TagInfo(t.name, t.created, t.pushed) for t in tags],
        CleanupRules(".*", name_regex_keep="v.*", keep_n=5, older_than=7 * DAY),
        run_at,
    )
    return {t.name for t in tags} - set(plan.delete)


async def project_with_two_repositories(
    factory: Factory, catalog: Catalog, clock: SettableClock
) -> tuple[Project, list[Repository], list[SeedTag]]:
    root = await make_repository(factory, "shop/app")
    async with catalog.transaction() as tx:
        worker = await repository_rows.ensure_repository(tx, root.project_id, "worker", clock.now())
    tags = daily_tags(clock.now())
    for repository in (root, worker):
        await seed_tags(catalog, repository, tags)
    project = await factory.project("shop/app")
    return project, [root, worker], tags


async def policy_jobs(catalog: Catalog, project_id: int) -> list[dict[str, Any]]:
    rows = await fetch_all(
        catalog.reader,
        "SELECT id, repository_id, state, params FROM jobs WHERE project_id = ? AND kind = ?"
        " ORDER BY id",
        (project_id, JobKind.CLEANUP_TAGS),
    )
    return [
        {"id": r[0], "repository_id": r[1], "state": r[2], **json.loads(r[3])} for r in rows
    ]


async def runs(catalog: Catalog, project_id: int) -> list[str]:
    """The distinct runs of the project's policy, in order."""
    jobs = await policy_jobs(catalog, project_id)
    return sorted({j["policy_run_at"] for j in jobs if j.get("policy")})


async def wait_for_jobs(catalog: Catalog, project_id: int, count: int) -> None:
    """The runner's own sweep makes them (poked, not called here)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while len(await policy_jobs(catalog, project_id)) < count:
        assert loop.time() < deadline, "the runner never started the due policy"
        await asyncio.sleep(0.02)


async def started_at(catalog: Catalog, repository_id: int) -> datetime | None:
    repository = await repository_rows.select_repository_by_id(catalog.reader, repository_id)
    assert repository is not None
    return repository.cleanup_policy_started_at


async def test_a_due_policy_cleans_every_repository_once_per_cadence(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    project, repositories, tags = await project_with_two_repositories(factory, catalog, clock)
    await update_policy(catalog, project, POLICY, clock.now())

    clock.advance(DAY - timedelta(minutes=1))
    assert await schedule_due_policies(catalog, NO_RUNNER, clock.now()) == []

    clock.advance(timedelta(minutes=2))
    first_run = clock.now()
    await runner.poke()
    await wait_for_jobs(catalog, project.id, 2)
    await runner.drain()

    expected = expected_after_run(tags, first_run)
    # latest always, v1.0 by name_regex_keep, the 5 newest by keep_n; the rest are over 7 days.
    assert expected == {"latest", "v1.0", *(f"build-{i:02d}" for i in range(5))}
    for repository in repositories:
        assert await tag_names(catalog, repository.id) == expected
        assert await started_at(catalog, repository.id) == first_run
    jobs = await policy_jobs(catalog, project.id)
    assert sorted(j["repository_id"] for j in jobs) == sorted(r.id for r in repositories)
    assert all(j["state"] == "done" and j["name_regex_delete"] == ".*" for j in jobs)

    # Due again one cadence after the run was started, not before; the sweep is repeatable.
    assert await schedule_due_policies(catalog, runner.queue, clock.now()) == []
    clock.advance(timedelta(hours=5))
    assert await schedule_due_policies(catalog, runner.queue, clock.now()) == []
    assert len(await runs(catalog, project.id)) == 1

    clock.advance(DAY)
    await runner.poke()
    await wait_for_jobs(catalog, project.id, 4)
    await runner.drain()
    assert len(await runs(catalog, project.id)) == 2
    for repository in repositories:
        assert await started_at(catalog, repository.id) == clock.now()


async def test_a_clock_that_jumped_many_cadences_runs_the_policy_once(
    catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    project, _, _ = await project_with_two_repositories(factory, catalog, clock)
    await update_policy(catalog, project, POLICY, clock.now())
    clock.advance(10 * DAY)

    made = await asyncio.gather(
        *(schedule_due_policies(catalog, NO_RUNNER, clock.now()) for _ in range(3))
    )

    assert sorted(len(ids) for ids in made) == [0, 0, 2]  # racing sweeps start it once
    assert len(await runs(catalog, project.id)) == 1
    assert await schedule_due_policies(catalog, NO_RUNNER, clock.now()) == []


async def test_a_disabled_policy_never_runs(
    catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    project, _, _ = await project_with_two_repositories(factory, catalog, clock)
    await update_policy(catalog, project, {**POLICY, "enabled": False}, clock.now())
    clock.advance(30 * DAY)
    assert await schedule_due_policies(catalog, NO_RUNNER, clock.now()) == []


async def test_a_repository_still_cleaning_from_the_last_run_is_not_doubled(
    catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    project, _, _ = await project_with_two_repositories(factory, catalog, clock)
    await update_policy(catalog, project, POLICY, clock.now())
    clock.advance(DAY + timedelta(minutes=1))
    assert len(await schedule_due_policies(catalog, NO_RUNNER, clock.now())) == 2
    clock.advance(DAY)  # nobody ran the first run's jobs
    assert await schedule_due_policies(catalog, NO_RUNNER, clock.now()) == []
    assert len(await runs(catalog, project.id)) == 1


class CrashAfter:
    """A ``Progress`` whose owner dies (the task is cancelled) at its ``n``-th save: that save's
    transaction is rolled back, the job stays ``running`` under a lease nobody renews."""

    def __init__(self, inner: Progress, n: int, crashed: list[int], job_id: int) -> None:
        self._inner, self._n, self._crashed, self._job_id = inner, n, crashed, job_id
        self._saves = 0

    async def save(self, tx: Any, counts: Any, result: Any = None) -> None:
        self._saves += 1
        if self._saves == self._n:
            self._crashed.append(self._job_id)
            raise asyncio.CancelledError
        await self._inner.save(tx, counts, result)


async def test_an_interrupted_run_resumes_to_the_same_tags(
    runner: RunnerHandle,
    catalog: Catalog,
    factory: Factory,
    clock: SettableClock,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project, repositories, tags = await project_with_two_repositories(factory, catalog, clock)
    await update_policy(catalog, project, POLICY, clock.now())
    monkeypatch.setattr(tag_cleanup, "BATCH", 3)
    crashed: list[int] = []

    async def crashing(ctx: JobContext, job: JobRow, progress: Progress) -> Outcome:
        # Save 1 is the plan, 2 the first batch; the crash loses the second batch.
        return await tag_cleanup.cleanup_tags(ctx, job, CrashAfter(progress, 3, crashed, job.id))

    monkeypatch.setitem(JOB_BODIES, JobKind.CLEANUP_TAGS, crashing)  # type: ignore[index]
    clock.advance(DAY + timedelta(minutes=1))
    run_at = clock.now()
    await runner.poke()
    await wait_for_jobs(catalog, project.id, 2)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while len(set(crashed)) < 2:
        assert loop.time() < deadline, f"crashed: {crashed}"
        await asyncio.sleep(0.02)

    expected = expected_after_run(tags, run_at)
    for repository in repositories:
        left = await tag_names(catalog, repository.id)
        assert len(left) == len(tags) - 3  # one batch deleted before the crash
        assert await started_at(catalog, repository.id) == run_at
    assert {j["state"] for j in await policy_jobs(catalog, project.id)} == {"running"}

    # A new runner life: the dead runner's lease runs out and the jobs are claimed again.
    monkeypatch.setitem(JOB_BODIES, JobKind.CLEANUP_TAGS, tag_cleanup.cleanup_tags)  # type: ignore[index]
    clock.advance(timedelta(seconds=settings.jobs.lease_seconds + 1))
    await runner.poke()
    await runner.drain()

    for repository in repositories:
        assert await tag_names(catalog, repository.id) == expected
        assert await started_at(catalog, repository.id) == run_at  # the same run, resumed
    jobs = await policy_jobs(catalog, project.id)
    assert [j["state"] for j in jobs] == ["done", "done"]
    assert len(await runs(catalog, project.id)) == 1
