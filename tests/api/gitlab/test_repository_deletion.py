"""Deleting a container repository over /api/v4 (gitlab-api.md E4, §7): 202 with the bare
number, the ``delete_scheduled`` status, the job it records, and the job's effect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from jobs.context import JobContext
from jobs.runner import InProcessRunner
from registry_service.app import create_app
from registry_service.catalog.db import Catalog, execute
from registry_service.clock import SettableClock
from registry_service.services.blobs import Storage
from registry_service.services.permissions import AccessLevel
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.api.gitlab.conftest import API, add_tags, jobs_of, make_repo, member
from tests.factories import Factory, UserWithToken


async def test_delete_repository_schedules_it(
    client: TestClient, factory: Factory, catalog: Catalog
) -> None:
    project = await factory.project("acme/web")
    repo = await make_repo(factory, project)
    maintainer = await member(factory, project, AccessLevel.MAINTAINER)

    resp = await client.delete(repo.url, headers=maintainer.headers)

    assert resp.status == 202
    assert resp.content_type == "application/json"
    assert await resp.text() == "202"
    listed = await client.get(f"{API}/projects/{project.id}/registry/repositories",
                              headers=maintainer.headers)
    assert [r["status"] for r in await listed.json()] == ["delete_scheduled"]
    jobs = await jobs_of(catalog)
    assert [(j["kind"], j["repository_id"], j["project_id"], j["requester_id"], j["state"])
            for j in jobs] == [("delete_repository", repo.id, project.id, maintainer.user.id,
                                "queued")]

    # Again while scheduled: still 202, and no second job.
    again = await client.delete(repo.url, headers=maintainer.headers)
    assert again.status == 202
    assert await again.json() == 202
    assert len(await jobs_of(catalog)) == 1


async def test_deletes_of_one_repository_at_once_make_one_job(
    client: TestClient, factory: Factory, catalog: Catalog
) -> None:
    # Each request marks the repository and looks for an open job; the job must be written
    # in that same transaction, or two requests both find none and both write one.
    project = await factory.project("acme/web")
    repo = await make_repo(factory, project)
    maintainer = await member(factory, project, AccessLevel.MAINTAINER)

    answers = await asyncio.gather(
        *(client.delete(repo.url, headers=maintainer.headers) for _ in range(8))
    )

    assert [answer.status for answer in answers] == [202] * 8
    assert len(await jobs_of(catalog, "delete_repository")) == 1


async def test_delete_after_a_failed_deletion_starts_over(
    client: TestClient, factory: Factory, catalog: Catalog, root: UserWithToken
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"))
    async with catalog.transaction() as tx:
        await execute(tx, "UPDATE repositories SET status = 'delete_failed',"
                      " failed_deletion_count = 10 WHERE id = ?", (repo.id,))
    resp = await client.delete(repo.url, headers=root.headers)
    assert resp.status == 202
    single = await client.get(f"{API}/registry/repositories/{repo.id}", headers=root.headers)
    assert (await single.json())["status"] == "delete_scheduled"
    assert len(await jobs_of(catalog, "delete_repository")) == 1


async def test_deletion_job_removes_the_repository(
    aiohttp_client: Any, factory: Factory, catalog: Catalog, clock: SettableClock,
    settings: Settings,
) -> None:
    store = FilesystemBlobStore(settings.data_path)
    runner = InProcessRunner(JobContext(catalog, Storage.on(store), clock, settings))
    client = await aiohttp_client(
        create_app(settings, catalog=catalog, clock=clock, storage=Storage.on(store),
                   queue=runner)
    )
    project = await factory.project("acme/web")
    repo = await make_repo(factory, project)
    kept = await make_repo(factory, project, "kept")
    await add_tags(catalog, repo, ["latest", "v1"], clock)
    root = await factory.user(admin=True)

    assert (await client.delete(repo.url, headers=root.headers)).status == 202
    await runner.run_until_idle()

    listed = await client.get(f"{API}/projects/{project.id}/registry/repositories",
                              headers=root.headers)
    assert [r["id"] for r in await listed.json()] == [kept.id]
    gone = await client.get(f"{API}/registry/repositories/{repo.id}", headers=root.headers)
    assert gone.status == 404
    assert await gone.json() == {"message": "404 Not found"}
    await store.aclose()


@pytest.mark.parametrize("level", [AccessLevel.REPORTER, AccessLevel.DEVELOPER])
async def test_delete_repository_needs_maintainer(
    client: TestClient, factory: Factory, catalog: Catalog, level: AccessLevel
) -> None:
    project = await factory.project("acme/web")
    repo = await make_repo(factory, project)
    user = await member(factory, project, level)
    resp = await client.delete(repo.url, headers=user.headers)
    assert resp.status == 403
    assert await resp.json() == {"message": "403 Forbidden"}
    assert await jobs_of(catalog) == []


async def test_delete_repository_of_another_project_is_404(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    mine = await factory.project("acme/web")
    theirs = await make_repo(factory, await factory.project("acme/db"))
    resp = await client.delete(
        f"{API}/projects/{mine.id}/registry/repositories/{theirs.id}", headers=root.headers
    )
    assert resp.status == 404
    assert await resp.json() == {"message": "404 Not found"}


@pytest.mark.parametrize("bad", ["abc", "1.5", "1e3"])
async def test_repository_id_must_be_an_integer(
    client: TestClient, factory: Factory, root: UserWithToken, bad: str
) -> None:
    project = await factory.project("acme/web")
    for method, suffix in (("DELETE", ""), ("GET", "/tags"), ("GET", "/tags/v1"),
                           ("DELETE", "/tags/v1"), ("DELETE", "/tags?name_regex_delete=x")):
        resp = await client.request(
            method, f"{API}/projects/{project.id}/registry/repositories/{bad}{suffix}",
            headers=root.headers,
        )
        assert resp.status == 400, (method, suffix)
        assert await resp.json() == {"error": "repository_id is invalid"}


async def test_delete_repository_without_a_token_is_401(
    client: TestClient, factory: Factory
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web", visibility="public"))
    resp = await client.delete(repo.url)
    assert resp.status == 401
    assert await resp.json() == {"message": "401 Unauthorized"}
