"""How callers prove who they are: token sources, bad tokens and scopes on /api/v4
(gitlab-api.md §2 "Auth-token errors", §4 "Token sources"), and HTTP Basic on /v2."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog import users as user_rows
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services import tokens
from tests.factories import Factory

UNAUTHORIZED = {"message": "401 Unauthorized"}
EXPIRED = {
    "error": "invalid_token",
    "error_description": "Token is expired. You can either do re-authorization or token refresh.",
}
REVOKED = {
    "error": "invalid_token",
    "error_description": (
        "Token has been revoked. You can either do re-authorization or token refresh."
    ),
}
NEEDS_HIGHER_PRIVILEGES = (
    "The request requires higher privileges than provided by the access token."
)
# /v2/ names no repository, so its challenge has no scope.
V2_CHALLENGE = 'Bearer realm="http://registry.test:5000/jwt/auth",service="container_registry"'


def basic(username: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


# --- where a token may be -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "headers", "query"),
    [
        ("PRIVATE-TOKEN header", {"PRIVATE-TOKEN": "{t}"}, {}),
        ("Authorization Bearer", {"Authorization": "Bearer {t}"}, {}),
        ("private_token query", {}, {"private_token": "{t}"}),
        ("access_token query", {}, {"access_token": "{t}"}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_token_from_each_read_source_identifies_the_user(
    client: TestClient,
    factory: Factory,
    source: str,
    headers: dict[str, str],
    query: dict[str, str],
) -> None:
    alice = await factory.user("alice")
    fill = {k: v.format(t=alice.token) for k, v in headers.items()}
    params = {k: v.format(t=alice.token) for k, v in query.items()}

    resp = await client.get("/api/v4/user", headers=fill, params=params)

    assert resp.status == 200, await resp.text()
    assert (await resp.json())["username"] == "alice"


@pytest.mark.parametrize("encoding", ["form", "json"])
async def test_private_token_in_a_post_body_authenticates_the_write(
    client: TestClient, factory: Factory, encoding: str
) -> None:
    alice = await factory.user("alice")
    fields = {"name": "Team", "path": "team", "private_token": alice.token}
    body = {"data": fields} if encoding == "form" else {"json": fields}

    resp = await client.post("/api/v4/groups", **body)

    assert resp.status == 201, await resp.text()
    group = await resp.json()
    # The group is private and its creator its owner: only alice can see it.
    assert (await client.get(f"/api/v4/groups/{group['id']}", headers=alice.headers)).status == 200
    assert (await client.get(f"/api/v4/groups/{group['id']}")).status == 404


async def test_private_token_query_param_authenticates_a_write(
    client: TestClient, factory: Factory
) -> None:
    alice = await factory.user("alice")

    resp = await client.post(
        "/api/v4/groups", params={"private_token": alice.token}, json={"name": "T", "path": "t"}
    )

    assert resp.status == 201, await resp.text()


async def test_no_token_reads_as_anonymous(client: TestClient, factory: Factory) -> None:
    await factory.project("acme/web", visibility="public")
    resp = await client.get("/api/v4/projects/acme%2Fweb")
    assert resp.status == 200


async def test_post_without_token_is_401_before_anything_else(client: TestClient) -> None:
    # Even with missing params and a project that does not exist: GitLab authenticates first.
    resp = await client.post("/api/v4/projects/999/members", json={})
    assert resp.status == 401
    assert await resp.json() == UNAUTHORIZED


# --- bad tokens -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"PRIVATE-TOKEN": "glpat-not-a-real-token-000000"},
        {"Authorization": "Bearer glpat-not-a-real-token-000000"},
    ],
    ids=["private-token", "bearer"],
)
async def test_unknown_token_is_401_even_on_a_public_project(
    client: TestClient, factory: Factory, headers: dict[str, str]
) -> None:
    project = await factory.project("acme/web", visibility="public")
    resp = await client.get(f"/api/v4/projects/{project.id}", headers=headers)
    assert resp.status == 401
    assert await resp.json() == UNAUTHORIZED


async def test_unknown_token_in_query_is_401(client: TestClient, factory: Factory) -> None:
    await factory.project("acme/web", visibility="public")
    resp = await client.get("/api/v4/projects", params={"private_token": "glpat-bogus-1234567"})
    assert resp.status == 401
    assert await resp.json() == UNAUTHORIZED


async def test_unknown_token_in_post_body_is_401(client: TestClient) -> None:
    resp = await client.post(
        "/api/v4/groups", json={"name": "T", "path": "t", "private_token": "glpat-bogus-123456"}
    )
    assert resp.status == 401
    assert await resp.json() == UNAUTHORIZED


async def test_token_expiring_today_is_expired(
    client: TestClient, factory: Factory, clock: SettableClock
) -> None:
    alice = await factory.user("alice", expires_at=clock.now().date())
    resp = await client.get("/api/v4/user", headers=alice.headers)
    assert resp.status == 401
    assert await resp.json() == EXPIRED


async def test_token_expiring_tomorrow_is_valid_until_midnight(
    client: TestClient, factory: Factory, clock: SettableClock
) -> None:
    tomorrow = clock.now().date() + timedelta(days=1)
    alice = await factory.user("alice", expires_at=tomorrow)

    assert (await client.get("/api/v4/user", headers=alice.headers)).status == 200

    clock.advance(timedelta(days=1))
    resp = await client.get("/api/v4/user", headers=alice.headers)
    assert resp.status == 401
    assert await resp.json() == EXPIRED


async def test_expired_token_is_401_even_on_a_public_project(
    client: TestClient, factory: Factory, clock: SettableClock
) -> None:
    project = await factory.project("acme/web", visibility="public")
    alice = await factory.user("alice", expires_at=clock.now().date() - timedelta(days=3))
    resp = await client.get(f"/api/v4/projects/{project.id}", headers=alice.headers)
    assert resp.status == 401
    assert await resp.json() == EXPIRED


async def test_revoked_token_is_401_invalid_token(
    client: TestClient, factory: Factory, catalog: Catalog
) -> None:
    alice = await factory.user("alice")
    assert (await client.get("/api/v4/user", headers=alice.headers)).status == 200
    (token,) = await user_rows.select_tokens(catalog.reader, alice.user.id)
    assert await tokens.revoke_token(catalog, token.id)

    resp = await client.get("/api/v4/user", headers=alice.headers)

    assert resp.status == 401
    assert await resp.json() == REVOKED


# --- scopes -----------------------------------------------------------------------------


async def test_read_api_token_can_read(client: TestClient, factory: Factory) -> None:
    alice = await factory.user("alice", scopes=("read_api",))
    resp = await client.get("/api/v4/user", headers=alice.headers)
    assert resp.status == 200
    assert (await resp.json())["username"] == "alice"


async def test_read_api_token_cannot_write(client: TestClient, factory: Factory) -> None:
    alice = await factory.user("alice", scopes=("read_api",))
    resp = await client.post(
        "/api/v4/groups", json={"name": "T", "path": "t"}, headers=alice.headers
    )
    assert resp.status == 403
    assert await resp.json() == {
        "error": "insufficient_scope",
        "error_description": NEEDS_HIGHER_PRIVILEGES,
        "scope": "api",
    }


@pytest.mark.parametrize(
    "scopes", [("read_registry",), ("write_registry",), ("read_registry", "write_registry")]
)
async def test_registry_scopes_do_not_grant_the_rest_api(
    client: TestClient, factory: Factory, scopes: tuple[str, ...]
) -> None:
    alice = await factory.user("alice", scopes=scopes)
    resp = await client.get("/api/v4/user", headers=alice.headers)
    assert resp.status == 403
    assert await resp.json() == {
        "error": "insufficient_scope",
        "error_description": NEEDS_HIGHER_PRIVILEGES,
        "scope": "api read_api",
    }


async def test_api_scope_can_write(client: TestClient, factory: Factory) -> None:
    alice = await factory.user("alice", scopes=("api",))
    resp = await client.post(
        "/api/v4/groups", json={"name": "T", "path": "t"}, headers=alice.headers
    )
    assert resp.status == 201


# --- /v2 Basic --------------------------------------------------------------------------


async def test_v2_base_anonymous_is_challenged(client: TestClient) -> None:
    resp = await client.get("/v2/")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == V2_CHALLENGE
    assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert [e["code"] for e in body["errors"]] == ["UNAUTHORIZED"]
    assert isinstance(body["errors"][0]["message"], str)


@pytest.mark.parametrize("scopes", [("api",), ("read_registry",), ("write_registry",)])
async def test_v2_base_accepts_basic_username_and_token(
    client: TestClient, factory: Factory, scopes: tuple[str, ...]
) -> None:
    alice = await factory.user("alice", scopes=scopes)
    resp = await client.get("/v2/", headers=basic("alice", alice.token))
    assert resp.status == 200
    assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"


async def test_v2_basic_username_is_case_insensitive(client: TestClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    resp = await client.get("/v2/", headers=basic("Alice", alice.token))
    assert resp.status == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("bob", "alice's token", id="token-of-another-user"),
        pytest.param("alice", "glpat-wrong-000000000000", id="unknown-token"),
        pytest.param("alice", "", id="empty-password"),
    ],
)
async def test_v2_wrong_basic_credentials_are_401(
    client: TestClient, factory: Factory, username: str, password: str
) -> None:
    alice = await factory.user("alice")
    await factory.user("bob")
    if password == "alice's token":
        password = alice.token

    resp = await client.get("/v2/", headers=basic(username, password))

    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == V2_CHALLENGE
    assert [e["code"] for e in (await resp.json())["errors"]] == ["UNAUTHORIZED"]


async def test_v2_expired_token_is_401(
    client: TestClient, factory: Factory, clock: SettableClock
) -> None:
    alice = await factory.user("alice", expires_at=clock.now().date())
    resp = await client.get("/v2/", headers=basic("alice", alice.token))
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == V2_CHALLENGE


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic not-base64!!", id="not-base64"),
        pytest.param("Basic " + base64.b64encode(b"no-colon").decode(), id="no-colon"),
        pytest.param("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), id="not-utf8"),
    ],
)
async def test_v2_malformed_basic_is_401(
    client: TestClient, factory: Factory, authorization: str
) -> None:
    await factory.user("alice")
    resp = await client.get("/v2/", headers={"Authorization": authorization})
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == V2_CHALLENGE
    assert [e["code"] for e in (await resp.json())["errors"]] == ["UNAUTHORIZED"]
