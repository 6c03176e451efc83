"""Job rows as the job reads them, under both runners: a row that is not what its kind stores
fails the job before it deletes anything, and a cleanup row written before the typed codec (a
catalog upgraded in place) is resumed from its saved plan. The rows are written as raw JSON
text, as a catalog holds them."""

from __future__ import annotations

import json
from datetime import datetime

from registry_service.catalog import jobs as job_rows
from registry_service.catalog.db import Catalog
from registry_service.catalog.rows import Repository
from registry_service.clock import SettableClock
from tests.factories import Factory
from tests.jobs.conftest import RunnerHandle
from tests.jobs.tagsets import make_repository, seed_tags, tag_names
from tests.jobs.test_cleanup_job import hourly_tags, tag_manifest_ids


async def insert_cleanup(
    catalog: Catalog, repository: Repository, requester_id: int, params: str, now: datetime
) -> int:
    async with catalog.transaction() as tx:
        return await job_rows.insert_job(
            tx, kind="cleanup_tags", params=params, requester_id=requester_id,
            project_id=repository.project_id, repository_id=repository.id, now=now,
        )


async def test_a_cleanup_whose_params_misspell_a_member_fails_and_deletes_nothing(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    """``keepn`` for ``keep_n``: read member by member, untyped, it was ignored and every tag
    went; the codec refuses the row."""
    repository = await make_repository(factory, "group/app")
    maintainer = await factory.user(admin=True)
    await seed_tags(catalog, repository, hourly_tags(clock, 6))
    job_id = await insert_cleanup(
        catalog, repository, maintainer.user.id,
        '{"anchoring": "gitlab", "keepn": 5, "name_regex_delete": ".*"}', clock.now(),
    )

    await runner.queue.enqueue(job_id)
    await runner.drain()

    assert len(await tag_names(catalog, repository.id)) == 6
    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None and job.state == "failed"
    assert job.error == "invalid parameters: params: unknown member(s) ['keepn']"


async def test_a_cleanup_whose_keep_n_is_a_string_fails_and_says_which_member(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "group/app")
    maintainer = await factory.user(admin=True)
    await seed_tags(catalog, repository, hourly_tags(clock, 3))
    job_id = await insert_cleanup(
        catalog, repository, maintainer.user.id,
        '{"keep_n": "2", "name_regex_delete": ".*"}', clock.now(),
    )

    await runner.queue.enqueue(job_id)
    await runner.drain()

    assert len(await tag_names(catalog, repository.id)) == 3
    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None and job.state == "failed"
    assert job.error == (
        "invalid parameters: params.keep_n: expected a non-negative integer or null, got '2'"
    )


async def test_a_cleanup_planned_before_the_codec_resumes_from_its_saved_plan(
    runner: RunnerHandle, catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    """A row left half-done by the code before the codec, in that code's exact format (see
    tests/unit/services/test_job_data.py): one of three planned tags done, two to go."""
    repository = await make_repository(factory, "group/app")
    maintainer = await factory.user(admin=True)
    await seed_tags(catalog, repository, hourly_tags(clock, 5))
    ids = await tag_manifest_ids(catalog, repository.id)
    job_id = await insert_cleanup(
        catalog, repository, maintainer.user.id,
        '{"anchoring": "gitlab", "keep_n": 2, "name_regex": null, "name_regex_delete": ".*",'
        ' "name_regex_keep": null, "older_than": null}',
        clock.now(),
    )
    plan = [["build-00004", ids["build-00004"]], ["build-00003", ids["build-00003"]],
            ["build-00002", ids["build-00002"]]]
    async with catalog.transaction() as tx:
        await tx.execute(
            "UPDATE jobs SET counts = ?, result = ? WHERE id = ?",
            (
                '{"deleted": 1, "kept": 2, "planned": 3, "processed": 1, "tags": 5}',
                json.dumps({"kept": {"keep_n": 2}, "plan": plan,
                            "planned_at": "2026-06-01T11:00:00+00:00"}),
                job_id,
            ),
        )

    await runner.queue.enqueue(job_id)
    await runner.drain()

    # The first entry counts as done (processed 1): only the other two are deleted now.
    assert await tag_names(catalog, repository.id) == {"build-00000", "build-00001",
                                                      "build-00004"}
    job = await job_rows.select_job(catalog.reader, job_id)
    assert job is not None and job.state == "done", job.error
    assert json.loads(job.counts) == {
        "deleted": 3, "kept": 2, "planned": 3, "processed": 3, "tags": 5
    }
    assert json.loads(job.result or "{}") == {
        "kept": {"keep_n": 2},
        "planned_at": "2026-06-01T11:00:00+00:00",
        "deleted_tags": ["build-00004", "build-00003", "build-00002"],
    }
