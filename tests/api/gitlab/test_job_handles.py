"""Job handles (issue 6 point 2): the 202s of E4 and E6 name their job in ``X-Registry-Job-Id``;
``GET /registry/jobs/:id`` and ``GET /projects/:id/registry/jobs`` show it to whoever could have
started it (and to administrators); a job that deleted nothing says why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from jobs.context import JobContext
from jobs.gc import submit_collection
from jobs.runner import InProcessRunner
from registry_service.app import create_app
from registry_service.catalog.db import Catalog, execute
from registry_service.clock import SettableClock
from registry_service.services.blobs import Storage
from registry_service.services.job_data import CleanupParams
from registry_service.services.jobs import NO_RUNNER, submit_job
from registry_service.services.permissions import AccessLevel
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.api.gitlab.conftest import API, Repo, add_tags, jobs_of, make_repo, member
from tests.factories import Factory, UserWithToken
from tests.jobs.tagsets import SeedTag, seed_tags

HEADER = "X-Registry-Job-Id"
NOT_FOUND = {"message": "404 Job Not Found"}


@dataclass
class Served:
    client: TestClient
    runner: InProcessRunner


@pytest.fixture
async def served(
    aiohttp_client: Any, settings: Settings, catalog: Catalog, clock: SettableClock
) -> AsyncIterator[Served]:
    """A client whose jobs run when the test says so (``runner.run_until_idle``)."""
    store = FilesystemBlobStore(settings.data_path)
    runner = InProcessRunner(JobContext(catalog, Storage.on(store), clock, settings))
    app = create_app(settings, catalog=catalog, clock=clock, storage=Storage.on(store),
                     queue=runner)
    yield Served(await aiohttp_client(app), runner)
    await store.aclose()


@pytest.fixture
async def repo(factory: Factory) -> Repo:
    return await make_repo(factory, await factory.project("acme/web"), "app")


async def get_job(client: TestClient, job_id: int | str, user: UserWithToken) -> Any:
    resp = await client.get(f"{API}/registry/jobs/{job_id}", headers=user.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


# --- the header on the 202s -----------------------------------------------------------------


async def test_bulk_delete_names_its_job_in_a_header_and_keeps_gitlabs_body(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken
) -> None:
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=root.headers)

    assert resp.status == 202
    assert await resp.text() == "202"
    (job,) = await jobs_of(catalog)
    assert resp.headers[HEADER] == str(job["id"])


async def test_repository_deletion_names_its_job_and_the_same_one_while_pending(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken
) -> None:
    first = await client.delete(repo.url, headers=root.headers)
    again = await client.delete(repo.url, headers=root.headers)

    assert (first.status, again.status) == (202, 202)
    assert await first.text() == "202"
    (job,) = await jobs_of(catalog, "delete_repository")
    assert first.headers[HEADER] == again.headers[HEADER] == str(job["id"])


async def test_refused_requests_carry_no_job_header(
    client: TestClient, factory: Factory, repo: Repo
) -> None:
    developer = await member(factory, repo.project, AccessLevel.DEVELOPER)
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=developer.headers)
    assert resp.status == 403
    assert HEADER not in resp.headers


# --- one job ----------------------------------------------------------------------------------


async def test_a_queued_bulk_delete_shows_its_parameters_and_requester(
    client: TestClient, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="mia")
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=v.*&keep_n=2",
                               headers=maintainer.headers)

    job = await get_job(client, resp.headers[HEADER], maintainer)

    assert job == {
        "id": int(resp.headers[HEADER]),
        "kind": "cleanup_tags",
        "state": "queued",
        "params": {"name_regex_delete": "v.*", "name_regex": None, "name_regex_keep": None,
                   "keep_n": 2, "older_than": None, "anchoring": "gitlab"},
        "requester": {"id": maintainer.user.id, "username": "mia"},
        "project_id": repo.project.id,
        "repository_id": repo.id,
        "counts": {},
        "deleted_tags": None,
        "deleted_tags_truncated": False,
        "reason": None,
        "error": None,
        "attempts": 0,
        "created_at": "2026-06-01T12:00:00.000Z",
        "started_at": None,
        "finished_at": None,
        "duration_s": None,
    }


async def test_a_finished_bulk_delete_shows_counts_deleted_tags_and_timings(
    served: Served, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["v1", "v2", "v3", "other", "latest"], clock)
    resp = await served.client.delete(f"{repo.url}/tags?name_regex_delete=v.*&keep_n=1",
                                      headers=root.headers)
    await served.runner.run_until_idle()

    job = await get_job(served.client, resp.headers[HEADER], root)

    assert job["state"] == "done"
    assert job["deleted_tags"] == ["v1", "v2"]
    assert job["counts"]["deleted"] == 2
    assert job["counts"]["kept"] == 3
    assert job["reason"] is None and job["error"] is None
    assert job["attempts"] == 1
    assert job["started_at"] == job["finished_at"] == "2026-06-01T12:00:00.000Z"
    assert job["duration_s"] == 0


async def test_deleted_tags_are_capped_and_say_so(
    served: Served, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    names = [f"t{i:04d}" for i in range(1001)]
    await seed_tags(catalog, repo.repository, [SeedTag(n, None, clock.now()) for n in names])
    resp = await served.client.delete(f"{repo.url}/tags?name_regex_delete=t.*",
                                      headers=root.headers)
    await served.runner.run_until_idle()

    job = await get_job(served.client, resp.headers[HEADER], root)

    assert job["counts"]["deleted"] == 1001
    assert job["deleted_tags"] == names[:1000]
    assert job["deleted_tags_truncated"] is True


async def test_a_bulk_delete_that_deleted_nothing_says_why(
    served: Served, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["v1", "latest"], clock)
    resp = await served.client.delete(f"{repo.url}/tags?name_regex_delete=release-.*",
                                      headers=root.headers)
    await served.runner.run_until_idle()

    job = await get_job(served.client, resp.headers[HEADER], root)

    assert job["state"] == "done"
    assert job["deleted_tags"] == []
    assert job["counts"]["deleted"] == 0
    assert job["reason"] == "every tag was kept: 1 by latest, 1 by not_matched"


async def test_a_skipped_bulk_delete_says_why(
    served: Served, catalog: Catalog, clock: SettableClock, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER)
    resp = await served.client.delete(f"{repo.url}/tags?name_regex_delete=.*",
                                      headers=maintainer.headers)
    async with catalog.transaction() as tx:
        await execute(tx, "DELETE FROM members WHERE user_id = ?", (maintainer.user.id,))
    await served.runner.run_until_idle()

    admin = await factory.user(admin=True)
    job = await get_job(served.client, resp.headers[HEADER], admin)

    assert job["state"] == "done"
    assert job["reason"] == "the requester may no longer delete images here"


async def test_a_repository_deletion_shows_what_it_deleted_or_why_not(
    served: Served, catalog: Catalog, clock: SettableClock, factory: Factory,
    root: UserWithToken,
) -> None:
    project = await factory.project("acme/api")
    tagged = await make_repo(factory, project, "tagged")
    empty = await make_repo(factory, project, "empty")
    await add_tags(catalog, tagged, ["v1", "v2"], clock)
    first = await served.client.delete(tagged.url, headers=root.headers)
    second = await served.client.delete(empty.url, headers=root.headers)
    await served.runner.run_until_idle()

    done = await get_job(served.client, first.headers[HEADER], root)
    nothing = await get_job(served.client, second.headers[HEADER], root)

    assert (done["kind"], done["state"], done["counts"]["deleted"]) == (
        "delete_repository", "done", 2)
    assert done["reason"] is None
    # The repository row is gone (its id is nulled); the project still ties the job to it.
    assert done["repository_id"] is None and done["project_id"] == project.id
    assert nothing["counts"]["deleted"] == 0
    assert nothing["reason"] == "the repository had no tags; only its record went"


async def test_a_failed_job_shows_its_error(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken
) -> None:
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=root.headers)
    async with catalog.transaction() as tx:
        await execute(tx, "UPDATE jobs SET state = 'failed', error = 'invalid parameters: x',"
                      " attempts = 1 WHERE id = ?", (int(resp.headers[HEADER]),))
    job = await get_job(client, resp.headers[HEADER], root)
    assert (job["state"], job["error"]) == ("failed", "invalid parameters: x")


async def test_a_malformed_job_row_is_a_logged_500_naming_the_job_and_member(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rows are written by the codec only: one that does not decode is a server fault, said
    in the log (which job, which member), not shown as if it were empty."""
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=root.headers)
    job_id = int(resp.headers[HEADER])
    async with catalog.transaction() as tx:
        await execute(tx, "UPDATE jobs SET counts = '{\"deleted\": \"3\"}' WHERE id = ?",
                      (job_id,))

    answer = await client.get(f"{API}/registry/jobs/{job_id}", headers=root.headers)

    assert answer.status == 500
    assert await answer.json() == {"message": "500 Internal Server Error"}
    assert f"job {job_id} (cleanup_tags): counts.deleted: expected a non-negative integer" in (
        caplog.text
    )


