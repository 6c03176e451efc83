"""The Deploy tokens API (issue 14.2): project and group tokens for Maintainers, the
administrators' list, GitLab's entity and codes, and the token never stored or shown again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.deploy_tokens import revoke_deploy_token
from registry_service.services.permissions import AccessLevel
from registry_service.services.tokens import token_digest
from tests.factories import Factory, UserWithToken

API = "/api/v4"
NOT_FOUND = {"message": "404 Not found"}
FORBIDDEN = {"message": "403 Forbidden"}
UNAUTHORIZED = {"message": "401 Unauthorized"}


async def call(
    client: TestClient, method: str, path: str, who: UserWithToken | None, **kwargs: Any
) -> tuple[int, Any]:
    headers = who.headers if who else {}
    response = await client.request(method, API + path, headers=headers, **kwargs)
    body = None if response.status == 204 else await response.json()
    return response.status, body


@pytest.fixture
async def people(factory: Factory) -> dict[str, UserWithToken]:
    """group/app (private) with a Maintainer and a Developer; a stranger; an administrator."""
    project = await factory.project("group/app")
    group = await factory.group("group")
    maintainer = await factory.user("maintainer")
    await factory.member(maintainer.user, AccessLevel.MAINTAINER, project=project)
    developer = await factory.user("developer")
    await factory.member(developer.user, AccessLevel.DEVELOPER, project=project)
    owner = await factory.user("owner")
    await factory.member(owner.user, AccessLevel.MAINTAINER, group=group)
    return {
        "maintainer": maintainer,
        "developer": developer,
        "group-maintainer": owner,
        "stranger": await factory.user("stranger"),
        "admin": await factory.user("root", admin=True),
    }


async def test_create_answers_gitlabs_entity_with_the_token_once(
    client: TestClient, people: dict[str, UserWithToken], catalog: Catalog
) -> None:
    status, body = await call(
        client, "POST", "/projects/group%2Fapp/deploy_tokens", people["maintainer"],
        json={"name": "k8s", "scopes": ["read_registry", "read_repository"],
              "expires_at": "2027-03-01T08:00:00Z"},
    )
    assert status == 201
    token = body.pop("token")
    assert token.startswith("gldt-") and len(token) > 30
    assert body == {
        "id": body["id"],
        "name": "k8s",
        "username": f"gitlab+deploy-token-{body['id']}",
        "expires_at": "2027-03-01T08:00:00.000Z",
        "revoked": False,
        "expired": False,
        "scopes": ["read_repository", "read_registry"],
    }
    assert list(body) == ["id", "name", "username", "expires_at", "revoked", "expired", "scopes"]
    # Hashed at rest: the value appears nowhere in the catalog, its digest does.
    rows = await catalog.reader.execute_fetchall("SELECT * FROM deploy_tokens")
    assert token not in repr([tuple(r) for r in rows])
    assert rows[0]["token_digest"] == token_digest(token)
    # Never shown again.
    status, again = await call(
        client, "GET", f"/projects/group%2Fapp/deploy_tokens/{body['id']}", people["maintainer"]
    )
    assert status == 200 and again == body


async def test_create_with_username_and_no_expiry(
    client: TestClient, people: dict[str, UserWithToken]
) -> None:
    # python-gitlab's documented call sends empty strings for "no username" and "never".
    status, body = await call(
        client, "POST", "/projects/group%2Fapp/deploy_tokens", people["maintainer"],
        data={"name": "ci", "scopes": "write_registry,read_registry", "username": "",
              "expires_at": ""},
    )
    assert status == 201
    assert body["username"] == f"gitlab+deploy-token-{body['id']}"
    assert body["expires_at"] is None
    assert body["scopes"] == ["read_registry", "write_registry"]
    status, body = await call(
        client, "POST", "/projects/group%2Fapp/deploy_tokens", people["maintainer"],
        json={"name": "ci", "scopes": ["read_registry"], "username": "puller.ci+1"},
    )
    assert status == 201 and body["username"] == "puller.ci+1"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"scopes": ["read_registry"]}, {"error": "name is missing"}),
        ({"name": "x"}, {"error": "scopes is missing"}),
        ({"name": "x", "scopes": ["api"]}, {"error": "scopes does not have a valid value"}),
        ({"name": "x", "scopes": []}, {"message": "Scopes can't be blank"}),
        ({"name": " ", "scopes": ["read_registry"]}, {"message": "Name can't be blank"}),
        ({"name": "x", "scopes": ["read_registry"], "expires_at": "soon"},
         {"error": "expires_at is invalid"}),
        ({"name": "x", "scopes": ["read_registry"], "username": "a b"},
         {"message": "Username can contain only letters, digits, '_', '-', '+', and '.'"}),
    ],
)
async def test_create_validation(
    client: TestClient, people: dict[str, UserWithToken], params: dict[str, Any],
    expected: dict[str, str],
) -> None:
    status, body = await call(
        client, "POST", "/projects/group%2Fapp/deploy_tokens", people["maintainer"], json=params
    )
    assert (status, body) == (400, expected)


@pytest.mark.parametrize(
    ("who", "status", "body"),
    [
        (None, 401, UNAUTHORIZED),
        ("stranger", 404, {"message": "404 Project Not Found"}),
        ("developer", 403, FORBIDDEN),
        ("maintainer", 200, None),
        ("group-maintainer", 200, None),
        ("admin", 200, None),
    ],
)
@pytest.mark.parametrize("route", ["list", "create", "get", "delete"])
async def test_project_routes_need_a_maintainer(
    client: TestClient, factory: Factory, people: dict[str, UserWithToken], route: str,
    who: str | None, status: int, body: dict[str, str] | None,
) -> None:
    project = await factory.project("group/app")
    existing = await factory.deploy_token(project=project)
    base = "/projects/group%2Fapp/deploy_tokens"
    method, path, kwargs = {
        "list": ("GET", base, {}),
        "create": ("POST", base, {"json": {"name": "n", "scopes": ["read_registry"]}}),
        "get": ("GET", f"{base}/{existing.token.id}", {}),
        "delete": ("DELETE", f"{base}/{existing.token.id}", {}),
    }[route]
    got, answer = await call(client, method, path, people[who] if who else None, **kwargs)
    if status == 200:
        assert got == {"list": 200, "create": 201, "get": 200, "delete": 204}[route]
    else:
        assert (got, answer) == (status, body)


@pytest.mark.parametrize(
    ("who", "status", "body"),
    [
        (None, 401, UNAUTHORIZED),
        # The group is public (tests/factories.py makes missing parents public).
        ("stranger", 403, FORBIDDEN),
        ("maintainer", 403, FORBIDDEN),  # of a project in the group, not of the group
        ("group-maintainer", 200, None),
        ("admin", 200, None),
    ],
)
@pytest.mark.parametrize("route", ["list", "create", "get", "delete"])
async def test_group_routes_need_a_group_maintainer(
    client: TestClient, factory: Factory, people: dict[str, UserWithToken], route: str,
    who: str | None, status: int, body: dict[str, str] | None,
) -> None:
    group = await factory.group("group")
    existing = await factory.deploy_token(group=group)
    base = "/groups/group/deploy_tokens"
    method, path, kwargs = {
        "list": ("GET", base, {}),
        "create": ("POST", base, {"json": {"name": "n", "scopes": ["write_registry"]}}),
        "get": ("GET", f"{base}/{existing.token.id}", {}),
        "delete": ("DELETE", f"{base}/{existing.token.id}", {}),
    }[route]
    got, answer = await call(client, method, path, people[who] if who else None, **kwargs)
    if status == 200:
        assert got == {"list": 200, "create": 201, "get": 200, "delete": 204}[route]
    else:
        assert (got, answer) == (status, body)


async def test_a_group_developer_is_refused_and_a_hidden_group_is_missing(
    client: TestClient, factory: Factory, people: dict[str, UserWithToken]
) -> None:
    developer = await factory.user("groupdev")
    await factory.member(developer.user, AccessLevel.DEVELOPER, group=await factory.group("group"))
    status, body = await call(client, "GET", "/groups/group/deploy_tokens", developer)
    assert (status, body) == (403, FORBIDDEN)
    await factory.group("secret", visibility="private")
    for path in ("/groups/secret/deploy_tokens", "/groups/nothing/deploy_tokens"):
        status, body = await call(client, "GET", path, people["stranger"])
        assert (status, body) == (404, {"message": "404 Group Not Found"})


async def test_list_get_and_delete_see_only_the_owners_tokens(
    client: TestClient, factory: Factory, people: dict[str, UserWithToken],
    clock: SettableClock,
) -> None:
    project = await factory.project("group/app")
    other = await factory.project("group/other")
    group = await factory.group("group")
    mine = [await factory.deploy_token(project=project, name=f"t{i}") for i in range(3)]
    foreign = await factory.deploy_token(project=other)
    of_group = await factory.deploy_token(group=group)
    maintainer = people["maintainer"]
    base = "/projects/group%2Fapp/deploy_tokens"

    response = await client.get(API + base, params={"per_page": "2"}, headers=maintainer.headers)
    assert response.status == 200
    assert [t["name"] for t in await response.json()] == ["t0", "t1"]
    assert response.headers["X-Total"] == "3" and response.headers["X-Next-Page"] == "2"
    for token_id in (foreign.token.id, of_group.token.id, 999999):
        assert await call(client, "GET", f"{base}/{token_id}", maintainer) == (404, NOT_FOUND)
        assert await call(client, "DELETE", f"{base}/{token_id}", maintainer) == (404, NOT_FOUND)
    assert await call(client, "GET", f"{base}/abc", maintainer) == (
        400, {"error": "token_id is invalid"}
    )
    assert await call(client, "DELETE", f"{base}/{mine[1].token.id}", maintainer) == (204, None)
    _, listed = await call(client, "GET", base, maintainer)
    assert [t["id"] for t in listed] == [mine[0].token.id, mine[2].token.id]
    _, listed = await call(client, "GET", "/groups/group/deploy_tokens", people["admin"])
    assert [t["id"] for t in listed] == [of_group.token.id]


async def test_admin_lists_every_token_and_filters_active(
    client: TestClient, factory: Factory, people: dict[str, UserWithToken],
    clock: SettableClock,
) -> None:
    project = await factory.project("group/app")
    group = await factory.group("group")
    now = clock.now()
    live = await factory.deploy_token(project=project, expires_at=now + timedelta(days=1))
    expired = await factory.deploy_token(group=group, expires_at=now - timedelta(seconds=1))
    revoked = await factory.deploy_token(project=project)
    assert await revoke_deploy_token(factory.catalog, revoked.token.id)
    status, listed = await call(client, "GET", "/deploy_tokens", people["admin"])
    assert status == 200
    assert [(t["id"], t["revoked"], t["expired"]) for t in listed] == [
        (live.token.id, False, False),
        (expired.token.id, False, True),
        (revoked.token.id, True, False),
    ]
    status, listed = await call(
        client, "GET", "/deploy_tokens", people["admin"], params={"active": "true"}
    )
    assert [t["id"] for t in listed] == [live.token.id]
    status, listed = await call(
        client, "GET", "/projects/group%2Fapp/deploy_tokens", people["maintainer"],
        params={"active": "true"},
    )
    assert [t["id"] for t in listed] == [live.token.id]
    # The expiry is an instant: a second later the live token is expired too.
    clock.set(datetime(2026, 6, 2, 12, 0, tzinfo=UTC))
    status, listed = await call(
        client, "GET", "/deploy_tokens", people["admin"], params={"active": "true"}
    )
    assert listed == []
    assert await call(client, "GET", "/deploy_tokens", people["maintainer"]) == (403, FORBIDDEN)
    assert await call(client, "GET", "/deploy_tokens", None) == (401, UNAUTHORIZED)


async def test_a_deploy_token_is_not_an_api_credential(
    client: TestClient, factory: Factory, people: dict[str, UserWithToken]
) -> None:
    """GitLab never accepts a deploy token on /api/v4: as an unknown token, it is 401 in every
    place a token may be sent."""
    project = await factory.project("group/app")
    minted = await factory.deploy_token(project=project, scopes=("read_registry",
                                                                 "write_registry"))
    value = minted.value
    for headers, params in [
        ({"PRIVATE-TOKEN": value}, {}),
        ({"Authorization": f"Bearer {value}"}, {}),
        ({}, {"private_token": value}),
    ]:
        for path in ("/user", "/projects/group%2Fapp", "/projects/group%2Fapp/deploy_tokens",
                     "/projects/group%2Fapp/registry/repositories"):
            response = await client.get(API + path, headers=headers, params=params)
            assert response.status == 401, path
            assert await response.json() == UNAUTHORIZED
