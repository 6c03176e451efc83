"""Cleanup policies through the project API: GitLab's ``container_expiration_policy`` read in
GET /projects/:id and set with ``container_expiration_policy_attributes`` on PUT /projects/:id
(JSON object, or ``attr[key]=`` in a form or the query string); allowed values, GitLab's error
bodies, who may change it, and ``next_run_at``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.rows import Project
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from tests.factories import Factory, UserWithToken

ATTRS = "container_expiration_policy_attributes"
CREATED = "2026-06-01T12:00:00.000Z"


async def expect(resp: Any, status: int, body: Any = None) -> Any:
    data = await resp.json()
    assert resp.status == status, data
    if body is not None:
        assert data == body
    return data


@pytest.fixture
async def project(factory: Factory) -> Project:
    return await factory.project("shop/api")


@pytest.fixture
async def maintainer(factory: Factory, project: Project) -> UserWithToken:
    user = await factory.user("maya")
    await factory.member(user.user, AccessLevel.MAINTAINER, project=project)
    return user


def url(project: Project) -> str:
    return f"/api/v4/projects/{project.id}"


async def put(client: TestClient, project: Project, who: UserWithToken, **kwargs: Any) -> Any:
    return await client.put(url(project), headers=who.headers, **kwargs)


async def test_a_new_project_shows_gitlabs_default_policy(
    client: TestClient, project: Project, maintainer: UserWithToken
) -> None:
    body = await expect(await client.get(url(project), headers=maintainer.headers), 200)
    assert body["container_expiration_policy"] == {
        "cadence": "1d",
        "enabled": False,
        "keep_n": 10,
        "older_than": "90d",
        "name_regex": ".*",
        "name_regex_keep": None,
        "next_run_at": "2026-06-02T12:00:00.000Z",
    }
    keys = list(body)
    assert keys.index("container_expiration_policy") == keys.index("container_registry_enabled") + 1


async def test_put_json_sets_the_policy_and_next_run_at_from_the_cadence(
    client: TestClient, project: Project, maintainer: UserWithToken, clock: SettableClock
) -> None:
    clock.advance(timedelta(hours=3))
    policy = {
        "cadence": "7d", "enabled": True, "keep_n": 5, "older_than": "14d",
        "name_regex": "build-.*", "name_regex_keep": "v.*",
    }
    body = await expect(await put(client, project, maintainer, json={ATTRS: policy}), 200)
    assert body["container_expiration_policy"] == {
        **policy, "next_run_at": "2026-06-08T15:00:00.000Z",
    }
    again = await expect(await client.get(url(project), headers=maintainer.headers), 200)
    assert again["container_expiration_policy"] == body["container_expiration_policy"]
    assert (await expect(await client.get("/api/v4/projects", headers=maintainer.headers), 200))[
        0
    ]["container_expiration_policy"] == body["container_expiration_policy"]


async def test_put_form_and_query_use_rack_nesting(
    client: TestClient, project: Project, maintainer: UserWithToken
) -> None:
    form = {f"{ATTRS}[enabled]": "true", f"{ATTRS}[cadence]": "14d", f"{ATTRS}[keep_n]": "25"}
    body = await expect(await put(client, project, maintainer, data=form), 200)
    policy = body["container_expiration_policy"]
    assert (policy["enabled"], policy["cadence"], policy["keep_n"]) == (True, "14d", 25)

    query = {f"{ATTRS}[older_than]": "30d", f"{ATTRS}[keep_n]": ""}
    body = await expect(await put(client, project, maintainer, params=query), 200)
    policy = body["container_expiration_policy"]
    # Untouched attributes keep their values; "" is nil for an Integer (Grape).
    assert (policy["cadence"], policy["older_than"], policy["keep_n"]) == ("14d", "30d", None)


async def test_only_sent_attributes_change_and_an_unchanged_policy_keeps_next_run_at(
    client: TestClient, project: Project, maintainer: UserWithToken, clock: SettableClock
) -> None:
    await expect(await put(client, project, maintainer, json={ATTRS: {"enabled": True}}), 200)
    clock.advance(timedelta(hours=5))
    body = await expect(
        await put(client, project, maintainer, json={ATTRS: {"enabled": True}}), 200
    )
    assert body["container_expiration_policy"]["next_run_at"] == "2026-06-02T12:00:00.000Z"
    body = await expect(
        await put(client, project, maintainer, json={ATTRS: {"cadence": "1month"}}), 200
    )
    policy = body["container_expiration_policy"]
    assert policy["next_run_at"] == "2026-07-01T17:00:00.000Z"  # a month is 30 days
    assert (policy["enabled"], policy["keep_n"], policy["name_regex"]) == (True, 10, ".*")


@pytest.mark.parametrize(
    ("attrs", "errors"),
    [
        ({"cadence": "2d"}, {"cadence": ["is not included in the list"]}),
        ({"cadence": None}, {"cadence": ["can't be blank", "is not included in the list"]}),
        ({"keep_n": 3}, {"keep_n": ["is not included in the list"]}),
        ({"older_than": "1d"}, {"older_than": ["is not included in the list"]}),
        ({"older_than": "3month"}, {"older_than": ["is not included in the list"]}),
        ({"enabled": None}, {"enabled": ["is not included in the list"]}),
        ({"enabled": True, "name_regex": ""}, {"name_regex": ["can't be blank"]}),
        (
            {"enabled": True, "name_regex": "(a"},
            {"name_regex": ["not valid RE2 syntax: missing ): (a"]},
        ),
        (
            {"enabled": True, "name_regex_keep": "(?=x)"},
            {"name_regex_keep": ["not valid RE2 syntax: invalid perl operator: (?="]},
        ),
    ],
)
async def test_invalid_values_are_gitlabs_model_errors(
    client: TestClient,
    project: Project,
    maintainer: UserWithToken,
    attrs: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    expected = {"message": {f"container_expiration_policy.{k}": v for k, v in errors.items()}}
    await expect(await put(client, project, maintainer, json={ATTRS: attrs}), 400, expected)
    body = await expect(await client.get(url(project), headers=maintainer.headers), 200)
    assert body["container_expiration_policy"]["enabled"] is False  # nothing saved


async def test_a_disabled_policy_may_keep_an_invalid_regex_as_gitlab_allows(
    client: TestClient, project: Project, maintainer: UserWithToken
) -> None:
    # GitLab validates the patterns only ``if: :enabled?``.
    body = await expect(
        await put(client, project, maintainer, json={ATTRS: {"name_regex_keep": "(a"}}), 200
    )
    assert body["container_expiration_policy"]["name_regex_keep"] == "(a"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({ATTRS: {"keep_n": "five"}}, f"{ATTRS}[keep_n] is invalid"),
        ({ATTRS: {"enabled": "maybe"}}, f"{ATTRS}[enabled] is invalid"),
        ({ATTRS: {"keep_n": "x", "cadence": []}}, f"{ATTRS}[cadence] is invalid, "
                                                   f"{ATTRS}[keep_n] is invalid"),
        ({ATTRS: "1d"}, f"{ATTRS} is invalid"),
        (
            {},
            f"{ATTRS}, container_registry_access_level, description are missing,"
            " at least one parameter must be provided",
        ),
    ],
)
async def test_coercion_errors_are_grapes_with_bracketed_names(
    client: TestClient, project: Project, maintainer: UserWithToken, payload: Any, error: str
) -> None:
    await expect(await put(client, project, maintainer, json=payload), 400, {"error": error})


async def test_form_coercion_errors_name_the_nested_attribute(
    client: TestClient, project: Project, maintainer: UserWithToken
) -> None:
    await expect(
        await put(client, project, maintainer, data={f"{ATTRS}[keep_n]": "ten"}),
        400,
        {"error": f"{ATTRS}[keep_n] is invalid"},
    )


async def test_unknown_attributes_are_accepted_and_ignored(
    client: TestClient, project: Project, maintainer: UserWithToken
) -> None:
    body = await expect(
        await put(client, project, maintainer, json={"merge_method": "ff", "description": "d"}),
        200,
    )
    assert body["description"] == "d"
    assert body["name"] == project.name


@pytest.mark.parametrize(
    ("level", "status"),
    [
        (AccessLevel.GUEST, 403),
        (AccessLevel.REPORTER, 403),
        (AccessLevel.DEVELOPER, 403),
        (AccessLevel.MAINTAINER, 200),
        (AccessLevel.OWNER, 200),
    ],
)
async def test_only_maintainers_and_owners_change_the_policy(
    client: TestClient, factory: Factory, project: Project, level: AccessLevel, status: int
) -> None:
    user = await factory.user()
    await factory.member(user.user, level, project=project)
    resp = await put(client, project, user, json={ATTRS: {"enabled": True}})
    await expect(resp, status, {"message": "403 Forbidden"} if status == 403 else None)


async def test_admins_change_it_anonymous_is_401_and_hidden_projects_404(
    client: TestClient, factory: Factory, project: Project
) -> None:
    admin = await factory.user(admin=True)
    await expect(await put(client, project, admin, json={ATTRS: {"enabled": True}}), 200)
    outsider = await factory.user()
    await expect(
        await put(client, project, outsider, json={ATTRS: {"enabled": True}}),
        404,
        {"message": "404 Project Not Found"},
    )
    await expect(
        await client.put(url(project), json={ATTRS: {"enabled": True}}),
        401,
        {"message": "401 Unauthorized"},
    )


async def test_a_read_api_token_cannot_change_the_policy(
    client: TestClient, factory: Factory, project: Project, maintainer: UserWithToken
) -> None:
    token = await factory.token(maintainer.user, scopes=("read_api",))
    resp = await client.put(
        url(project), headers={"PRIVATE-TOKEN": token}, json={ATTRS: {"enabled": True}}
    )
    assert resp.status == 403
