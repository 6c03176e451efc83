from tests.factories import Factory


async def test_current_user_with_token(client, factory: Factory) -> None:
    alice = await factory.user("alice")
    resp = await client.get("/api/v4/user", headers=alice.headers)
    assert resp.status == 200
    body = await resp.json()
    assert body["username"] == "alice"


async def test_project_by_encoded_path(client, factory: Factory) -> None:
    alice = await factory.user("alice")
    project = await factory.project("acme/sub.x/web", visibility="public")
    resp = await client.get("/api/v4/projects/acme%2Fsub%2Ex%2Fweb", headers=alice.headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["id"] == project.id
