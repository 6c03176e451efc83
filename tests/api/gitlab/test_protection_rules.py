"""Managing protection rules over /api/v4 (issue 14, points 3-4): tag rules (protected and
immutable) and repository rules — codes, bodies, limits and who may manage them."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.rows import Project
from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import API, member
from tests.factories import Factory, UserWithToken


def tag_rules(project: Project) -> str:
    return f"{API}/projects/{project.id}/registry/protection/tag/rules"


def repository_rules(project: Project) -> str:
    return f"{API}/projects/{project.id}/registry/protection/repository/rules"


PROTECTED = {
    "tag_name_pattern": "^v[0-9]+",
    "minimum_access_level_for_push": "maintainer",
    "minimum_access_level_for_delete": "owner",
}


@pytest.fixture
async def project(factory: Factory) -> Project:
    return await factory.project("acme/web")


@pytest.fixture
async def maintainer(factory: Factory, project: Project) -> UserWithToken:
    return await member(factory, project, AccessLevel.MAINTAINER, username="mia")


@pytest.fixture
async def owner(factory: Factory, project: Project) -> UserWithToken:
    """Immutable rules are the Owners' to make and remove."""
    return await member(factory, project, AccessLevel.OWNER, username="oscar")


async def test_tag_rules_are_created_listed_changed_and_deleted(
    client: TestClient, project: Project, owner: UserWithToken
) -> None:
    h = owner.headers
    created = await client.post(tag_rules(project), json=PROTECTED, headers=h)
    assert created.status == 201
    rule = await created.json()
    assert rule == {
        "id": rule["id"],
        "project_id": project.id,
        "tag_name_pattern": "^v[0-9]+",
        "minimum_access_level_for_push": "maintainer",
        "minimum_access_level_for_delete": "owner",
        "immutable": False,
    }
    frozen = await client.post(
        tag_rules(project), json={"tag_name_pattern": "^v[0-9]+", "immutable": True}, headers=h
    )
    assert frozen.status == 201
    assert (await frozen.json())["minimum_access_level_for_push"] is None
    listed = await client.get(tag_rules(project), headers=h)
    assert [r["immutable"] for r in await listed.json()] == [False, True]

    changed = await client.patch(
        f"{tag_rules(project)}/{rule['id']}",
        json={"minimum_access_level_for_push": "admin"},
        headers=h,
    )
    assert changed.status == 200
    assert (await changed.json())["minimum_access_level_for_push"] == "admin"
    assert (await changed.json())["minimum_access_level_for_delete"] == "owner"

    gone = await client.delete(f"{tag_rules(project)}/{rule['id']}", headers=h)
    assert gone.status == 204
    assert await gone.read() == b""
    again = await client.delete(f"{tag_rules(project)}/{rule['id']}", headers=h)
    assert again.status == 404
    assert await again.json() == {"message": "404 Not found"}


async def test_an_immutable_rule_is_never_updated(
    client: TestClient, project: Project, owner: UserWithToken
) -> None:
    frozen = await client.post(
        tag_rules(project), json={"tag_name_pattern": "^v", "immutable": True},
        headers=owner.headers,
    )
    rule_id = (await frozen.json())["id"]
    resp = await client.patch(
        f"{tag_rules(project)}/{rule_id}", json={"tag_name_pattern": "^w"},
        headers=owner.headers,
    )
    assert resp.status == 422
    assert await resp.json() == {"message": {"error": (
        "Immutable tag rules cannot be updated; delete the rule and create another"
    )}}
    mutable = await client.post(tag_rules(project), json=PROTECTED, headers=owner.headers)
    made_immutable = await client.patch(
        f"{tag_rules(project)}/{(await mutable.json())['id']}", json={"immutable": True},
        headers=owner.headers,
    )
    assert made_immutable.status == 422


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "tag_name_pattern is missing"),
        ({"tag_name_pattern": "x", "minimum_access_level_for_push": "maintainer"},
         "minimum_access_level_for_delete is missing"),
        ({**PROTECTED, "minimum_access_level_for_push": "developer"},
         "minimum_access_level_for_push does not have a valid value"),
        ({"tag_name_pattern": "x", "immutable": True, "minimum_access_level_for_push": "owner"},
         "immutable, minimum_access_level_for_push are mutually exclusive"),
    ],
)
async def test_bad_tag_rule_parameters_are_400(
    client: TestClient, project: Project, maintainer: UserWithToken, body: dict[str, Any],
    error: str,
) -> None:
    resp = await client.post(tag_rules(project), json=body, headers=maintainer.headers)
    assert resp.status == 400
    assert await resp.json() == {"error": error}


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("", "Tag name pattern can't be blank"),
        ("v" * 101, "Tag name pattern is too long (maximum is 100 characters)"),
        ("v(", "Tag name pattern not valid RE2 syntax: missing ): v("),
        # Lookahead is Perl's, not RE2's: refused rather than run by another engine.
        ("v(?=1)", "Tag name pattern not valid RE2 syntax: invalid perl operator: (?="),
    ],
)
async def test_a_tag_pattern_rule_the_project_cannot_have_is_422(
    client: TestClient, project: Project, maintainer: UserWithToken, pattern: str, error: str
) -> None:
    resp = await client.post(
        tag_rules(project), json={**PROTECTED, "tag_name_pattern": pattern},
        headers=maintainer.headers,
    )
    assert resp.status == 422
    # GitLab's create answers the model's messages as a list.
    assert await resp.json() == {"message": [error]}
    rule = await client.post(tag_rules(project), json=PROTECTED, headers=maintainer.headers)
    changed = await client.patch(
        f"{tag_rules(project)}/{(await rule.json())['id']}", json={"tag_name_pattern": pattern},
        headers=maintainer.headers,
    )
    assert changed.status == 422
    # ... and its update the service's message under "error".
    assert await changed.json() == {"message": {"error": error}}