# --- who may see a job ------------------------------------------------------------------------


@pytest.mark.parametrize("level", [AccessLevel.REPORTER, AccessLevel.DEVELOPER])
async def test_a_job_is_hidden_from_those_who_could_not_start_it(
    client: TestClient, factory: Factory, repo: Repo, root: UserWithToken, level: AccessLevel
) -> None:
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=root.headers)
    user = await member(factory, repo.project, level)
    outsider = await factory.user()

    for who in (user, outsider):
        seen = await client.get(f"{API}/registry/jobs/{resp.headers[HEADER]}",
                                headers=who.headers)
        assert seen.status == 404
        assert await seen.json() == NOT_FOUND


async def test_any_maintainer_of_the_project_sees_its_jobs(
    client: TestClient, factory: Factory, repo: Repo, root: UserWithToken
) -> None:
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=root.headers)
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER)
    owner = await member(factory, repo.project, AccessLevel.OWNER)
    for who in (maintainer, owner):
        assert (await get_job(client, resp.headers[HEADER], who))["requester"]["id"] == (
            root.user.id)


async def test_an_unknown_job_looks_like_a_hidden_one(
    client: TestClient, root: UserWithToken, factory: Factory
) -> None:
    resp = await client.get(f"{API}/registry/jobs/999999", headers=root.headers)
    assert resp.status == 404
    assert await resp.json() == NOT_FOUND


