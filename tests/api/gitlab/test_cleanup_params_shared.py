"""One codec for a bulk delete's parameters (issue 12 point 9): the preview (``dry_run``), the
row the API records and the job that runs it all hold the same ``CleanupParams``, and the job
deletes what the preview listed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from jobs.bodies import JOB_BODIES
from jobs.context import JobContext
from jobs.execute import Outcome, Progress
from jobs.runner import InProcessRunner
from jobs.tag_cleanup import cleanup_tags
from registry_service.app import create_app
from registry_service.catalog import jobs as job_rows
from registry_service.catalog.db import Catalog
from registry_service.catalog.rows import JobRow
from registry_service.clock import SettableClock
from registry_service.services.blobs import Storage
from registry_service.services.job_data import CleanupParams
from registry_service.services.jobs import JobKind
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.api.gitlab.conftest import Repo, add_tags, make_repo
from tests.factories import Factory, UserWithToken
from tests.jobs.tagsets import tag_names

QUERY = (
    "name_regex_delete=v.%2A&name_regex=old.%2A&name_regex_keep=v1&keep_n=1&older_than=1h"
)
SENT = CleanupParams(
    name_regex_delete="v.*", name_regex="old.*", name_regex_keep="v1", keep_n=1,
    older_than="1h",
)


@dataclass
class Served:
    client: TestClient
    runner: InProcessRunner
    # The parameters the cleanup job decoded from each row it ran.
    decoded: list[CleanupParams]


@pytest.fixture
async def served(
    aiohttp_client: Any, settings: Settings, catalog: Catalog, clock: SettableClock
) -> AsyncIterator[Served]:
    decoded: list[CleanupParams] = []

    async def recording_cleanup(ctx: JobContext, job: JobRow, progress: Progress) -> Outcome:
        decoded.append(CleanupParams.decode(job.params))
        return await cleanup_tags(ctx, job, progress)

    store = FilesystemBlobStore(settings.data_path)
    runner = InProcessRunner(
        JobContext(catalog, Storage.on(store), clock, settings),
        bodies={**JOB_BODIES, JobKind.CLEANUP_TAGS: recording_cleanup},
    )
    app = create_app(settings, catalog=catalog, clock=clock, storage=Storage.on(store),
                     queue=runner)
    yield Served(await aiohttp_client(app), runner, decoded)
    await store.aclose()


@pytest.fixture
async def repo(factory: Factory) -> Repo:
    return await make_repo(factory, await factory.project("acme/web"), "app")


async def test_preview_row_and_job_hold_the_same_params_and_delete_the_same_tags(
    served: Served, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["v1", "v2", "v3", "v4", "old-1", "latest"], clock)
    client = served.client

    resp = await client.delete(f"{repo.url}/tags?dry_run=true&{QUERY}", headers=root.headers)
    assert resp.status == 200, await resp.text()
    preview = await resp.json()
    resp = await client.delete(f"{repo.url}/tags?{QUERY}", headers=root.headers)
    assert resp.status == 202, await resp.text()
    job_id = int(resp.headers["X-Registry-Job-Id"])
    row = await job_rows.select_job(catalog.reader, job_id)
    assert row is not None
    await served.runner.run_until_idle()

    assert CleanupParams.from_json(preview["params"]) == SENT
    assert CleanupParams.decode(row.params) == SENT
    assert served.decoded == [SENT]
    # name_regex is recorded but ignored, by the preview (which says so) and the job alike.
    assert ("name_regex_ignored", "name_regex") in [
        (w["code"], w["parameter"]) for w in preview["warnings"]
    ]
    assert preview["would_delete"] == ["v2", "v3"]
    assert await tag_names(catalog, repo.id) == {"v1", "v4", "old-1", "latest"}
    job = await client.get(f"/api/v4/registry/jobs/{job_id}", headers=root.headers)
    body = await job.json()
    assert body["deleted_tags"] == preview["would_delete"]
    assert body["params"] == preview["params"]