async def test_a_protected_rule_keeps_both_levels(
    client: TestClient, project: Project, maintainer: UserWithToken
) -> None:
    rule = await client.post(tag_rules(project), json=PROTECTED, headers=maintainer.headers)
    resp = await client.patch(
        f"{tag_rules(project)}/{(await rule.json())['id']}",
        json={"minimum_access_level_for_push": ""}, headers=maintainer.headers,
    )
    assert resp.status == 422
    listed = await client.get(tag_rules(project), headers=maintainer.headers)
    assert (await listed.json())[0]["minimum_access_level_for_push"] == "maintainer"


async def test_at_most_five_tag_rules_and_no_pattern_twice(
    client: TestClient, project: Project, owner: UserWithToken
) -> None:
    h = owner.headers
    assert (await client.post(tag_rules(project), json=PROTECTED, headers=h)).status == 201
    taken = await client.post(tag_rules(project), json=PROTECTED, headers=h)
    assert taken.status == 422
    assert await taken.json() == {"message": ["Tag name pattern has already been taken"]}
    # The same pattern may be immutable as well (both kinds are checked on a push).
    same = {"tag_name_pattern": PROTECTED["tag_name_pattern"], "immutable": True}
    assert (await client.post(tag_rules(project), json=same, headers=h)).status == 201
    for i in range(3):
        made = await client.post(
            tag_rules(project), json={**PROTECTED, "tag_name_pattern": f"r{i}"}, headers=h
        )
        assert made.status == 201
    sixth = await client.post(
        tag_rules(project), json={**PROTECTED, "tag_name_pattern": "r9"}, headers=h
    )
    assert sixth.status == 422
    assert await sixth.json() == {
        "message": "Maximum number of protection rules have been reached."
    }


@pytest.mark.parametrize("kind", ["tag", "repository"])
@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("guest", 403), ("developer", 403), ("maintainer", 200),
     ("owner", 200), ("admin", 200), ("outsider", 404)],
)
async def test_only_maintainers_and_up_manage_rules(
    client: TestClient, factory: Factory, project: Project, root: UserWithToken, kind: str,
    who: str, status: int,
) -> None:
    levels = {"guest": AccessLevel.GUEST, "developer": AccessLevel.DEVELOPER,
              "maintainer": AccessLevel.MAINTAINER, "owner": AccessLevel.OWNER}
    if who == "anonymous":
        headers: dict[str, str] = {}
    elif who == "admin":
        headers = root.headers
    elif who == "outsider":
        headers = (await factory.user(username="olga")).headers
    else:
        headers = (await member(factory, project, levels[who], username=who)).headers
    url = tag_rules(project) if kind == "tag" else repository_rules(project)
    body = PROTECTED if kind == "tag" else {
        "repository_path_pattern": "acme/web/*", "minimum_access_level_for_push": "owner",
    }
    listed = await client.get(url, headers=headers)
    assert listed.status == status
    created = await client.post(url, json=body, headers=headers)
    assert created.status == (201 if status == 200 else status)


