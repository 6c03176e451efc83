"""Bulk tag delete over /api/v4 (gitlab-api.md E6, §2, §3, Decisions 1, 2, 6): validation with
GitLab's exact 400 bodies, the Maintainer check, the once-per-interval lease, parameters from
query, form or JSON body, the job intent it records — and the job's effect when it runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from jobs.context import JobContext
from jobs.runner import InProcessRunner
from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.blobs import Storage
from registry_service.services.permissions import AccessLevel
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.api.gitlab.conftest import Repo, add_tags, jobs_of, make_repo, member
from tests.factories import Factory, UserWithToken
from tests.jobs.tagsets import SeedTag, seed_tags, tag_names

MISSING = "name_regex, name_regex_delete are missing, at least one parameter must be provided"
THROTTLED = {
    "message": "This request has already been made. You can run this at most once an hour for "
    "a given container repository"
}
NO_PARAMS = {
    "name_regex_delete": None,
    "name_regex": None,
    "name_regex_keep": None,
    "keep_n": None,
    "older_than": None,
    "anchoring": "gitlab",
}


@pytest.fixture
async def repo(factory: Factory) -> Repo:
    return await make_repo(factory, await factory.project("acme/web"), "app")


# --- success and the recorded intent ------------------------------------------------------


async def test_bulk_delete_records_a_cleanup_job(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken
) -> None:
    resp = await client.delete(
        f"{repo.url}/tags?name_regex_delete=v.%2A&name_regex_keep=v1&keep_n=3&older_than=2d"
        "&unknown=dropped",
        headers=root.headers,
    )

    assert resp.status == 202
    assert resp.content_type == "application/json"
    assert await resp.text() == "202"
    (job,) = await jobs_of(catalog)
    assert job["kind"] == "cleanup_tags"
    assert job["state"] == "queued"
    assert (job["repository_id"], job["project_id"], job["requester_id"]) == (
        repo.id, repo.project.id, root.user.id)
    assert job["params"] == {
        **NO_PARAMS,
        "name_regex_delete": "v.*",
        "name_regex_keep": "v1",
        "keep_n": 3,
        "older_than": "2d",
    }


async def test_deprecated_name_regex_alone_is_enough(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken
) -> None:
    resp = await client.delete(f"{repo.url}/tags?name_regex=.*", headers=root.headers)
    assert resp.status == 202
    (job,) = await jobs_of(catalog)
    assert job["params"] == {**NO_PARAMS, "name_regex": ".*"}


async def test_form_body_parameters(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken
) -> None:
    resp = await client.delete(
        f"{repo.url}/tags",
        data={"name_regex_delete": "[0-9a-z]{40}", "keep_n": "5", "older_than": "1month"},
        headers=root.headers,
    )
    assert resp.status == 202, await resp.text()
    (job,) = await jobs_of(catalog)
    assert job["params"] == {
        **NO_PARAMS, "name_regex_delete": "[0-9a-z]{40}", "keep_n": 5, "older_than": "1month"
    }


async def test_json_body_parameters(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken
) -> None:
    resp = await client.delete(
        f"{repo.url}/tags",
        json={"name_regex_delete": ".*", "keep_n": 0, "name_regex_keep": "^keep"},
        headers=root.headers,
    )
    assert resp.status == 202, await resp.text()
    (job,) = await jobs_of(catalog)
    assert job["params"] == {
        **NO_PARAMS, "name_regex_delete": ".*", "keep_n": 0, "name_regex_keep": "^keep"
    }


async def test_body_wins_over_query_and_path_over_body(
    client: TestClient, catalog: Catalog, factory: Factory, repo: Repo, root: UserWithToken
) -> None:
    other = await make_repo(factory, await factory.project("acme/other"))
    resp = await client.delete(
        f"{repo.url}/tags?name_regex_delete=from-query&keep_n=1&older_than=1h",
        json={"name_regex_delete": "from-body", "keep_n": 2, "repository_id": other.id},
        headers=root.headers,
    )
    assert resp.status == 202, await resp.text()
    (job,) = await jobs_of(catalog)
    assert job["repository_id"] == repo.id
    assert job["params"] == {
        **NO_PARAMS, "name_regex_delete": "from-body", "keep_n": 2, "older_than": "1h"
    }


async def test_anchoring_setting_is_recorded_for_the_job(
    aiohttp_client: Any, settings: Settings, catalog: Catalog, clock: SettableClock,
    repo: Repo, root: UserWithToken,
) -> None:
    full = settings.replace("cleanup", regex_anchoring="full")
    client = await aiohttp_client(create_app(full, catalog=catalog, clock=clock))
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=a|b", headers=root.headers)
    assert resp.status == 202
    (job,) = await jobs_of(catalog)
    assert job["params"]["anchoring"] == "full"


# --- validation: GitLab's exact 400 bodies ------------------------------------------------


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("", MISSING),
        ("name_regex_keep=.*&keep_n=1&older_than=1d", MISSING),
        ("name_regex_delete=(", "name_regex_delete is an invalid regexp: missing ): ("),
        ("name_regex=[a-", "name_regex is an invalid regexp: missing ]: [a-"),
        ("name_regex_delete=.*&name_regex_keep=a(%3F%3Db)",
         "name_regex_keep is an invalid regexp: invalid perl operator: (?="),
        ("name_regex_delete=.*&keep_n=x", "keep_n is invalid"),
        ("name_regex_delete=.*&keep_n=1.5", "keep_n is invalid"),
        ("name_regex_delete=.*&keep_n=-1", "keep_n is invalid"),
        # Decision 2: what GitLab would accept and then ignore is refused up front.
        ("name_regex_delete=.*&older_than=fortnight", "older_than is invalid"),
        ("name_regex_delete=.*&older_than=0", "older_than is invalid"),
        ("name_regex_delete=.*&older_than=", "older_than is invalid"),
        # Several errors in Grape's declaration order, joined with ", ".
        ("name_regex_delete=(&keep_n=x",
         "name_regex_delete is an invalid regexp: missing ): (, keep_n is invalid"),
        ("keep_n=x&older_than=soon", f"{MISSING}, keep_n is invalid, older_than is invalid"),
    ],
)
async def test_invalid_parameters_are_400_with_gitlabs_body(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken, query: str,
    error: str,
) -> None:
    resp = await client.delete(f"{repo.url}/tags?{query}", headers=root.headers)
    assert resp.status == 400
    assert await resp.json() == {"error": error}
    assert await jobs_of(catalog) == []


async def test_invalid_regex_in_a_json_body(
    client: TestClient, repo: Repo, root: UserWithToken
) -> None:
    resp = await client.delete(f"{repo.url}/tags", json={"name_regex_delete": "*"},
                               headers=root.headers)
    assert resp.status == 400
    assert await resp.json() == {
        "error": "name_regex_delete is an invalid regexp: no argument for repetition operator: *"
    }


# --- who may, and the order of checks -----------------------------------------------------


@pytest.mark.parametrize("level", [AccessLevel.REPORTER, AccessLevel.DEVELOPER])
async def test_bulk_delete_needs_maintainer(
    client: TestClient, factory: Factory, catalog: Catalog, repo: Repo, level: AccessLevel
) -> None:
    user = await member(factory, repo.project, level)
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=user.headers)
    assert resp.status == 403
    assert await resp.json() == {"message": "403 Forbidden"}
    assert await jobs_of(catalog) == []


async def test_validation_comes_before_the_maintainer_check(
    client: TestClient, factory: Factory, repo: Repo
) -> None:
    developer = await member(factory, repo.project, AccessLevel.DEVELOPER)
    resp = await client.delete(f"{repo.url}/tags", headers=developer.headers)
    assert resp.status == 400
    assert await resp.json() == {"error": MISSING}


async def test_validation_comes_before_the_repository_lookup(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/empty")
    url = f"/api/v4/projects/{project.id}/registry/repositories/999999/tags"
    resp = await client.delete(url, headers=root.headers)
    assert resp.status == 400
    resp = await client.delete(f"{url}?name_regex_delete=.*", headers=root.headers)
    assert resp.status == 404
    assert await resp.json() == {"message": "404 Not found"}


# --- the once-per-interval lease ----------------------------------------------------------


async def test_second_request_within_the_hour_is_throttled(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo,
    root: UserWithToken,
) -> None:
    url = f"{repo.url}/tags?name_regex_delete=.*"
    assert (await client.delete(url, headers=root.headers)).status == 202

    again = await client.delete(url, headers=root.headers)
    assert again.status == 400
    assert await again.json() == THROTTLED
    assert "Retry-After" not in again.headers

    clock.advance(timedelta(seconds=3599))
    assert (await client.delete(url, headers=root.headers)).status == 400
    clock.advance(timedelta(seconds=1))
    assert (await client.delete(url, headers=root.headers)).status == 202
    assert len(await jobs_of(catalog, "cleanup_tags")) == 2


async def test_the_lease_is_per_repository(
    client: TestClient, factory: Factory, repo: Repo, root: UserWithToken
) -> None:
    other = await make_repo(factory, repo.project, "other")
    assert (await client.delete(f"{repo.url}/tags?name_regex=.*",
                                headers=root.headers)).status == 202
    assert (await client.delete(f"{other.url}/tags?name_regex=.*",
                                headers=root.headers)).status == 202


async def test_refused_requests_do_not_use_up_the_interval(
    client: TestClient, factory: Factory, repo: Repo, root: UserWithToken
) -> None:
    developer = await member(factory, repo.project, AccessLevel.DEVELOPER)
    assert (await client.delete(f"{repo.url}/tags", headers=root.headers)).status == 400
    assert (await client.delete(f"{repo.url}/tags?name_regex_delete=(",
                                headers=root.headers)).status == 400
    assert (await client.delete(f"{repo.url}/tags?name_regex_delete=.*",
                                headers=developer.headers)).status == 403
    assert (await client.delete(f"{repo.url}/tags?name_regex_delete=.*",
                                headers=root.headers)).status == 202


async def test_interval_zero_turns_the_limit_off(
    aiohttp_client: Any, settings: Settings, catalog: Catalog, clock: SettableClock,
    repo: Repo, root: UserWithToken,
) -> None:
    unlimited = settings.replace("cleanup", bulk_delete_interval_seconds=0)
    client = await aiohttp_client(create_app(unlimited, catalog=catalog, clock=clock))
    for _ in range(3):
        resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=root.headers)
        assert resp.status == 202
    assert len(await jobs_of(catalog)) == 3


async def test_a_custom_interval_is_the_lease_ttl(
    aiohttp_client: Any, settings: Settings, catalog: Catalog, clock: SettableClock,
    repo: Repo, root: UserWithToken,
) -> None:
    short = settings.replace("cleanup", bulk_delete_interval_seconds=60)
    client = await aiohttp_client(create_app(short, catalog=catalog, clock=clock))
    url = f"{repo.url}/tags?name_regex_delete=.*"
    assert (await client.delete(url, headers=root.headers)).status == 202
    assert (await client.delete(url, headers=root.headers)).status == 400
    clock.advance(timedelta(seconds=60))
    assert (await client.delete(url, headers=root.headers)).status == 202


# --- the job, run ---------------------------------------------------------------------------


async def test_the_recorded_job_deletes_what_the_rules_say(
    aiohttp_client: Any, settings: Settings, catalog: Catalog, clock: SettableClock,
    factory: Factory, repo: Repo, root: UserWithToken,
) -> None:
    store = FilesystemBlobStore(settings.data_path)
    runner = InProcessRunner(JobContext(catalog, Storage.on(store), clock, settings))
    client = await aiohttp_client(
        create_app(settings, catalog=catalog, clock=clock, storage=Storage.on(store),
                   queue=runner)
    )
    now = clock.now()
    hour = timedelta(hours=1)
    await seed_tags(
        catalog,
        repo.repository,
        [
            *(SeedTag(f"build-{n}", now - (n + 1) * hour, now) for n in range(6)),
            SeedTag("build-keep", now - 30 * hour, now),
            SeedTag("latest", now - 50 * hour, now),
            SeedTag("undated", None, now),
            SeedTag("release-1", now - 40 * hour, now),
        ],
    )

    resp = await client.delete(
        f"{repo.url}/tags",
        data={"name_regex_delete": "build-.*|undated", "name_regex_keep": "build-keep",
              "keep_n": "2", "older_than": "3h"},
        headers=root.headers,
    )
    assert resp.status == 202
    await runner.run_until_idle()

    # "undated" is a candidate through the last branch of GitLab's one-sided anchoring
    # ("\Abuild-.*|undated\z") and, without a date, ranks newest: keep_n=2 keeps it and
    # build-0. build-1 (2h) and build-2 (exactly 3h) are not older than 3h; build-3..5 go.
    # build-keep matches the keep regex, release-1 no delete regex, latest is never deleted.
    assert await tag_names(catalog, repo.id) == {
        "build-0", "build-1", "build-2", "build-keep", "latest", "undated", "release-1",
    }
    (job,) = await jobs_of(catalog)
    assert job["state"] == "done"
    await store.aclose()


async def test_bulk_delete_then_tags_listing_reflects_it(
    aiohttp_client: Any, settings: Settings, catalog: Catalog, clock: SettableClock,
    repo: Repo, root: UserWithToken,
) -> None:
    store = FilesystemBlobStore(settings.data_path)
    runner = InProcessRunner(JobContext(catalog, Storage.on(store), clock, settings))
    client = await aiohttp_client(
        create_app(settings, catalog=catalog, clock=clock, storage=Storage.on(store),
                   queue=runner)
    )
    await add_tags(catalog, repo, ["a1", "a2", "b1", "latest"], clock)
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=a.*", headers=root.headers)
    assert resp.status == 202
    await runner.run_until_idle()
    listed = await client.get(f"{repo.url}/tags", headers=root.headers)
    assert [t["name"] for t in await listed.json()] == ["b1", "latest"]
    await store.aclose()
