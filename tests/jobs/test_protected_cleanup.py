"""Cleanups never delete protected or immutable tags (issue 14), under both runners: a bulk
delete's job and a cleanup policy's run keep them with the reason ``protected`` and count them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from jobs import tag_cleanup
from jobs.policies import schedule_due_policies
from registry_service.catalog import jobs as job_rows
from registry_service.catalog import protection_rules as rule_rows
from registry_service.catalog.db import Catalog, fetch_all
from registry_service.clock import SettableClock
from registry_service.services.job_data import CleanupParams
from registry_service.services.jobs import submit_job
from registry_service.services.policies import update_policy
from tests.factories import Factory
from tests.jobs.conftest import RunnerHandle
from tests.jobs.tagsets import SeedTag, make_repository, seed_tags, tag_names

DAY = timedelta(days=1)


async def protect(catalog: Catalog, project_id: int, clock: SettableClock) -> None:
    async with catalog.transaction() as tx:
        await rule_rows.insert_tag_rule(tx, project_id, "^v", 40, 40, False, clock.now())
        await rule_rows.insert_tag_rule(tx, project_id, "-final$", None, None, True, clock.now())


def old_tags(clock: SettableClock) -> list[SeedTag]:
    now = clock.now()
    names = ["v1", "v2", "rc-final", "build-1", "build-2", "build-3"]
    return [
        SeedTag(name, now - (i + 10) * DAY, now - (i + 10) * DAY) for i, name in enumerate(names)
    ]


async def test_a_bulk_delete_keeps_protected_and_immutable_tags_and_counts_them(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "group/app")
    admin = await factory.user(admin=True)
    await seed_tags(catalog, repository, old_tags(clock))
    await protect(catalog, repository.project_id, clock)

    job_id = await submit_job(
        catalog, runner.queue, CleanupParams(name_regex_delete=".*", keep_n=1),
        requester_id=admin.user.id, project_id=repository.project_id,
        repository_id=repository.id, now=clock.now(),
    )
    await runner.drain()

    # keep_n ranks only unprotected tags: build-1 is the newest of them.
    assert await tag_names(catalog, repository.id) == {"v1", "v2", "rc-final", "build-1"}
    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None and job.state == "done"
    counts = json.loads(job.counts)
    assert counts["protected"] == 3 and counts["deleted"] == 2
    assert json.loads(job.result)["kept"] == {"protected": 3, "keep_n": 1}


async def test_a_cleanup_policy_never_deletes_protected_tags(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "shop/app")
    project = await factory.project("shop/app")
    await seed_tags(catalog, repository, old_tags(clock))
    await protect(catalog, project.id, clock)
    policy = {
        "enabled": True, "cadence": "1d", "keep_n": 1, "older_than": "7d", "name_regex": ".*"
    }
    await update_policy(catalog, project, policy, clock.now())

    clock.advance(DAY + timedelta(minutes=1))
    await schedule_due_policies(catalog, runner.queue, clock.now())
    await runner.drain()

    assert await tag_names(catalog, repository.id) == {"v1", "v2", "rc-final", "build-1"}
    rows = await fetch_all(catalog.reader, "SELECT counts FROM jobs WHERE kind = 'cleanup_tags'")
    assert [json.loads(r[0])["protected"] for r in rows] == [3]


async def test_a_rule_made_while_a_cleanup_runs_keeps_its_tags(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repository = await make_repository(factory, "group/late")
    admin = await factory.user(admin=True)
    await seed_tags(catalog, repository, old_tags(clock))
    made_plan = tag_cleanup._make_plan

    async def plan_then_protect(*args: Any, **kwargs: Any) -> Any:
        # A Maintainer protects v1 and v2 between the plan and the first batch.
        planned = await made_plan(*args, **kwargs)
        await protect(catalog, repository.project_id, clock)
        return planned

    monkeypatch.setattr(tag_cleanup, "_make_plan", plan_then_protect)
    job_id = await submit_job(
        catalog, runner.queue, CleanupParams(name_regex_delete=".*"),
        requester_id=admin.user.id, project_id=repository.project_id,
        repository_id=repository.id, now=clock.now(),
    )
    await runner.drain()

    assert await tag_names(catalog, repository.id) == {"v1", "v2", "rc-final"}
    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None and job.state == "done"
    counts, result = json.loads(job.counts), json.loads(job.result)
    assert counts["protected"] == 3 and counts["deleted"] == 3
    assert result["left_alone"] == "3 tag(s) were protected by a rule made after the plan"
    assert sorted(result["deleted_tags"]) == ["build-1", "build-2", "build-3"]
