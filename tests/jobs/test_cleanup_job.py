"""The tag cleanup and repository deletion jobs, under both runners (see conftest)."""

from __future__ import annotations

import json
from datetime import timedelta

from jobs.cleanup import CleanupRules, TagInfo, plan_cleanup
from registry_service.catalog import jobs as job_rows
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.db import Catalog, fetch_all
from registry_service.clock import SettableClock
from registry_service.services.job_data import CleanupParams, RepositoryDeletionParams
from registry_service.services.jobs import NO_RUNNER, submit_job
from tests.factories import Factory
from tests.jobs.conftest import RunnerHandle
from tests.jobs.tagsets import SeedTag, make_repository, seed_tags, tag_names

HOUR = timedelta(hours=1)


def hourly_tags(clock: SettableClock, count: int, prefix: str = "build-") -> list[SeedTag]:
    now = clock.now()
    return [
        SeedTag(f"{prefix}{i:05d}", now - (i + 1) * HOUR, now - (i + 1) * HOUR)
        for i in range(count)
    ]


async def test_cleanup_deletes_what_the_planner_plans(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "group/app")
    maintainer = await factory.user(admin=True)
    now = clock.now()
    tags = [*hourly_tags(clock, 40), SeedTag("latest", None, now), SeedTag("keep-me", None, now)]
    await seed_tags(catalog, repository, tags)
    params = CleanupParams(name_regex_delete="build-.*", keep_n=5, older_than="10h")
    expected = plan_cleanup(
        [TagInfo(t.name, t.created, t.pushed) for t in tags],
        CleanupRules("build-.*", keep_n=5, older_than=timedelta(hours=10)),
        clock.now(),
    )

    job_id = await submit_job(
        catalog, runner.queue, params,
        requester_id=maintainer.user.id, project_id=repository.project_id,
        repository_id=repository.id, now=clock.now(),
    )
    await runner.drain()

    remaining = await tag_names(catalog, repository.id)
    assert remaining == {t.name for t in tags} - set(expected.delete)
    assert "latest" in remaining and len(expected.delete) == 30
    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None and job.state == "done"
    assert json.loads(job.counts)["deleted"] == 30


async def test_deleting_a_tag_leaves_other_tags_on_the_same_manifest(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "group/app")
    maintainer = await factory.user(admin=True)
    now = clock.now()
    await seed_tags(
        catalog, repository,
        [
            SeedTag("old-1", now - 9 * HOUR, now, image="x"),
            SeedTag("v1", now - 9 * HOUR, now, image="x"),
        ],
    )

    await submit_job(
        catalog, runner.queue, CleanupParams(name_regex_delete="old-.*"),
        requester_id=maintainer.user.id, project_id=repository.project_id,
        repository_id=repository.id, now=now,
    )
    await runner.drain()

    assert await tag_names(catalog, repository.id) == {"v1"}


async def test_a_requester_without_rights_any_more_deletes_nothing(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "group/app")
    outsider = await factory.user()
    await seed_tags(catalog, repository, hourly_tags(clock, 3))

    job_id = await submit_job(
        catalog, runner.queue, CleanupParams(name_regex_delete=".*"),
        requester_id=outsider.user.id, project_id=repository.project_id,
        repository_id=repository.id, now=clock.now(),
    )
    await runner.drain()

    assert len(await tag_names(catalog, repository.id)) == 3
    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None and job.state == "done"
    assert "may no longer delete" in json.loads(job.result or "{}")["skipped"]


async def test_a_job_that_deletes_nothing_says_why(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "group/app")
    maintainer = await factory.user(admin=True)
    await seed_tags(catalog, repository, hourly_tags(clock, 3))

    job_id = await submit_job(
        catalog, runner.queue, CleanupParams(name_regex_delete="nomatch"),
        requester_id=maintainer.user.id, project_id=repository.project_id,
        repository_id=repository.id, now=clock.now(),
    )
    await runner.drain()

    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None
    assert json.loads(job.result or "{}")["nothing_deleted_because"] == (
        "every tag was kept: 3 by not_matched"
    )


async def test_repository_deletion_removes_every_tag_and_the_row(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "group/app", "web")
    maintainer = await factory.user(admin=True)
    tags = [*hourly_tags(clock, 5), SeedTag("latest", None, clock.now())]
    await seed_tags(catalog, repository, tags)

    await submit_job(
        catalog, runner.queue, RepositoryDeletionParams(),
        requester_id=maintainer.user.id, project_id=repository.project_id,
        repository_id=repository.id, now=clock.now(),
    )
    await runner.drain()

    assert await repository_rows.select_repository_by_id(catalog.reader, repository.id) is None
    assert await tag_names(catalog, repository.id) == set()


async def test_a_tag_re_pushed_after_the_plan_stays_and_is_not_reported_deleted(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "group/app")
    maintainer = await factory.user(admin=True)
    await seed_tags(catalog, repository, hourly_tags(clock, 4))
    planned = await tag_manifest_ids(catalog, repository.id)
    # The job was planned (by an earlier attempt) before "build-00001" was pushed again.
    job_id = await submit_job(
        catalog, NO_RUNNER, CleanupParams(name_regex_delete=".*"),
        requester_id=maintainer.user.id, project_id=repository.project_id,
        repository_id=repository.id, now=clock.now(),
    )
    plan = {"plan": sorted([name, mid] for name, mid in planned.items()), "kept": {},
            "planned_at": clock.now().isoformat()}
    async with catalog.transaction() as tx:
        await tx.execute("UPDATE jobs SET result = ?, counts = ? WHERE id = ?",
                         (json.dumps(plan), json.dumps({"processed": 0, "deleted": 0}), job_id))
        await tx.execute(
            "UPDATE tags SET manifest_id = ? WHERE repository_id = ? AND name = 'build-00001'",
            (planned["build-00002"], repository.id),
        )

    await runner.poke()
    await runner.drain()

    assert await tag_names(catalog, repository.id) == {"build-00001"}
    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None and job.state == "done"
    result = json.loads(job.result or "{}")
    assert sorted(result["deleted_tags"]) == ["build-00000", "build-00002", "build-00003"]
    assert result["left_alone_tags"] == ["build-00001"]
    assert "plan" not in result  # the finished row keeps names, not the whole plan
    assert json.loads(job.counts)["deleted"] == 3


async def tag_manifest_ids(catalog: Catalog, repository_id: int) -> dict[str, int]:
    rows = await fetch_all(
        catalog.reader, "SELECT name, manifest_id FROM tags WHERE repository_id = ?",
        (repository_id,),
    )
    return {r[0]: r[1] for r in rows}