async def test_anonymous_callers_get_401(client: TestClient, repo: Repo,
                                         root: UserWithToken) -> None:
    made = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=root.headers)
    resp = await client.get(f"{API}/registry/jobs/{made.headers[HEADER]}")
    assert resp.status == 401
    assert await resp.json() == {"message": "401 Unauthorized"}


async def test_a_job_id_beyond_64_bits_is_400(client: TestClient, root: UserWithToken) -> None:
    resp = await client.get(f"{API}/registry/jobs/{2**64}", headers=root.headers)
    assert resp.status == 400
    assert await resp.json() == {"error": "job_id is invalid"}


async def test_gc_jobs_are_for_administrators_only(
    served: Served, catalog: Catalog, clock: SettableClock, factory: Factory, repo: Repo,
    root: UserWithToken,
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER)
    job_id = await submit_collection(catalog, served.runner, clock.now())
    await served.runner.run_until_idle()

    resp = await served.client.get(f"{API}/registry/jobs/{job_id}", headers=maintainer.headers)
    assert resp.status == 404
    assert await resp.json() == NOT_FOUND
    job = await get_job(served.client, job_id, root)
    assert (job["kind"], job["state"], job["project_id"], job["requester"]) == (
        "collect_garbage", "done", None, None)
    assert job["counts"]["bytes_freed"] == 0
    assert job["reason"].startswith("nothing was garbage")


