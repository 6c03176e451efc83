"""GET /users, POST /users/:id/block and /unblock, DELETE /users/:id: GitLab's entities, codes
and who may call them; a blocked user is refused on /api/v4 and /v2 alike."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog import users as user_rows
from registry_service.catalog.db import Catalog
from tests.api.management.conftest import API, expect
from tests.factories import Factory, UserWithToken
from tests.oci_content import basic

BLOCKED = {"message": "403 Forbidden - Your account has been blocked."}


def basic_entity(user: UserWithToken) -> dict[str, object]:
    return {
        "id": user.user.id,
        "username": user.user.username,
        "name": user.user.name,
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": f"http://registry.test:5000/{user.user.username}",
    }


async def test_administrators_list_every_user_newest_first_with_admin_fields(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    await client.post(f"{API}/users/{alice.user.id}/block", headers=root.headers)

    body = await expect(await client.get(f"{API}/users", headers=root.headers), 200)

    assert [(u["username"], u["state"]) for u in body] == [
        ("alice", "blocked"), ("root", "active"),
    ]
    assert list(body[0]) == [
        "id", "username", "name", "state", "locked", "avatar_url", "web_url", "created_at",
        "bio", "email", "is_admin", "external",
    ]
    assert body[0]["email"] == "alice@example.test"


async def test_others_see_the_basic_entity_of_active_users_only(
    client: TestClient, factory: Factory, root: UserWithToken, alice: UserWithToken
) -> None:
    bob = await factory.user("bob")
    await client.post(f"{API}/users/{bob.user.id}/block", headers=root.headers)

    resp = await client.get(f"{API}/users", params={"sort": "asc"}, headers=alice.headers)

    await expect(resp, 200, [basic_entity(root), basic_entity(alice)])
    assert resp.headers["X-Total"] == "2"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"username": "ALICE"}, ["alice"]),
        ({"search": "bo"}, ["bob"]),
        ({"search": "carol@example"}, ["carol"]),  # administrators search emails too
        ({"active": "true"}, ["alice", "carol", "root"]),
        ({"blocked": "true"}, ["bob"]),
        ({"active": "true", "blocked": "true"}, []),
        ({"order_by": "username", "sort": "asc"}, ["alice", "bob", "carol", "root"]),
    ],
)
async def test_list_filters(
    client: TestClient,
    factory: Factory,
    root: UserWithToken,
    alice: UserWithToken,
    params: dict[str, str],
    expected: list[str],
) -> None:
    bob = await factory.user("bob")
    await factory.user("carol")
    await client.post(f"{API}/users/{bob.user.id}/block", headers=root.headers)

    resp = await client.get(
        f"{API}/users", params={"order_by": "username", "sort": "asc", **params},
        headers=root.headers,
    )

    assert [u["username"] for u in await expect(resp, 200)] == expected


async def test_users_list_is_paginated_with_gitlab_headers(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    for n in range(3):
        await factory.user(f"u{n}")
    resp = await client.get(f"{API}/users", params={"per_page": 2}, headers=root.headers)
    assert len(await expect(resp, 200)) == 2
    assert (resp.headers["X-Total"], resp.headers["X-Next-Page"]) == ("4", "2")
    assert 'rel="next"' in resp.headers["Link"]


async def test_listing_users_needs_a_token(client: TestClient, root: UserWithToken) -> None:
    await expect(await client.get(f"{API}/users"), 401, {"message": "401 Unauthorized"})


async def test_block_and_unblock_answer_201_with_gitlabs_bodies(
    client: TestClient, catalog: Catalog, root: UserWithToken, alice: UserWithToken
) -> None:
    block = f"{API}/users/{alice.user.id}/block"
    unblock = f"{API}/users/{alice.user.id}/unblock"
    # Unblocking an active user changes nothing: GitLab's state machine answers false.
    await expect(await client.post(unblock, headers=root.headers), 201, False)
    await expect(await client.post(block, headers=root.headers), 201, True)
    user = await user_rows.select_user_by_id(catalog.reader, alice.user.id)
    assert user is not None and user.state == "blocked"
    # Blocking again: GitLab's endpoint breaks out early, so the body is null.
    resp = await client.post(block, headers=root.headers)
    assert resp.status == 201 and await resp.text() == "null"
    await expect(await client.post(unblock, headers=root.headers), 201, True)
    user = await user_rows.select_user_by_id(catalog.reader, alice.user.id)
    assert user is not None and user.state == "active"
    await expect(await client.get(f"{API}/user", headers=alice.headers), 200)


async def test_an_administrator_cannot_block_themself(
    client: TestClient, root: UserWithToken
) -> None:
    resp = await client.post(f"{API}/users/{root.user.id}/block", headers=root.headers)
    await expect(resp, 403, {
        "message": "403 Forbidden - The API initiating user cannot be blocked by the API"
    })
    await expect(await client.get(f"{API}/user", headers=root.headers), 200)


@pytest.mark.parametrize("action", ["block", "unblock"])
async def test_block_is_for_administrators_and_404_for_unknown_users(
    client: TestClient, factory: Factory, root: UserWithToken, alice: UserWithToken, action: str
) -> None:
    bob = await factory.user("bob")
    await expect(await client.post(f"{API}/users/{bob.user.id}/{action}",
                                   headers=alice.headers), 403, {"message": "403 Forbidden"})
    await expect(await client.post(f"{API}/users/{bob.user.id}/{action}"), 401)
    for missing in ("999", "x"):
        await expect(await client.post(f"{API}/users/{missing}/{action}", headers=root.headers),
                     404, {"message": "404 User Not Found"})


async def test_a_blocked_users_token_is_refused_on_the_api_with_gitlabs_message(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    await client.post(f"{API}/users/{alice.user.id}/block", headers=root.headers)

    await expect(await client.get(f"{API}/user", headers=alice.headers), 403, BLOCKED)
    await expect(await client.get(f"{API}/projects", headers=alice.headers), 403, BLOCKED)


async def test_a_blocked_user_cannot_pull_even_a_public_image(
    client: TestClient, factory: Factory, root: UserWithToken, alice: UserWithToken
) -> None:
    await factory.project("acme/web", visibility="public")
    url = "/v2/acme/web/tags/list"
    auth = basic("alice", alice.token)
    # Before: a public project's (empty) repository is NAME_UNKNOWN, not an auth failure.
    assert (await client.get(url, headers=auth)).status == 404

    await client.post(f"{API}/users/{alice.user.id}/block", headers=root.headers)

    resp = await client.get(url, headers=auth)
    assert resp.status == 401
    assert "WWW-Authenticate" in resp.headers
    assert (await resp.json())["errors"][0]["code"] == "UNAUTHORIZED"
    v2 = await client.get("/v2/", headers=auth)
    assert v2.status == 401
