"""Personal access tokens through the API: list (own; all or user_id for administrators), one
by id or ``self``, revoke (204), rotate (a new value once, the old one revoked)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from registry_service.clock import SettableClock
from tests.api.management.conftest import API, expect
from tests.factories import Factory, UserWithToken

NOT_FOUND = {"message": "404 Not found"}


def token_entity(token_id: int, user: UserWithToken, **changes: object) -> dict[str, object]:
    return {
        "id": token_id,
        "name": "test",
        "revoked": False,
        "created_at": "2026-06-01T12:00:00.000Z",
        "scopes": ["api"],
        "user_id": user.user.id,
        "last_used_at": None,
        "active": True,
        "expires_at": None,
        **changes,
    }


async def token_id_of(client: TestClient, person: UserWithToken) -> int:
    body = await expect(await client.get(f"{API}/personal_access_tokens/self",
                                         headers=person.headers), 200)
    return int(body["id"])


async def test_users_list_their_own_tokens_and_administrators_everyones(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    root_id = await token_id_of(client, root)
    alice_id = await token_id_of(client, alice)

    mine = await client.get(f"{API}/personal_access_tokens", headers=alice.headers)
    await expect(mine, 200, [token_entity(alice_id, alice)])
    assert mine.headers["X-Total"] == "1"
    every = await client.get(f"{API}/personal_access_tokens", headers=root.headers)
    assert [t["id"] for t in await expect(every, 200)] == [root_id, alice_id]
    hers = await client.get(f"{API}/personal_access_tokens", params={"user_id": alice.user.id},
                            headers=root.headers)
    assert [t["id"] for t in await expect(hers, 200)] == [alice_id]


async def test_user_id_filter_rules(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    others = await client.get(f"{API}/personal_access_tokens", params={"user_id": root.user.id},
                              headers=alice.headers)
    await expect(others, 401, {"message": "401 Unauthorized"})
    own = await client.get(f"{API}/personal_access_tokens", params={"user_id": alice.user.id},
                           headers=alice.headers)
    assert len(await expect(own, 200)) == 1
    await expect(await client.get(f"{API}/personal_access_tokens", params={"user_id": 999},
                                  headers=root.headers), 404)


async def test_get_one_token_own_or_as_administrator(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    alice_id = await token_id_of(client, alice)
    root_id = await token_id_of(client, root)
    url = f"{API}/personal_access_tokens"
    await expect(await client.get(f"{url}/{alice_id}", headers=alice.headers), 200,
                 token_entity(alice_id, alice))
    await expect(await client.get(f"{url}/{alice_id}", headers=root.headers), 200)
    await expect(await client.get(f"{url}/{root_id}", headers=alice.headers), 404,
                 {"message": "404 Not Found"})
    await expect(await client.get(f"{url}/999", headers=alice.headers), 404, NOT_FOUND)
    await expect(await client.get(f"{url}/self"), 401)


async def test_a_registry_only_token_may_read_and_revoke_itself(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    value = await factory.token(alice.user, scopes=("read_registry",))
    headers = {"PRIVATE-TOKEN": value}
    me = await expect(await client.get(f"{API}/personal_access_tokens/self", headers=headers),
                      200)
    assert me["scopes"] == ["read_registry"]
    # Its scopes still keep it off everything else.
    await expect(await client.get(f"{API}/personal_access_tokens", headers=headers), 403)
    resp = await client.delete(f"{API}/personal_access_tokens/self", headers=headers)
    assert resp.status == 204
    await expect(await client.get(f"{API}/personal_access_tokens/self", headers=headers), 401)
    # The user's other token is untouched.
    await expect(await client.get(f"{API}/user", headers=alice.headers), 200)


async def test_revoke_by_id(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    alice_id = await token_id_of(client, alice)
    root_id = await token_id_of(client, root)
    await expect(await client.delete(f"{API}/personal_access_tokens/{root_id}",
                                     headers=alice.headers), 400, {"message": "400 Bad request"})
    await expect(await client.delete(f"{API}/personal_access_tokens/999",
                                     headers=alice.headers), 404, NOT_FOUND)
    assert (await client.delete(f"{API}/personal_access_tokens/{alice_id}",
                                headers=root.headers)).status == 204
    await expect(await client.get(f"{API}/user", headers=alice.headers), 401)
    listed = await client.get(f"{API}/personal_access_tokens", params={"user_id": alice.user.id},
                              headers=root.headers)
    await expect(listed, 200, [token_entity(alice_id, alice, revoked=True, active=False)])


async def test_rotate_returns_a_new_token_once_and_revokes_the_old(
    client: TestClient, clock: SettableClock, alice: UserWithToken
) -> None:
    old_id = await token_id_of(client, alice)

    resp = await client.post(f"{API}/personal_access_tokens/{old_id}/rotate",
                             headers=alice.headers)

    body = await expect(resp, 200)
    new_value = body.pop("token")
    assert new_value.startswith("glpat-") and new_value != alice.token
    assert body == token_entity(body["id"], alice, expires_at="2026-06-08")
    assert body["id"] != old_id
    await expect(await client.get(f"{API}/user", headers=alice.headers), 401)
    again = await client.get(f"{API}/personal_access_tokens/{body['id']}",
                             headers={"PRIVATE-TOKEN": new_value})
    assert "token" not in await expect(again, 200)
    # The old one cannot be rotated a second time.
    second = await client.post(f"{API}/personal_access_tokens/{old_id}/rotate",
                               headers={"PRIVATE-TOKEN": new_value})
    await expect(second, 400, {"message": "400 Bad request - token already revoked"})


async def test_self_rotate_with_an_expiry(
    client: TestClient, root: UserWithToken, alice: UserWithToken
) -> None:
    resp = await client.post(f"{API}/personal_access_tokens/self/rotate",
                             json={"expires_at": "2026-12-31"}, headers=alice.headers)
    body = await expect(resp, 200)
    assert body["expires_at"] == "2026-12-31"
    await expect(await client.get(f"{API}/user", headers={"PRIVATE-TOKEN": body["token"]}), 200)

    root_id = await token_id_of(client, root)
    other = await client.post(f"{API}/personal_access_tokens/{root_id}/rotate",
                              headers={"PRIVATE-TOKEN": body["token"]})
    await expect(other, 400, {"message": "400 Bad request - not allowed to rotate this token"})
    past = await client.post(f"{API}/personal_access_tokens/self/rotate",
                             json={"expires_at": "2026-06-01"},
                             headers={"PRIVATE-TOKEN": body["token"]})
    await expect(past, 400, {"message": "400 Bad request - expires_at must be in the future"})
    await expect(await client.post(f"{API}/personal_access_tokens/self/rotate",
                                   json={"expires_at": "soon"}, headers=root.headers), 400,
                 {"error": "expires_at is invalid"})
