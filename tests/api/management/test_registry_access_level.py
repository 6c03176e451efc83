"""``container_registry_access_level`` through PUT /projects/:id: shown by GET, and enforced
on /v2 and the registry API (disabled: nobody; private: members only)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.api.management.conftest import API, expect
from tests.factories import Factory, UserWithToken
from tests.oci_content import basic


async def test_put_sets_the_level_and_get_shows_it(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    for level in ("private", "disabled", "enabled"):
        resp = await client.put(f"{API}/projects/{project.id}",
                                json={"container_registry_access_level": level},
                                headers=root.headers)
        body = await expect(resp, 200)
        assert body["container_registry_access_level"] == level
        assert body["container_registry_enabled"] is (level != "disabled")
        shown = await expect(await client.get(f"{API}/projects/{project.id}",
                                              headers=root.headers), 200)
        assert shown["container_registry_access_level"] == level


async def test_put_refuses_unknown_levels_and_developers(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    dev = await factory.user("dev")
    await factory.member(dev.user, 30, project=project)
    url = f"{API}/projects/{project.id}"
    await expect(await client.put(url, json={"container_registry_access_level": "public"},
                                  headers=root.headers), 400,
                 {"error": "container_registry_access_level does not have a valid value"})
    await expect(await client.put(url, json={"container_registry_access_level": "disabled"},
                                  headers=dev.headers), 403)


@pytest.mark.parametrize(
    ("level", "stranger", "member"),
    [("enabled", 404, 404), ("private", 403, 404), ("disabled", 403, 403)],
)
async def test_the_level_is_enforced_on_v2(
    client: TestClient, factory: Factory, root: UserWithToken, alice: UserWithToken,
    level: str, stranger: int, member: int,
) -> None:
    """404 is NAME_UNKNOWN for the never-pushed repository: the caller got past the checks."""
    project = await factory.project("acme/web", visibility="public")
    reporter = await factory.user("reporter")
    await factory.member(reporter.user, 20, project=project)
    await client.put(f"{API}/projects/{project.id}",
                     json={"container_registry_access_level": level}, headers=root.headers)

    as_stranger = await client.get("/v2/acme/web/tags/list", headers=basic("alice", alice.token))
    as_member = await client.get("/v2/acme/web/tags/list",
                                 headers=basic("reporter", reporter.token))
    anonymous = await client.get("/v2/acme/web/tags/list")

    assert (as_stranger.status, as_member.status) == (stranger, member)
    assert anonymous.status == (404 if level == "enabled" else 401)
    repos = await client.get(f"{API}/projects/{project.id}/registry/repositories",
                             headers=alice.headers)
    assert repos.status == (200 if level == "enabled" else 403)