# --- a project's jobs -------------------------------------------------------------------------


async def test_a_projects_jobs_newest_first_with_pagination_headers(
    client: TestClient, catalog: Catalog, factory: Factory, repo: Repo, root: UserWithToken,
    clock: SettableClock,
) -> None:
    other_project_repo = await make_repo(factory, await factory.project("acme/other"))
    ids = []
    for i in range(3):
        ids.append(await submit_job(
            catalog, NO_RUNNER, CleanupParams(name_regex_delete=f"v{i}"),
            requester_id=root.user.id, project_id=repo.project.id, repository_id=repo.id,
            now=clock.now() + timedelta(minutes=i),
        ))
    await submit_job(catalog, NO_RUNNER, CleanupParams(name_regex_delete="x"),
                     requester_id=root.user.id, project_id=other_project_repo.project.id,
                     repository_id=other_project_repo.id, now=clock.now())
    url = f"{API}/projects/{repo.project.id}/registry/jobs"

    resp = await client.get(f"{url}?per_page=2", headers=root.headers)

    assert resp.status == 200
    assert [j["id"] for j in await resp.json()] == [ids[2], ids[1]]
    assert (resp.headers["X-Total"], resp.headers["X-Total-Pages"],
            resp.headers["X-Next-Page"]) == ("3", "2", "2")
    assert 'rel="next"' in resp.headers["Link"]
    page_2 = await client.get(f"{url}?per_page=2&page=2", headers=root.headers)
    assert [j["id"] for j in await page_2.json()] == [ids[0]]


async def test_a_projects_jobs_filtered_by_kind_and_state(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken
) -> None:
    bulk = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=root.headers)
    deletion = await client.delete(repo.url, headers=root.headers)
    async with catalog.transaction() as tx:
        await execute(tx, "UPDATE jobs SET state = 'done' WHERE id = ?",
                      (int(bulk.headers[HEADER]),))
    url = f"{API}/projects/{repo.project.id}/registry/jobs"

    async def ids(query: str) -> list[int]:
        resp = await client.get(f"{url}?{query}", headers=root.headers)
        assert resp.status == 200, await resp.text()
        return [j["id"] for j in await resp.json()]

    assert await ids("kind=delete_repository") == [int(deletion.headers[HEADER])]
    assert await ids("kind=cleanup_tags&state=done") == [int(bulk.headers[HEADER])]
    assert await ids("state=queued") == [int(deletion.headers[HEADER])]
    assert await ids("kind=unknown") == []
    resp = await client.get(f"{url}?state=later", headers=root.headers)
    assert resp.status == 400
    assert await resp.json() == {"error": "state does not have a valid value"}


@pytest.mark.parametrize(
    ("level", "status"),
    [(AccessLevel.REPORTER, 403), (AccessLevel.DEVELOPER, 403), (AccessLevel.MAINTAINER, 200)],
)
async def test_a_projects_jobs_need_maintainer(
    client: TestClient, factory: Factory, repo: Repo, level: AccessLevel, status: int
) -> None:
    user = await member(factory, repo.project, level)
    resp = await client.get(f"{API}/projects/{repo.project.id}/registry/jobs",
                            headers=user.headers)
    assert resp.status == status
    if status == 403:
        assert await resp.json() == {"message": "403 Forbidden"}


async def test_a_hidden_projects_jobs_are_404(
    client: TestClient, factory: Factory, repo: Repo
) -> None:
    outsider = await factory.user()
    resp = await client.get(f"{API}/projects/{repo.project.id}/registry/jobs",
                            headers=outsider.headers)
    assert resp.status == 404
    assert await resp.json() == {"message": "404 Project Not Found"}