async def test_repository_rules_are_created_listed_changed_and_deleted(
    client: TestClient, project: Project, maintainer: UserWithToken
) -> None:
    h = maintainer.headers
    created = await client.post(
        repository_rules(project),
        json={"repository_path_pattern": "acme/web/release*",
              "minimum_access_level_for_push": "owner"},
        headers=h,
    )
    assert created.status == 201
    rule = await created.json()
    assert rule == {
        "id": rule["id"],
        "project_id": project.id,
        "repository_path_pattern": "acme/web/release*",
        "minimum_access_level_for_push": "owner",
        "minimum_access_level_for_delete": None,
    }
    url = f"{repository_rules(project)}/{rule['id']}"
    changed = await client.patch(
        url, json={"minimum_access_level_for_delete": "admin"}, headers=h
    )
    assert (await changed.json())["minimum_access_level_for_delete"] == "admin"
    assert (await changed.json())["minimum_access_level_for_push"] == "owner"
    cleared = await client.patch(url, json={"minimum_access_level_for_push": None}, headers=h)
    assert (await cleared.json())["minimum_access_level_for_push"] is None
    nothing_left = await client.patch(
        url, json={"minimum_access_level_for_delete": None}, headers=h
    )
    assert nothing_left.status == 422
    assert await nothing_left.json() == {"message": {"error": (
        "A rule must have at least a minimum access role for push or delete."
    )}}
    listed = await client.get(repository_rules(project), headers=h)
    assert [r["id"] for r in await listed.json()] == [rule["id"]]
    assert (await client.delete(url, headers=h)).status == 204
    assert (await client.delete(url, headers=h)).status == 404


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        ({"repository_path_pattern": "other/web", "minimum_access_level_for_push": "owner"},
         422, {"message": {"error": (
             "Repository path pattern should start with the project's full path")}}),
        ({"repository_path_pattern": "acme/web"}, 400, {"error": (
            "minimum_access_level_for_push, minimum_access_level_for_delete are missing, at"
            " least one parameter must be provided")}),
        ({"minimum_access_level_for_push": "owner"}, 400,
         {"error": "repository_path_pattern is missing"}),
        ({"repository_path_pattern": "acme/web", "minimum_access_level_for_push": "guest"},
         400, {"error": "minimum_access_level_for_push does not have a valid value"}),
    ],
)
async def test_a_repository_rule_the_project_cannot_have_is_refused(
    client: TestClient, project: Project, maintainer: UserWithToken, body: dict[str, Any],
    status: int, answer: dict[str, Any],
) -> None:
    resp = await client.post(repository_rules(project), json=body, headers=maintainer.headers)
    assert resp.status == status
    assert await resp.json() == answer


async def test_a_repository_pattern_is_unique_per_project(
    client: TestClient, project: Project, maintainer: UserWithToken
) -> None:
    body = {"repository_path_pattern": "acme/web", "minimum_access_level_for_push": "owner"}
    first = await client.post(repository_rules(project), json=body, headers=maintainer.headers)
    assert first.status == 201
    second = await client.post(repository_rules(project), json=body, headers=maintainer.headers)
    assert second.status == 422
    assert await second.json() == {
        "message": {"error": "Repository path pattern has already been taken"}
    }


async def test_another_projects_rule_is_not_found(
    client: TestClient, factory: Factory, project: Project, root: UserWithToken
) -> None:
    other = await factory.project("acme/api")
    made = await client.post(tag_rules(other), json=PROTECTED, headers=root.headers)
    rule_id = (await made.json())["id"]
    resp = await client.patch(
        f"{tag_rules(project)}/{rule_id}", json={"tag_name_pattern": "x"}, headers=root.headers
    )
    assert resp.status == 404
    assert (await client.delete(f"{tag_rules(project)}/{rule_id}",
                                headers=root.headers)).status == 404


async def test_immutable_rules_are_created_and_deleted_by_owners_only(
    client: TestClient, factory: Factory, project: Project, maintainer: UserWithToken
) -> None:
    owner = await member(factory, project, AccessLevel.OWNER, username="olive")
    immutable = {"tag_name_pattern": "^v", "immutable": True}
    refused = await client.post(tag_rules(project), json=immutable, headers=maintainer.headers)
    assert refused.status == 422
    assert await refused.json() == {
        "message": "Unauthorized to create an immutable protection rule for container image tags"
    }
    made = await client.post(tag_rules(project), json=immutable, headers=owner.headers)
    assert made.status == 201
    url = f"{tag_rules(project)}/{(await made.json())['id']}"
    kept = await client.delete(url, headers=maintainer.headers)
    assert kept.status == 403
    assert await kept.json() == {"message": "403 Forbidden"}
    assert (await client.delete(url, headers=owner.headers)).status == 204
