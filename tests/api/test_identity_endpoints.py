"""The identity endpoints of /api/v4 (users, tokens, groups, projects, members) and the
conventions every endpoint shares: ``:id`` lookup, GitLab booleans, where params come from,
unknown routes, Content-Type and request ids (gitlab-api.md §2, §4, §5)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.db import Catalog
from registry_service.services.permissions import AccessLevel
from tests.conftest import EXTERNAL_URL
from tests.factories import Factory, UserWithToken

FORBIDDEN = {"message": "403 Forbidden"}
UNAUTHORIZED = {"message": "401 Unauthorized"}
GROUP_NOT_FOUND = {"message": "404 Group Not Found"}
PROJECT_NOT_FOUND = {"message": "404 Project Not Found"}
USER_NOT_FOUND = {"message": "404 User Not Found"}
ROUTE_NOT_FOUND = {"error": "404 Not Found"}


async def expect(resp: Any, status: int, body: Any = None) -> Any:
    """Assert the status (and the exact body when given); return the body."""
    data = await resp.json()
    assert resp.status == status, data
    if body is not None:
        assert data == body
    return data


@pytest.fixture
async def root(factory: Factory) -> UserWithToken:
    return await factory.user("root", admin=True)


@pytest.fixture
async def alice(factory: Factory) -> UserWithToken:
    return await factory.user("alice")


# --- GET /user ---------------------------------------------------------------------------


async def test_current_user_has_gitlab_fields(client: TestClient, alice: UserWithToken) -> None:
    body = await expect(await client.get("/api/v4/user", headers=alice.headers), 200)
    expected = {
        "id": alice.user.id,
        "username": "alice",
        "name": "Alice",
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": f"{EXTERNAL_URL}/alice",
        "created_at": "2026-06-01T12:00:00.000Z",
        "email": "alice@example.test",
        "is_admin": False,
        "external": False,
    }
    assert {k: body.get(k) for k in expected} == expected


async def test_current_user_of_an_admin_says_so(client: TestClient, root: UserWithToken) -> None:
    body = await expect(await client.get("/api/v4/user", headers=root.headers), 200)
    assert body["is_admin"] is True


async def test_current_user_anonymous_is_401(client: TestClient) -> None:
    await expect(await client.get("/api/v4/user"), 401, UNAUTHORIZED)


# --- POST /users -------------------------------------------------------------------------


async def test_admin_creates_a_user(client: TestClient, root: UserWithToken) -> None:
    resp = await client.post(
        "/api/v4/users",
        json={"username": "carol", "name": "Carol C", "email": "carol@example.test"},
        headers=root.headers,
    )
    body = await expect(resp, 201)
    assert body["username"] == "carol"
    assert body["name"] == "Carol C"
    assert body["email"] == "carol@example.test"
    assert body["is_admin"] is False
    assert body["web_url"] == f"{EXTERNAL_URL}/carol"
    fetched = await client.get(f"/api/v4/users/{body['id']}", headers=root.headers)
    assert (await expect(fetched, 200))["username"] == "carol"


async def test_created_user_gets_a_personal_namespace(
    client: TestClient, root: UserWithToken
) -> None:
    created = await expect(
        await client.post(
            "/api/v4/users", json={"username": "carol", "name": "Carol"}, headers=root.headers
        ),
        201,
    )
    token = await expect(
        await client.post(
            f"/api/v4/users/{created['id']}/personal_access_tokens",
            json={"name": "t", "scopes": ["api"]},
            headers=root.headers,
        ),
        201,
    )
    project = await expect(
        await client.post(
            "/api/v4/projects", json={"name": "tool"}, headers={"PRIVATE-TOKEN": token["token"]}
        ),
        201,
    )
    assert project["path_with_namespace"] == "carol/tool"


async def test_non_admin_cannot_create_users(client: TestClient, alice: UserWithToken) -> None:
    resp = await client.post(
        "/api/v4/users", json={"username": "carol", "name": "Carol"}, headers=alice.headers
    )
    await expect(resp, 403, FORBIDDEN)


async def test_anonymous_cannot_create_users(client: TestClient) -> None:
    resp = await client.post("/api/v4/users", json={"username": "carol", "name": "Carol"})
    await expect(resp, 401, UNAUTHORIZED)


@pytest.mark.parametrize("username", ["alice", "ALICE"])
async def test_taken_username_is_409(
    client: TestClient, root: UserWithToken, alice: UserWithToken, username: str
) -> None:
    # GitLab's lib/api/users.rb: conflict!('Username has already been taken'), and usernames
    # are unique regardless of case.
    resp = await client.post(
        "/api/v4/users", json={"username": username, "name": "Again"}, headers=root.headers
    )
    await expect(resp, 409, {"message": "Username has already been taken"})


async def test_taken_email_is_409(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    resp = await client.post(
        "/api/v4/users",
        json={"username": "alice2", "name": "Alice", "email": "alice@example.test"},
        headers=root.headers,
    )
    await expect(resp, 409, {"message": "Email has already been taken"})


async def test_username_taken_by_a_group_is_400_validation_error(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    await factory.group("acme")
    resp = await client.post(
        "/api/v4/users", json={"username": "acme", "name": "Acme"}, headers=root.headers
    )
    await expect(resp, 400, {"message": {"username": ["has already been taken"]}})


async def test_create_user_without_username_is_400(
    client: TestClient, root: UserWithToken
) -> None:
    resp = await client.post("/api/v4/users", json={"name": "Nobody"}, headers=root.headers)
    await expect(resp, 400, {"error": "username is missing"})


# --- POST /users/:id/personal_access_tokens ----------------------------------------------


async def test_admin_mints_a_token_that_works(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    resp = await client.post(
        f"/api/v4/users/{alice.user.id}/personal_access_tokens",
        json={"name": "ci", "scopes": ["api"], "expires_at": "2026-07-01"},
        headers=root.headers,
    )
    body = await expect(resp, 201)
    assert body["name"] == "ci"
    assert body["scopes"] == ["api"]
    assert body["user_id"] == alice.user.id
    assert body["active"] is True
    assert body["revoked"] is False
    assert body["expires_at"] == "2026-07-01"
    assert body["token"].startswith("glpat-")

    me = await client.get("/api/v4/user", headers={"PRIVATE-TOKEN": body["token"]})
    assert (await expect(me, 200))["username"] == "alice"


async def test_minted_read_api_token_from_a_form_reads_but_cannot_write(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    resp = await client.post(
        f"/api/v4/users/{alice.user.id}/personal_access_tokens",
        data=[("name", "ro"), ("scopes[]", "read_api")],
        headers=root.headers,
    )
    token = (await expect(resp, 201))["token"]
    headers = {"PRIVATE-TOKEN": token}
    assert (await client.get("/api/v4/user", headers=headers)).status == 200
    write = await client.post("/api/v4/groups", json={"name": "x", "path": "x"}, headers=headers)
    assert write.status == 403


@pytest.mark.parametrize("scopes", [["sudo"], ["api", "admin_mode"], []])
async def test_token_with_invalid_scopes_is_400(
    client: TestClient, root: UserWithToken, alice: UserWithToken, scopes: list[str]
) -> None:
    resp = await client.post(
        f"/api/v4/users/{alice.user.id}/personal_access_tokens",
        json={"name": "bad", "scopes": scopes},
        headers=root.headers,
    )
    await expect(resp, 400, {"error": "scopes does not have a valid value"})


async def test_only_admins_mint_tokens_for_users(
    client: TestClient, alice: UserWithToken
) -> None:
    resp = await client.post(
        f"/api/v4/users/{alice.user.id}/personal_access_tokens",
        json={"name": "mine", "scopes": ["api"]},
        headers=alice.headers,
    )
    await expect(resp, 403, FORBIDDEN)


async def test_token_for_unknown_user_is_404(client: TestClient, root: UserWithToken) -> None:
    resp = await client.post(
        "/api/v4/users/99999/personal_access_tokens",
        json={"name": "t", "scopes": ["api"]},
        headers=root.headers,
    )
    await expect(resp, 404, USER_NOT_FOUND)


# --- groups ------------------------------------------------------------------------------


async def create_group(
    client: TestClient, who: UserWithToken, **fields: Any
) -> Any:
    return await client.post("/api/v4/groups", json=fields, headers=who.headers)


async def test_create_group_and_subgroup(client: TestClient, alice: UserWithToken) -> None:
    top = await expect(await create_group(client, alice, name="Top", path="top"), 201)
    assert top["full_path"] == "top"
    assert top["parent_id"] is None
    assert top["visibility"] == "private"
    assert top["web_url"] == f"{EXTERNAL_URL}/groups/top"

    sub = await expect(
        await create_group(client, alice, name="Sub", path="sub", parent_id=top["id"]), 201
    )
    assert sub["full_path"] == "top/sub"
    assert sub["parent_id"] == top["id"]

    listed = await expect(await client.get("/api/v4/groups", headers=alice.headers), 200)
    assert sorted(g["full_path"] for g in listed) == ["top", "top/sub"]
    top_only = await client.get("/api/v4/groups?top_level_only=true", headers=alice.headers)
    assert [g["full_path"] for g in await expect(top_only, 200)] == ["top"]


async def test_subgroup_cannot_be_more_visible_than_its_parent(
    client: TestClient, alice: UserWithToken
) -> None:
    top = await expect(await create_group(client, alice, name="Top", path="top"), 201)
    resp = await create_group(
        client, alice, name="Sub", path="sub", parent_id=top["id"], visibility="public"
    )
    await expect(
        resp,
        400,
        {
            "message": {
                "visibility_level": [
                    "public is not allowed since the parent group has a private visibility."
                ]
            }
        },
    )


async def test_subgroup_needs_maintainer_on_the_parent(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    top = await factory.group("top", visibility="public")
    await factory.member(alice.user, AccessLevel.DEVELOPER, group=top)
    resp = await create_group(client, alice, name="Sub", path="sub", parent_id=top.id)
    await expect(resp, 403, FORBIDDEN)


async def test_subgroup_of_a_hidden_group_is_404(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    top = await factory.group("secret")
    resp = await create_group(client, alice, name="Sub", path="sub", parent_id=top.id)
    await expect(resp, 404, GROUP_NOT_FOUND)


async def test_duplicate_group_path_is_400(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    await factory.group("taken", visibility="public")
    resp = await create_group(client, alice, name="Taken", path="taken")
    await expect(resp, 400, {"message": {"path": ["has already been taken"]}})


@pytest.mark.parametrize(
    "ref", ["{id}", "acme%2Fsub", "ACME%2FSub", "acme%2Fsub%2F"], ids=["id", "path", "case", "/"]
)
async def test_get_group_by_id_or_encoded_path(
    client: TestClient, factory: Factory, ref: str
) -> None:
    await factory.group("acme", visibility="public")
    sub = await factory.group("acme/sub", visibility="public")
    resp = await client.get(f"/api/v4/groups/{ref.format(id=sub.id)}")
    body = await expect(resp, 200)
    assert body["id"] == sub.id
    assert body["full_path"] == "acme/sub"


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("hidden", id="hidden-path"),
        pytest.param("{id}", id="hidden-id"),
        pytest.param("99999", id="missing-id"),
        pytest.param("nope", id="missing-path"),
        pytest.param("alice", id="user-namespace-is-not-a-group"),
    ],
)
async def test_hidden_or_missing_group_is_404(
    client: TestClient, factory: Factory, alice: UserWithToken, ref: str
) -> None:
    hidden = await factory.group("hidden")
    stranger = await factory.user("stranger")
    resp = await client.get(
        f"/api/v4/groups/{ref.format(id=hidden.id)}", headers=stranger.headers
    )
    await expect(resp, 404, GROUP_NOT_FOUND)


async def test_private_group_visible_to_a_member_of_an_ancestor(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    top = await factory.group("top")
    await factory.group("top/inner")
    await factory.member(alice.user, AccessLevel.GUEST, group=top)
    resp = await client.get("/api/v4/groups/top%2Finner", headers=alice.headers)
    assert (await expect(resp, 200))["full_path"] == "top/inner"


# --- projects ----------------------------------------------------------------------------


async def test_maintainer_creates_a_project_in_the_group(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    acme = await factory.group("acme", visibility="public")
    await factory.member(alice.user, AccessLevel.MAINTAINER, group=acme)

    resp = await client.post(
        "/api/v4/projects", json={"name": "Web App", "namespace_id": acme.id}, headers=alice.headers
    )

    body = await expect(resp, 201)
    assert body["name"] == "Web App"
    assert body["path"] == "web-app"
    assert body["path_with_namespace"] == "acme/web-app"
    assert body["namespace"]["id"] == acme.id
    assert body["namespace"]["kind"] == "group"
    assert body["visibility"] == "private"
    assert body["container_registry_access_level"] == "enabled"
    assert body["web_url"] == f"{EXTERNAL_URL}/acme/web-app"
    assert body["creator_id"] == alice.user.id


async def test_project_without_namespace_goes_to_the_users_namespace(
    client: TestClient, alice: UserWithToken
) -> None:
    resp = await client.post("/api/v4/projects", json={"path": "tool"}, headers=alice.headers)
    body = await expect(resp, 201)
    assert body["path_with_namespace"] == "alice/tool"
    assert body["name"] == "tool"
    assert body["namespace"]["kind"] == "user"
    assert body["namespace"]["full_path"] == "alice"
    fetched = await client.get("/api/v4/projects/alice%2Ftool", headers=alice.headers)
    assert (await expect(fetched, 200))["id"] == body["id"]


async def test_developer_cannot_create_projects_in_the_group(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    acme = await factory.group("acme", visibility="public")
    await factory.member(alice.user, AccessLevel.DEVELOPER, group=acme)
    resp = await client.post(
        "/api/v4/projects", json={"name": "web", "namespace_id": acme.id}, headers=alice.headers
    )
    await expect(resp, 403, FORBIDDEN)


async def test_project_needs_a_name_or_a_path(client: TestClient, alice: UserWithToken) -> None:
    resp = await client.post("/api/v4/projects", json={"description": "x"}, headers=alice.headers)
    await expect(
        resp, 400, {"error": "name, path are missing, at least one parameter must be provided"}
    )


async def test_duplicate_project_is_400_with_field_messages(
    client: TestClient, alice: UserWithToken
) -> None:
    first = await client.post("/api/v4/projects", json={"name": "tool"}, headers=alice.headers)
    await expect(first, 201)
    again = await client.post("/api/v4/projects", json={"name": "tool"}, headers=alice.headers)
    body = await expect(again, 400)
    assert isinstance(body["message"], dict)
    assert body["message"]["path"] == ["has already been taken"]
    assert body["message"]["name"] == ["has already been taken"]


async def test_project_cannot_be_more_visible_than_its_group(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    secret = await factory.group("secret")
    await factory.member(alice.user, AccessLevel.MAINTAINER, group=secret)
    resp = await client.post(
        "/api/v4/projects",
        json={"name": "web", "namespace_id": secret.id, "visibility": "public"},
        headers=alice.headers,
    )
    await expect(
        resp, 400, {"message": {"visibility_level": ["public is not allowed in a private group."]}}
    )


@pytest.mark.parametrize(
    "ref",
    [
        "{id}",
        "acme%2Fsub.x%2Fweb",
        "acme%2Fsub%2Ex%2Fweb",
        "ACME%2FSub.X%2FWeb",
        "Acme%2FSUB%2EX%2Fweb",
    ],
    ids=["id", "path", "dot-encoded", "mixed-case", "mixed-case-dot-encoded"],
)
async def test_get_project_by_id_or_encoded_path(
    client: TestClient, factory: Factory, ref: str
) -> None:
    project = await factory.project("acme/sub.x/web", visibility="public")
    resp = await client.get(f"/api/v4/projects/{ref.format(id=project.id)}")
    body = await expect(resp, 200)
    assert body["id"] == project.id
    assert body["path_with_namespace"] == "acme/sub.x/web"


@pytest.mark.parametrize("ref", ["99999", "acme%2Fnope", "nope"])
async def test_missing_project_is_404(client: TestClient, factory: Factory, ref: str) -> None:
    await factory.project("acme/web", visibility="public")
    await expect(await client.get(f"/api/v4/projects/{ref}"), 404, PROJECT_NOT_FOUND)


async def test_unencoded_project_path_is_not_a_route(client: TestClient, factory: Factory) -> None:
    await factory.project("acme/web", visibility="public")
    await expect(await client.get("/api/v4/projects/acme/web"), 404, ROUTE_NOT_FOUND)


# --- members -----------------------------------------------------------------------------


@pytest.fixture
async def project_with_maintainer(
    factory: Factory, alice: UserWithToken
) -> tuple[int, UserWithToken]:
    project = await factory.project("acme/web", visibility="private")
    await factory.member(alice.user, AccessLevel.MAINTAINER, project=project)
    return project.id, alice


async def add_member(
    client: TestClient, project_id: int | str, who: UserWithToken, **fields: Any
) -> Any:
    return await client.post(
        f"/api/v4/projects/{project_id}/members", json=fields, headers=who.headers
    )


async def test_maintainer_cannot_grant_owner(
    client: TestClient, factory: Factory, project_with_maintainer: tuple[int, UserWithToken]
) -> None:
    project_id, alice = project_with_maintainer
    bob = await factory.user("bob")
    resp = await add_member(client, project_id, alice, user_id=bob.user.id, access_level=50)
    await expect(resp, 403, FORBIDDEN)


async def test_owner_can_grant_owner(client: TestClient, factory: Factory) -> None:
    project = await factory.project("acme/web")
    owner = await factory.user("owner")
    await factory.member(owner.user, AccessLevel.OWNER, project=project)
    bob = await factory.user("bob")
    resp = await add_member(client, project.id, owner, user_id=bob.user.id, access_level=50)
    body = await expect(resp, 201)
    assert body["access_level"] == 50


async def test_adding_an_existing_member_is_409(
    client: TestClient, factory: Factory, project_with_maintainer: tuple[int, UserWithToken]
) -> None:
    project_id, alice = project_with_maintainer
    bob = await factory.user("bob")
    first = await add_member(client, project_id, alice, user_id=bob.user.id, access_level=30)
    await expect(first, 201)
    again = await add_member(client, project_id, alice, user_id=bob.user.id, access_level=20)
    await expect(again, 409, {"message": "Member already exists"})


async def test_adding_an_unknown_user_is_404(
    client: TestClient, project_with_maintainer: tuple[int, UserWithToken]
) -> None:
    project_id, alice = project_with_maintainer
    resp = await add_member(client, project_id, alice, user_id=99999, access_level=30)
    await expect(resp, 404, USER_NOT_FOUND)


@pytest.mark.parametrize("level", [35, 0, 60, "developer"])
async def test_access_level_must_be_a_gitlab_role(
    client: TestClient,
    factory: Factory,
    project_with_maintainer: tuple[int, UserWithToken],
    level: object,
) -> None:
    project_id, alice = project_with_maintainer
    bob = await factory.user("bob")
    resp = await add_member(client, project_id, alice, user_id=bob.user.id, access_level=level)
    expected = "access_level is invalid" if level == "developer" else (
        "access_level does not have a valid value"
    )
    await expect(resp, 400, {"error": expected})


async def test_group_member_inherits_access_to_nested_projects(
    client: TestClient, factory: Factory
) -> None:
    top = await factory.group("top")
    await factory.group("top/sub")
    project = await factory.project("top/sub/app")
    owner = await factory.user("owner")
    await factory.member(owner.user, AccessLevel.OWNER, group=top)
    bob = await factory.user("bob")
    assert (await client.get(f"/api/v4/projects/{project.id}", headers=bob.headers)).status == 404

    resp = await client.post(
        f"/api/v4/groups/{top.id}/members",
        json={"user_id": bob.user.id, "access_level": 20},
        headers=owner.headers,
    )

    body = await expect(resp, 201)
    assert body["username"] == "bob"
    assert body["access_level"] == 20
    assert (await client.get(f"/api/v4/projects/{project.id}", headers=bob.headers)).status == 200


# --- booleans and where params come from -------------------------------------------------


@pytest.fixture
async def member_and_public_project(factory: Factory, alice: UserWithToken) -> UserWithToken:
    mine = await factory.project("acme/mine", visibility="private")
    await factory.project("acme/open", visibility="public")
    await factory.member(alice.user, AccessLevel.DEVELOPER, project=mine)
    return alice


@pytest.mark.parametrize("word", ["true", "True", "TRUE", "t", "T", "1", "yes", "Y", "On", "on"])
async def test_gitlab_true_spellings(
    client: TestClient, member_and_public_project: UserWithToken, word: str
) -> None:
    resp = await client.get(
        f"/api/v4/projects?membership={word}", headers=member_and_public_project.headers
    )
    assert [p["path"] for p in await expect(resp, 200)] == ["mine"]


@pytest.mark.parametrize("word", ["false", "False", "f", "F", "0", "no", "N", "Off"])
async def test_gitlab_false_spellings(
    client: TestClient, member_and_public_project: UserWithToken, word: str
) -> None:
    resp = await client.get(
        f"/api/v4/projects?membership={word}", headers=member_and_public_project.headers
    )
    assert sorted(p["path"] for p in await expect(resp, 200)) == ["mine", "open"]


@pytest.mark.parametrize("word", ["maybe", "2", "tru", ""])
async def test_other_boolean_spellings_are_400(
    client: TestClient, alice: UserWithToken, word: str
) -> None:
    resp = await client.get(f"/api/v4/projects?membership={word}", headers=alice.headers)
    await expect(resp, 400, {"error": "membership is invalid"})


@pytest.mark.parametrize(
    ("value", "level"), [(False, "disabled"), (True, "enabled"), ("False", "disabled")]
)
async def test_json_and_string_booleans_in_a_body(
    client: TestClient, alice: UserWithToken, value: object, level: str
) -> None:
    resp = await client.post(
        "/api/v4/projects",
        json={"name": "tool", "container_registry_enabled": value},
        headers=alice.headers,
    )
    assert (await expect(resp, 201))["container_registry_access_level"] == level


@pytest.mark.parametrize("source", ["query", "form", "json"])
async def test_params_are_read_from_query_form_or_json(
    client: TestClient, alice: UserWithToken, source: str
) -> None:
    fields = {"name": "Team", "path": "team", "visibility": "internal"}
    kwargs: dict[str, Any] = {
        "query": {"params": fields},
        "form": {"data": fields},
        "json": {"json": fields},
    }[source]

    resp = await client.post("/api/v4/groups", headers=alice.headers, **kwargs)

    body = await expect(resp, 201)
    assert (body["path"], body["name"], body["visibility"]) == ("team", "Team", "internal")


async def test_body_params_win_over_query_params(
    client: TestClient, alice: UserWithToken
) -> None:
    resp = await client.post(
        "/api/v4/groups?path=from-query&name=Q",
        json={"path": "from-body"},
        headers=alice.headers,
    )
    body = await expect(resp, 201)
    assert (body["path"], body["name"]) == ("from-body", "Q")


async def test_form_subgroup_with_string_parent_id(
    client: TestClient, alice: UserWithToken
) -> None:
    top = await expect(await create_group(client, alice, name="Top", path="top"), 201)
    resp = await client.post(
        "/api/v4/groups",
        data={"name": "Sub", "path": "sub", "parent_id": str(top["id"])},
        headers=alice.headers,
    )
    assert (await expect(resp, 201))["full_path"] == "top/sub"


# --- shared conventions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v4/nope"), ("GET", "/api/v4/projects/1/nope"), ("GET", "/api/v4")],
)
async def test_unknown_route_is_gitlab_404(
    client: TestClient, alice: UserWithToken, method: str, path: str
) -> None:
    resp = await client.request(method, path, headers=alice.headers)
    await expect(resp, 404, ROUTE_NOT_FOUND)
    assert resp.content_type == "application/json"


@pytest.mark.parametrize("path", ["/-/health", "/-/readiness"])
async def test_health_endpoints_answer_ok(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 200
    assert (await resp.json())["status"] == "ok"


async def test_readiness_is_503_while_the_catalog_cannot_answer(
    client: TestClient, catalog: Catalog
) -> None:
    await catalog.close()  # on either backend: no connection left to answer on

    resp = await client.get("/-/readiness")

    assert resp.status == 503
    assert (await resp.json())["status"] == "unavailable"
    assert (await client.get("/-/health")).status == 200


async def test_every_api_response_is_json(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    project = await factory.project("acme/web", visibility="public")
    readonly = await factory.user("reader", scopes=("read_api",))
    calls: list[tuple[str, str, dict[str, str], dict[str, Any] | None, int]] = [
        ("GET", "/api/v4/user", alice.headers, None, 200),
        ("GET", "/api/v4/projects", {}, None, 200),
        ("GET", f"/api/v4/projects/{project.id}", {}, None, 200),
        ("POST", "/api/v4/groups", alice.headers, {"name": "G", "path": "g"}, 201),
        ("POST", "/api/v4/groups", alice.headers, {"name": "G", "path": "g"}, 400),
        ("GET", "/api/v4/projects?page=x", {}, None, 400),
        ("GET", "/api/v4/user", {}, None, 401),
        ("POST", "/api/v4/groups", {}, {"name": "G", "path": "h"}, 401),
        ("POST", "/api/v4/users", alice.headers, {"username": "x", "name": "x"}, 403),
        ("POST", "/api/v4/groups", readonly.headers, {"name": "G", "path": "h"}, 403),
        ("GET", "/api/v4/projects/424242", {}, None, 404),
        ("GET", "/api/v4/nope", {}, None, 404),
        ("DELETE", "/api/v4/user", alice.headers, None, 405),
    ]
    for method, path, headers, payload, status in calls:
        resp = await client.request(method, path, headers=headers, json=payload)
        assert resp.status == status, (method, path, await resp.text())
        assert resp.content_type == "application/json", (method, path)
        await resp.json()


@pytest.mark.parametrize("path", ["/api/v4/user", "/api/v4/nope", "/v2/", "/-/health"])
async def test_every_response_has_a_request_id(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.headers.get("X-Request-Id")

    given = await client.get(path, headers={"X-Request-Id": "req-1234"})
    assert given.headers["X-Request-Id"] == "req-1234"


async def test_request_ids_differ_between_requests(client: TestClient) -> None:
    first = await client.get("/-/health")
    second = await client.get("/-/health")
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
