"""The bulk delete's preview (issue 6 point 1): ``dry_run=true`` on E6 answers 200 at once with
what would be deleted, why every other tag stays, and warnings — taking no lease and recording
no job. Validation and permissions are the real call's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from registry_service.settings import Settings
from tests.api.gitlab.conftest import Repo, add_tags, jobs_of, make_repo, member
from tests.factories import Factory, UserWithToken
from tests.jobs.tagsets import SeedTag, seed_tags, tag_names

MISSING = "name_regex, name_regex_delete are missing, at least one parameter must be provided"


@pytest.fixture
async def repo(factory: Factory) -> Repo:
    return await make_repo(factory, await factory.project("acme/web"), "app")


async def preview(client: TestClient, repo: Repo, user: UserWithToken, query: str) -> Any:
    resp = await client.delete(f"{repo.url}/tags?dry_run=true&{query}", headers=user.headers)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/json"
    return await resp.json()


def warning_codes(body: Any) -> list[tuple[str, str | None]]:
    return [(w["code"], w["parameter"]) for w in body["warnings"]]


# --- the plan ---------------------------------------------------------------------------------


async def test_dry_run_lists_what_would_go_and_why_the_rest_stays(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    # Created an hour apart, v1 the oldest; keep_n keeps the two newest candidates.
    await add_tags(catalog, repo, ["v1", "v2", "v3", "v4", "keep-me", "other", "latest"], clock)

    body = await preview(client, repo, root, "name_regex_delete=v.%2A|keep.%2A"
                         "&name_regex_keep=keep-me&keep_n=2&older_than=1h")

    assert body["dry_run"] is True
    assert body["would_delete"] == ["v1", "v2"]
    assert body["kept"] == [
        {"name": "keep-me", "reason": "name_regex_keep"},
        {"name": "latest", "reason": "latest"},
        {"name": "other", "reason": "not_matched"},
        {"name": "v3", "reason": "keep_n"},
        {"name": "v4", "reason": "keep_n"},
    ]
    assert body["counts"] == {
        "tags": 7, "candidates": 4, "would_delete": 2, "kept": 5, "protected": 0
    }
    assert body["kept_by_reason"] == {
        "keep_n": 2, "latest": 1, "name_regex_keep": 1, "not_matched": 1
    }
    assert body["params"] == {
        "name_regex_delete": "v.*|keep.*", "name_regex": None, "name_regex_keep": "keep-me",
        "keep_n": 2, "older_than": "1h", "anchoring": "gitlab",
    }
    assert body["planned_at"] == "2026-06-01T12:00:00.000Z"
    assert body["warnings"] == []


async def test_dry_run_reports_undated_and_newer_tags_kept_by_older_than(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    now = clock.now()
    await seed_tags(catalog, repo.repository, [
        SeedTag("old", now - timedelta(days=3), now),
        SeedTag("new", now - timedelta(hours=1), now),
        SeedTag("undated", None, now),
    ])

    body = await preview(client, repo, root, "name_regex_delete=.%2A&older_than=2d")

    assert body["would_delete"] == ["old"]
    assert body["kept"] == [
        {"name": "new", "reason": "older_than"},
        {"name": "undated", "reason": "undated"},
    ]


async def test_dry_run_changes_nothing_and_takes_no_lease(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["a", "b"], clock)
    for _ in range(3):
        body = await preview(client, repo, root, "name_regex_delete=.%2A")
        assert body["would_delete"] == ["a", "b"]
    assert await jobs_of(catalog) == []
    assert await tag_names(catalog, repo.id) == {"a", "b"}

    # The once-an-hour lease is still free for the real request.
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*", headers=root.headers)
    assert resp.status == 202
    assert len(await jobs_of(catalog)) == 1


@pytest.mark.parametrize("false", ["false", "0", "no"])
async def test_dry_run_false_is_the_real_request(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken, false: str
) -> None:
    resp = await client.delete(f"{repo.url}/tags?name_regex_delete=.*&dry_run={false}",
                               headers=root.headers)
    assert resp.status == 202
    assert await resp.json() == 202
    (job,) = await jobs_of(catalog)
    assert "dry_run" not in job["params"]


async def test_dry_run_from_a_json_body_and_a_form(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["a", "b"], clock)
    resp = await client.delete(f"{repo.url}/tags", headers=root.headers,
                               json={"name_regex_delete": "a", "dry_run": True})
    assert resp.status == 200
    assert (await resp.json())["would_delete"] == ["a"]
    resp = await client.delete(f"{repo.url}/tags", headers=root.headers,
                               data={"name_regex_delete": "b", "dry_run": "true"})
    assert resp.status == 200
    assert (await resp.json())["would_delete"] == ["b"]
    assert await jobs_of(catalog) == []


async def test_dry_run_uses_the_configured_anchoring(
    aiohttp_client: Any, settings: Settings, catalog: Catalog, clock: SettableClock,
    repo: Repo, root: UserWithToken,
) -> None:
    await add_tags(catalog, repo, ["a", "abc", "xb"], clock)
    full = settings.replace("cleanup", regex_anchoring="full")
    client = await aiohttp_client(create_app(full, catalog=catalog, clock=clock))

    body = await preview(client, repo, root, "name_regex_delete=a|b")

    assert body["would_delete"] == ["a"]
    assert body["params"]["anchoring"] == "full"


# --- validation and permissions: the real call's ---------------------------------------------


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("", MISSING),
        ("name_regex_delete=(", "name_regex_delete is an invalid regexp: missing ): ("),
        ("name_regex_delete=.*&keep_n=-1", "keep_n is invalid"),
        ("name_regex_delete=.*&older_than=0", "older_than is invalid"),
        ("keep_n=x&older_than=soon", f"{MISSING}, keep_n is invalid, older_than is invalid"),
        ("name_regex_delete=.*&dry_run=maybe", "dry_run is invalid"),
        ("keep_n=x&dry_run=maybe", f"{MISSING}, keep_n is invalid, dry_run is invalid"),
    ],
)
async def test_dry_run_validation_is_the_real_calls(
    client: TestClient, catalog: Catalog, repo: Repo, root: UserWithToken, query: str,
    error: str,
) -> None:
    resp = await client.delete(f"{repo.url}/tags?dry_run=true&{query}", headers=root.headers)
    assert resp.status == 400
    assert await resp.json() == {"error": error}
    assert await jobs_of(catalog) == []


@pytest.mark.parametrize("level", [AccessLevel.REPORTER, AccessLevel.DEVELOPER])
async def test_dry_run_needs_maintainer(
    client: TestClient, factory: Factory, repo: Repo, level: AccessLevel
) -> None:
    user = await member(factory, repo.project, level)
    resp = await client.delete(f"{repo.url}/tags?dry_run=true&name_regex_delete=.*",
                               headers=user.headers)
    assert resp.status == 403
    assert await resp.json() == {"message": "403 Forbidden"}


async def test_dry_run_for_a_maintainer(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock, repo: Repo
) -> None:
    await add_tags(catalog, repo, ["a"], clock)
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER)
    body = await preview(client, repo, maintainer, "name_regex_delete=.%2A")
    assert body["would_delete"] == ["a"]


async def test_dry_run_of_another_projects_repository_is_404(
    client: TestClient, factory: Factory, root: UserWithToken, repo: Repo
) -> None:
    other = await factory.project("acme/other")
    url = f"/api/v4/projects/{other.id}/registry/repositories/{repo.id}/tags"
    resp = await client.delete(f"{url}?dry_run=true&name_regex_delete=.*", headers=root.headers)
    assert resp.status == 404
    assert await resp.json() == {"message": "404 Not found"}


# --- warnings ---------------------------------------------------------------------------------


async def test_warns_where_gitlab_and_full_anchoring_differ_naming_the_tags(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["a", "b", "abc", "xb", "xbx", "v1"], clock)

    body = await preview(client, repo, root, "name_regex_delete=a|b")

    (warning,) = body["warnings"]
    assert warning["code"] == "anchoring_differs"
    assert warning["parameter"] == "name_regex_delete"
    assert warning["tags"] == ["abc", "xb"]
    assert warning["tags_total"] == 2
    assert "\\Aa|b\\z" in warning["message"] and "\\A(?:a|b)\\z" in warning["message"]
    assert "'gitlab'" in warning["message"]
    # GitLab's anchoring is what runs by default: abc and xb go.
    assert body["would_delete"] == ["a", "abc", "b", "xb"]


async def test_anchoring_warning_covers_the_keep_regex_and_caps_the_list(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    names = [f"keep{i:02d}" for i in range(25)]
    await add_tags(catalog, repo, [*names, "x"], clock)

    body = await preview(client, repo, root, "name_regex_delete=.%2A&name_regex_keep=keep|x")

    (warning,) = [w for w in body["warnings"] if w["code"] == "anchoring_differs"]
    assert warning["parameter"] == "name_regex_keep"
    assert warning["tags"] == names[:20]
    assert warning["tags_total"] == 25


async def test_no_anchoring_warning_when_both_agree_on_every_tag(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["a", "b"], clock)
    body = await preview(client, repo, root, "name_regex_delete=a|b")
    assert body["warnings"] == []


async def test_warns_when_a_delete_or_keep_regex_matches_nothing(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["v1", "v2"], clock)

    body = await preview(client, repo, root, "name_regex_delete=release-.%2A&name_regex_keep=rc")

    assert warning_codes(body) == [
        ("regex_matches_nothing", "name_regex_delete"),
        ("regex_matches_nothing", "name_regex_keep"),
    ]
    assert body["would_delete"] == []
    assert "deletes nothing" in body["warnings"][0]["message"]


async def test_warns_about_the_deprecated_name_regex_too(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["v1"], clock)
    body = await preview(client, repo, root, "name_regex=nomatch")
    assert warning_codes(body) == [("regex_matches_nothing", "name_regex")]


async def test_warns_when_name_regex_is_ignored(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["v1"], clock)
    body = await preview(client, repo, root, "name_regex_delete=v1&name_regex=v.%2A")
    assert warning_codes(body) == [("name_regex_ignored", "name_regex")]


async def test_warns_when_keep_n_is_larger_than_the_candidates(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["v1", "v2", "v3", "other"], clock)

    body = await preview(client, repo, root, "name_regex_delete=v.%2A&keep_n=5")

    assert warning_codes(body) == [("keep_n_exceeds_candidates", "keep_n")]
    assert "keep_n is 5 but only 3 tag(s)" in body["warnings"][0]["message"]
    assert body["would_delete"] == []


async def test_keep_n_equal_to_the_candidates_is_no_warning(
    client: TestClient, catalog: Catalog, clock: SettableClock, repo: Repo, root: UserWithToken
) -> None:
    await add_tags(catalog, repo, ["v1", "v2", "v3"], clock)
    body = await preview(client, repo, root, "name_regex_delete=v.%2A&keep_n=3")
    assert body["warnings"] == []
