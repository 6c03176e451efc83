"""Members of projects and groups: direct and inherited lists, one member, a new level, a
removal; Maintainers manage a project's members, Owners a group's, only Owners touch Owners,
anybody may leave, and a group keeps its last Owner."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.rows import Namespace, Project
from registry_service.services.permissions import AccessLevel
from tests.api.management.conftest import API, expect
from tests.factories import Factory, UserWithToken

FORBIDDEN = {"message": "403 Forbidden"}
NOT_FOUND = {"message": "404 Not found"}


def entity(person: UserWithToken, level: int) -> dict[str, Any]:
    return {
        "id": person.user.id,
        "username": person.user.username,
        "name": person.user.name,
        "state": "active",
        "avatar_url": None,
        "web_url": f"http://registry.test:5000/{person.user.username}",
        "access_level": level,
        "created_at": "2026-06-01T12:00:00.000Z",
        "expires_at": None,
    }


@pytest.fixture
async def tree(factory: Factory) -> tuple[Namespace, Namespace, Project]:
    top = await factory.group("acme")
    sub = await factory.group("acme/platform")
    return top, sub, await factory.project("acme/platform/web")


async def test_direct_and_inherited_project_members(
    client: TestClient, factory: Factory, tree: tuple[Namespace, Namespace, Project],
    root: UserWithToken,
) -> None:
    top, sub, project = tree
    owner = await factory.user("owner")
    dev = await factory.user("dev")
    await factory.member(owner.user, 50, group=top)
    await factory.member(dev.user, 20, group=sub)
    await factory.member(dev.user, 30, project=project)
    await factory.member(dev.user, 10, group=top)

    direct = await client.get(f"{API}/projects/{project.id}/members", headers=dev.headers)
    await expect(direct, 200, [entity(dev, 30)])
    assert direct.headers["X-Total"] == "1"

    every = await client.get(f"{API}/projects/{project.id}/members/all", headers=dev.headers)
    # Each user once, at the highest level any source gives them.
    await expect(every, 200, [entity(owner, 50), entity(dev, 30)])

    one = await client.get(f"{API}/projects/{project.id}/members/all/{owner.user.id}",
                           headers=dev.headers)
    await expect(one, 200, entity(owner, 50))
    await expect(await client.get(f"{API}/projects/{project.id}/members/{owner.user.id}",
                                  headers=dev.headers), 404, NOT_FOUND)
    await expect(await client.get(f"{API}/groups/{sub.id}/members/all", headers=root.headers),
                 200, [entity(owner, 50), entity(dev, 20)])
    await expect(await client.get(f"{API}/groups/{sub.id}/members", headers=root.headers),
                 200, [entity(dev, 20)])
    searched = await client.get(f"{API}/projects/{project.id}/members/all",
                                params={"query": "own"}, headers=dev.headers)
    await expect(searched, 200, [entity(owner, 50)])


async def test_members_of_a_hidden_project_are_404(
    client: TestClient, factory: Factory, tree: tuple[Namespace, Namespace, Project],
    alice: UserWithToken,
) -> None:
    _, _, project = tree
    await expect(await client.get(f"{API}/projects/{project.id}/members", headers=alice.headers),
                 404, {"message": "404 Project Not Found"})


@pytest.mark.parametrize(
    ("actor_level", "target_level", "new_level", "status"),
    [
        (40, 30, 20, 200),   # a Maintainer changes a Developer
        (30, 20, 10, 403),   # a Developer may not manage members
        (40, 50, 30, 403),   # only an Owner touches an Owner
        (40, 30, 50, 403),   # or makes one
        (50, 30, 50, 200),
    ],
)
async def test_who_may_change_a_project_members_level(
    client: TestClient, factory: Factory, actor_level: int, target_level: int, new_level: int,
    status: int,
) -> None:
    project = await factory.project("acme/web")
    actor = await factory.user("actor")
    target = await factory.user("target")
    await factory.member(actor.user, actor_level, project=project)
    await factory.member(target.user, target_level, project=project)

    resp = await client.put(f"{API}/projects/{project.id}/members/{target.user.id}",
                            json={"access_level": new_level, "expires_at": "2030-01-02"},
                            headers=actor.headers)

    if status == 200:
        await expect(resp, 200, {**entity(target, new_level), "expires_at": "2030-01-02"})
    else:
        await expect(resp, status, FORBIDDEN)


async def test_edit_validates_first_and_misses_are_404(
    client: TestClient, factory: Factory, root: UserWithToken, alice: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    url = f"{API}/projects/{project.id}/members/{alice.user.id}"
    await expect(await client.put(url, json={}, headers=root.headers), 400,
                 {"error": "access_level is missing"})
    await expect(await client.put(url, json={"access_level": 35}, headers=root.headers), 400,
                 {"error": "access_level does not have a valid value"})
    await expect(await client.put(url, json={"access_level": 30}, headers=root.headers), 404,
                 NOT_FOUND)
    await expect(await client.delete(url, headers=root.headers), 404, NOT_FOUND)


async def test_remove_a_project_member_and_leave(
    client: TestClient, factory: Factory, alice: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    maintainer = await factory.user("maint")
    dev = await factory.user("dev")
    await factory.member(maintainer.user, 40, project=project)
    await factory.member(dev.user, 30, project=project)
    await factory.member(alice.user, 30, project=project)

    # A Developer may not remove someone else, but may leave.
    await expect(await client.delete(f"{API}/projects/{project.id}/members/{alice.user.id}",
                                     headers=dev.headers), 403, FORBIDDEN)
    resp = await client.delete(f"{API}/projects/{project.id}/members/{dev.user.id}",
                               headers=dev.headers)
    assert resp.status == 204
    resp = await client.delete(f"{API}/projects/{project.id}/members/{alice.user.id}",
                               headers=maintainer.headers)
    assert resp.status == 204
    listed = await client.get(f"{API}/projects/{project.id}/members", headers=maintainer.headers)
    assert [m["username"] for m in await expect(listed, 200)] == ["maint"]
    # Gone means gone: the former member no longer sees the private project.
    await expect(await client.get(f"{API}/projects/{project.id}", headers=alice.headers), 404)


async def test_a_groups_last_owner_can_be_neither_removed_nor_demoted(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    group = await factory.group("acme")
    owner = await factory.user("owner")
    await factory.member(owner.user, 50, group=group)
    url = f"{API}/groups/{group.id}/members/{owner.user.id}"
    last = {"message": "403 Forbidden - a group's last Owner cannot be removed or demoted"}

    await expect(await client.delete(url, headers=owner.headers), 403, last)
    await expect(await client.put(url, json={"access_level": 40}, headers=root.headers), 403,
                 last)

    second = await factory.user("second")
    await factory.member(second.user, 50, group=group)
    await expect(await client.put(url, json={"access_level": 40}, headers=second.headers), 200)
    assert (await client.delete(url, headers=second.headers)).status == 204


async def test_group_members_are_managed_by_owners(
    client: TestClient, factory: Factory
) -> None:
    group = await factory.group("acme")
    maintainer = await factory.user("maint")
    dev = await factory.user("dev")
    await factory.member(maintainer.user, 40, group=group)
    await factory.member(dev.user, 30, group=group)
    url = f"{API}/groups/{group.id}/members/{dev.user.id}"
    await expect(await client.put(url, json={"access_level": 20}, headers=maintainer.headers),
                 403, FORBIDDEN)
    await expect(await client.delete(url, headers=maintainer.headers), 403, FORBIDDEN)


async def test_changing_members_needs_a_token(client: TestClient, factory: Factory) -> None:
    project = await factory.project("acme/web", visibility="public")
    await expect(await client.get(f"{API}/projects/{project.id}/members"), 200, [])
    await expect(await client.put(f"{API}/projects/{project.id}/members/1",
                                  json={"access_level": 30}), 401)
    await expect(await client.delete(f"{API}/projects/{project.id}/members/1"), 401)


async def test_a_level_change_takes_effect_on_the_registry(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    dev = await factory.user("dev")
    await factory.member(dev.user, int(AccessLevel.GUEST), project=project)
    repos = f"{API}/projects/{project.id}/registry/repositories"
    await expect(await client.get(repos, headers=dev.headers), 403)
    await client.put(f"{API}/projects/{project.id}/members/{dev.user.id}",
                     json={"access_level": 20}, headers=root.headers)
    await expect(await client.get(repos, headers=dev.headers), 200, [])
