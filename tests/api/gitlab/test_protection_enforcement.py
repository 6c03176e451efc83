"""Who may push, overwrite and delete under protection rules (issue 14, points 3-4), as
scenarios over both APIs: tag rules (protected and immutable) and repository rules, on /v2
pushes and deletes, /api/v4 tag deletes, bulk delete requests and repository deletions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.rows import Project
from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import API, member
from tests.factories import Factory, UserWithToken
from tests.oci_content import Image, Registry, basic, expect_error, image

V1_RULE = {
    "tag_name_pattern": "^v[0-9]",
    "minimum_access_level_for_push": "maintainer",
    "minimum_access_level_for_delete": "owner",
}
IMMUTABLE_RULE = {"tag_name_pattern": "^rel-", "immutable": True}


@dataclass(frozen=True)
class Team:
    project: Project
    developer: UserWithToken
    maintainer: UserWithToken
    owner: UserWithToken
    admin: UserWithToken

    def registry(self, client: TestClient, who: str) -> Registry:
        person: UserWithToken = getattr(self, who)
        return Registry(client, basic(person.user.username, person.token))


@pytest.fixture
async def team(factory: Factory, root: UserWithToken) -> Team:
    project = await factory.project("acme/web")
    return Team(
        project,
        await member(factory, project, AccessLevel.DEVELOPER, username="dev"),
        await member(factory, project, AccessLevel.MAINTAINER, username="mia"),
        await member(factory, project, AccessLevel.OWNER, username="olive"),
        root,
    )


async def add_rule(client: TestClient, team: Team, kind: str, body: dict[str, Any]) -> int:
    url = f"{API}/projects/{team.project.id}/registry/protection/{kind}/rules"
    resp = await client.post(url, json=body, headers=team.admin.headers)
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"])


async def repository_id(client: TestClient, team: Team, name: str) -> int:
    listed = await client.get(
        f"{API}/projects/{team.project.id}/registry/repositories", headers=team.admin.headers
    )
    paths = {r["path"]: r["id"] for r in await listed.json()}
    return int(paths[name])


# --- pushes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("developer", False), ("maintainer", True), ("owner", True), ("admin", True)],
)
async def test_a_protected_tag_is_pushed_only_from_its_push_level(
    client: TestClient, team: Team, who: str, allowed: bool
) -> None:
    rule_id = await add_rule(client, team, "tag", V1_RULE)
    registry = team.registry(client, who)
    img = image()
    for blob in img.blobs:
        await registry.push_blob("acme/web", blob)
    resp = await registry.put_manifest("acme/web", img, "v1.0")
    if allowed:
        assert resp.status == 201, await resp.text()
        return
    error = await expect_error(resp, 403, "DENIED")
    assert error["message"] == (
        f"tag 'v1.0' is protected by tag protection rule {rule_id} ('^v[0-9]'): pushing it"
        " needs the maintainer role or higher"
    )
    # The same through ?tag= on a push by digest; an unprotected tag is still the
    # developer's to push.
    by_digest = await registry.put_manifest("acme/web", img, tags=("v2",))
    await expect_error(by_digest, 403, "DENIED")
    assert (await registry.put_manifest("acme/web", img, "dev-1")).status == 201


async def test_the_most_restrictive_matching_rule_applies(
    client: TestClient, team: Team
) -> None:
    await add_rule(client, team, "tag", V1_RULE)
    strict = await add_rule(client, team, "tag", {
        "tag_name_pattern": "-final$", "minimum_access_level_for_push": "owner",
        "minimum_access_level_for_delete": "owner",
    })
    maintainer = team.registry(client, "maintainer")
    img = image()
    for blob in img.blobs:
        await maintainer.push_blob("acme/web", blob)
    assert (await maintainer.put_manifest("acme/web", img, "v1")).status == 201
    refused = await expect_error(
        await maintainer.put_manifest("acme/web", img, "v1-final"), 403, "DENIED"
    )
    assert f"rule {strict} " in refused["message"]
    owner = team.registry(client, "owner")
    assert (await owner.put_manifest("acme/web", img, "v1-final")).status == 201


async def test_an_immutable_tag_is_created_by_developers_and_never_moved(
    client: TestClient, team: Team
) -> None:
    rule_id = await add_rule(client, team, "tag", IMMUTABLE_RULE)
    developer = team.registry(client, "developer")
    first, second = image(), image()
    await developer.push_image("acme/web", first, "rel-1")
    # Pushing the digest it already has changes nothing, so it is allowed (CI retries).
    assert (await developer.put_manifest("acme/web", first, "rel-1")).status == 201
    for blob in second.blobs:
        await developer.push_blob("acme/web", blob)
    for who in ("developer", "owner", "admin"):
        resp = await team.registry(client, who).put_manifest("acme/web", second, "rel-1")
        error = await expect_error(resp, 403, "DENIED")
        assert error["message"] == (
            f"tag 'rel-1' is immutable (immutable tag rule {rule_id} ('^rel-')): it cannot be"
            " overwritten"
        )
    pulled = await developer.call("GET", "/v2/acme/web/manifests/rel-1")
    assert pulled.headers["Docker-Content-Digest"] == first.digest


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("developer", False), ("maintainer", False), ("owner", True), ("admin", True)],
)
async def test_a_protected_repository_takes_pushes_only_from_its_push_level(
    client: TestClient, team: Team, who: str, allowed: bool
) -> None:
    rule_id = await add_rule(client, team, "repository", {
        "repository_path_pattern": "acme/web/release*", "minimum_access_level_for_push": "owner",
    })
    registry = team.registry(client, who)
    img = image()
    upload = await registry.call("POST", "/v2/acme/web/release-x/blobs/uploads/")
    if allowed:
        assert upload.status == 202
        await registry.push_image("acme/web/release-x", img, "latest")
        return
    error = await expect_error(upload, 403, "DENIED")
    assert error["message"] == (
        f"repository 'acme/web/release-x' is protected by repository protection rule {rule_id}"
        " ('acme/web/release*'): pushing to it needs the owner role or higher"
    )
    # Another repository of the project is not matched.
    await registry.push_image("acme/web/nightly", img, "latest")


# --- deletes --------------------------------------------------------------------------------


@pytest.fixture
async def tagged(client: TestClient, team: Team) -> dict[str, Image]:
    """``acme/web`` with v1 (protected), rel-1 (immutable), dev (neither) and, as admin,
    the rules in place."""
    images = {"v1": image(), "rel-1": image(), "dev": image()}
    for tag, img in images.items():
        await team.registry(client, "admin").push_image("acme/web", img, tag)
    await add_rule(client, team, "tag", V1_RULE)
    await add_rule(client, team, "tag", IMMUTABLE_RULE)
    return images


@pytest.mark.parametrize(
    ("who", "tag", "allowed"),
    [
        ("maintainer", "v1", False), ("owner", "v1", True), ("admin", "v1", True),
        ("admin", "rel-1", False), ("owner", "rel-1", False), ("maintainer", "dev", True),
    ],
)
async def test_deleting_a_tag_on_v2_follows_its_rules(
    client: TestClient, team: Team, tagged: dict[str, Image], who: str, tag: str,
    allowed: bool,
) -> None:
    registry = team.registry(client, who)
    resp = await registry.call("DELETE", f"/v2/acme/web/manifests/{tag}")
    if allowed:
        assert resp.status == 202
        return
    await expect_error(resp, 403, "DENIED")
    # By digest the manifest would take the tag along: refused the same.
    by_digest = await registry.call("DELETE", f"/v2/acme/web/manifests/{tagged[tag].digest}")
    await expect_error(by_digest, 403, "DENIED")
    assert (await registry.call("GET", f"/v2/acme/web/manifests/{tag}")).status == 200


async def test_deleting_a_missing_protected_tag_is_still_unknown(
    client: TestClient, team: Team, tagged: dict[str, Image]
) -> None:
    resp = await team.registry(client, "maintainer").call(
        "DELETE", "/v2/acme/web/manifests/v9"
    )
    await expect_error(resp, 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize(
    ("who", "tag", "status"),
    [
        ("developer", "dev", 200), ("maintainer", "v1", 403), ("owner", "v1", 200),
        ("admin", "rel-1", 403), ("owner", "missing-v1", 404),
    ],
)
async def test_deleting_a_tag_on_api_v4_follows_its_rules(
    client: TestClient, team: Team, tagged: dict[str, Image], who: str, tag: str, status: int
) -> None:
    repo_id = await repository_id(client, team, "acme/web")
    person: UserWithToken = getattr(team, who)
    resp = await client.delete(
        f"{API}/projects/{team.project.id}/registry/repositories/{repo_id}/tags/{tag}",
        headers=person.headers,
    )
    assert resp.status == status, await resp.text()
    if status == 403:
        assert (await resp.json())["message"].startswith(f"403 Forbidden - tag '{tag}' is ")


async def test_a_protected_repository_refuses_deletes_below_its_level_everywhere(
    client: TestClient, team: Team
) -> None:
    await team.registry(client, "admin").push_image("acme/web", image(), "dev")
    await add_rule(client, team, "repository", {
        "repository_path_pattern": "acme/web", "minimum_access_level_for_delete": "admin",
    })
    repo_id = await repository_id(client, team, "acme/web")
    repo_url = f"{API}/projects/{team.project.id}/registry/repositories/{repo_id}"
    h = team.owner.headers
    await expect_error(
        await team.registry(client, "owner").call("DELETE", "/v2/acme/web/manifests/dev"),
        403, "DENIED",
    )
    assert (await client.delete(f"{repo_url}/tags/dev", headers=h)).status == 403
    bulk = await client.delete(f"{repo_url}/tags", params={"name_regex_delete": ".*"}, headers=h)
    assert bulk.status == 403
    assert (await client.delete(repo_url, headers=h)).status == 403
    # Pushing is not restricted by a delete-only rule; the administrator may delete.
    await team.registry(client, "owner").push_image("acme/web", image(), "dev2")
    assert (await client.delete(repo_url, headers=team.admin.headers)).status == 202


@pytest.mark.parametrize(
    ("rule", "who", "status"),
    [
        (IMMUTABLE_RULE, "admin", 403),
        (IMMUTABLE_RULE, "owner", 403),
        (V1_RULE, "owner", 403),
        (V1_RULE, "admin", 202),
    ],
)
async def test_a_repository_holding_protected_tags_is_deleted_only_as_gitlab_allows(
    client: TestClient, team: Team, rule: dict[str, Any], who: str, status: int
) -> None:
    for tag in ("v1", "rel-1"):
        await team.registry(client, "admin").push_image("acme/web", image(), tag)
    await add_rule(client, team, "tag", rule)
    repo_id = await repository_id(client, team, "acme/web")
    person: UserWithToken = getattr(team, who)
    resp = await client.delete(
        f"{API}/projects/{team.project.id}/registry/repositories/{repo_id}",
        headers=person.headers,
    )
    assert resp.status == status, await resp.text()


async def test_a_repository_whose_tags_no_rule_matches_is_deleted(
    client: TestClient, team: Team
) -> None:
    await team.registry(client, "admin").push_image("acme/web", image(), "dev")
    await add_rule(client, team, "tag", IMMUTABLE_RULE)
    repo_id = await repository_id(client, team, "acme/web")
    resp = await client.delete(
        f"{API}/projects/{team.project.id}/registry/repositories/{repo_id}",
        headers=team.maintainer.headers,
    )
    assert resp.status == 202


async def test_the_dry_run_shows_protected_tags_as_kept(
    client: TestClient, team: Team, tagged: dict[str, Image]
) -> None:
    repo_id = await repository_id(client, team, "acme/web")
    resp = await client.delete(
        f"{API}/projects/{team.project.id}/registry/repositories/{repo_id}/tags",
        params={"name_regex_delete": ".*", "dry_run": "true"},
        headers=team.maintainer.headers,
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["would_delete"] == ["dev"]
    assert body["kept"] == [
        {"name": "rel-1", "reason": "protected"}, {"name": "v1", "reason": "protected"},
    ]
    assert body["counts"]["protected"] == 2
    assert body["kept_by_reason"] == {"protected": 2}


async def test_a_deploy_token_pushes_like_a_role_below_every_rule(
    client: TestClient, factory: Factory, team: Team
) -> None:
    await add_rule(client, team, "tag", V1_RULE)
    await add_rule(client, team, "tag", IMMUTABLE_RULE)
    minted = await factory.deploy_token(
        project=team.project, scopes=("read_registry", "write_registry")
    )
    registry = Registry(client, basic(minted.token.username, minted.value))
    img = image()
    for blob in img.blobs:
        await registry.push_blob("acme/web", blob)
    # A deploy token has no role: a protected tag is refused, a new immutable one is created.
    await expect_error(await registry.put_manifest("acme/web", img, "v1"), 403, "DENIED")
    assert (await registry.put_manifest("acme/web", img, "rel-1")).status == 201
    assert (await registry.put_manifest("acme/web", img, "dev")).status == 201


@pytest.mark.parametrize(
    ("rule", "who", "status"),
    [
        (IMMUTABLE_RULE, "admin", 403),
        (V1_RULE, "owner", 403),
        (V1_RULE, "admin", 202),
    ],
)
async def test_deleting_a_project_or_group_follows_the_repository_deletion_rule(
    client: TestClient, team: Team, rule: dict[str, Any], who: str, status: int
) -> None:
    for tag in ("v1", "rel-1"):
        await team.registry(client, "admin").push_image("acme/web/api", image(), tag)
    await add_rule(client, team, "tag", rule)
    person: UserWithToken = getattr(team, who)
    group = await client.get(f"{API}/groups/acme", headers=team.admin.headers)
    group_resp = await client.delete(
        f"{API}/groups/{(await group.json())['id']}", headers=person.headers
    )
    project_resp = await client.delete(
        f"{API}/projects/{team.project.id}", headers=person.headers
    )
    if status == 403:
        assert group_resp.status == 403, await group_resp.text()
        assert project_resp.status == 403, await project_resp.text()
        assert (await project_resp.json())["message"].startswith(
            "403 Forbidden - the repository holds tag '"
        )
        # Nothing was marked: the project still answers.
        still = await client.get(f"{API}/projects/{team.project.id}", headers=person.headers)
        assert still.status == 200
    else:
        assert group_resp.status == 202, await group_resp.text()


# --- the same through the docker token flow -------------------------------------------------


async def bearer_registry(client: TestClient, team: Team, who: str, path: str) -> Registry:
    person: UserWithToken = getattr(team, who)
    resp = await client.get(
        "/jwt/auth",
        params={"service": "container_registry", "scope": f"repository:{path}:pull,push"},
        headers=basic(person.user.username, person.token),
    )
    assert resp.status == 200, await resp.text()
    return Registry(client, {"Authorization": f"Bearer {(await resp.json())['token']}"})


@pytest.mark.parametrize(("who", "allowed"), [("developer", False), ("maintainer", True)])
async def test_rules_hold_for_registry_tokens_as_for_basic(
    client: TestClient, team: Team, who: str, allowed: bool
) -> None:
    """A token's push meets the project's rules at the level its holder had when it was
    issued: a Developer's token pushes no protected tag and into no protected repository."""
    tag_rule = await add_rule(client, team, "tag", V1_RULE)
    repository_rule = await add_rule(client, team, "repository", {
        "repository_path_pattern": "acme/web/release*",
        "minimum_access_level_for_push": "maintainer",
    })
    registry = await bearer_registry(client, team, who, "acme/web")
    img = image()
    for blob in img.blobs:
        await registry.push_blob("acme/web", blob)
    resp = await registry.put_manifest("acme/web", img, "v1.0")
    released = await bearer_registry(client, team, who, "acme/web/release-x")
    upload = await released.call("POST", "/v2/acme/web/release-x/blobs/uploads/")
    if allowed:
        assert resp.status == 201, await resp.text()
        assert upload.status == 202, await upload.text()
        return
    error = await expect_error(resp, 403, "DENIED")
    assert f"tag protection rule {tag_rule}" in error["message"]
    error = await expect_error(upload, 403, "DENIED")
    assert f"repository protection rule {repository_rule}" in error["message"]
    # Unprotected tags are still the developer's to push with the same token.
    assert (await registry.put_manifest("acme/web", img, "dev-1")).status == 201
