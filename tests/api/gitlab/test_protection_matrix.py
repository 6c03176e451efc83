"""The permission matrix of protection rules (issue 14): for every rule kind, who may push a
new tag, overwrite one, delete one on /v2 and on /api/v4, ask for a bulk delete (whose dry run
must keep the protected tag), and delete the repository.

Each cell starts from ``acme/web:v1`` pushed by an administrator and one rule:

- ``protected``: tags ``^v`` — push Maintainer+, delete Owner+;
- ``immutable``: tags ``^v``, immutable;
- ``repository``: repository ``acme/web`` — push Owner+, delete administrators only.

Without a rule a Developer may push and overwrite, and Maintainers may do everything.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import API, member
from tests.factories import Factory, UserWithToken
from tests.oci_content import Registry, basic, image

RULES: dict[str, tuple[str, dict[str, Any]]] = {
    "protected": ("tag", {
        "tag_name_pattern": "^v", "minimum_access_level_for_push": "maintainer",
        "minimum_access_level_for_delete": "owner",
    }),
    "immutable": ("tag", {"tag_name_pattern": "^v", "immutable": True}),
    "repository": ("repository", {
        "repository_path_pattern": "acme/web", "minimum_access_level_for_push": "owner",
        "minimum_access_level_for_delete": "admin",
    }),
}
OPERATIONS = ("push_new", "overwrite", "delete_v2", "delete_api", "bulk", "delete_repo")
Y, N = True, False

# fmt: off
MATRIX: list[tuple[str, str, tuple[bool, ...]]] = [
    # rule          actor        push_new overwrite delete_v2 delete_api bulk delete_repo
    ("none",       "developer",  (Y, Y, N, Y, N, N)),
    ("none",       "maintainer", (Y, Y, Y, Y, Y, Y)),
    ("protected",  "developer",  (N, N, N, N, N, N)),
    ("protected",  "maintainer", (Y, Y, N, N, Y, N)),
    ("protected",  "owner",      (Y, Y, Y, Y, Y, N)),
    ("protected",  "admin",      (Y, Y, Y, Y, Y, Y)),
    ("immutable",  "developer",  (Y, N, N, N, N, N)),
    ("immutable",  "maintainer", (Y, N, N, N, Y, N)),
    ("immutable",  "owner",      (Y, N, N, N, Y, N)),
    ("immutable",  "admin",      (Y, N, N, N, Y, N)),
    ("repository", "developer",  (N, N, N, N, N, N)),
    ("repository", "maintainer", (N, N, N, N, N, N)),
    ("repository", "owner",      (Y, Y, N, N, N, N)),
    ("repository", "admin",      (Y, Y, Y, Y, Y, Y)),
]
# fmt: on
CASES = [
    pytest.param(rule, actor, operation, allowed[i], id=f"{rule}-{actor}-{operation}")
    for rule, actor, allowed in MATRIX
    for i, operation in enumerate(OPERATIONS)
]
LEVELS = {
    "developer": AccessLevel.DEVELOPER,
    "maintainer": AccessLevel.MAINTAINER,
    "owner": AccessLevel.OWNER,
}


@pytest.mark.parametrize(("rule", "actor", "operation", "allowed"), CASES)
async def test_protection_matrix(
    client: TestClient, factory: Factory, root: UserWithToken, rule: str, actor: str,
    operation: str, allowed: bool,
) -> None:
    project = await factory.project("acme/web")
    admin_registry = Registry(client, basic(root.user.username, root.token))
    first, second = image(), image()
    await admin_registry.push_image("acme/web", first, "v1")
    for blob in second.blobs:
        await admin_registry.push_blob("acme/web", blob)
    if rule != "none":
        kind, body = RULES[rule]
        made = await client.post(
            f"{API}/projects/{project.id}/registry/protection/{kind}/rules", json=body,
            headers=root.headers,
        )
        assert made.status == 201, await made.text()
    person = root if actor == "admin" else await member(
        factory, project, LEVELS[actor], username=actor
    )
    registry = Registry(client, basic(person.user.username, person.token))
    listed = await client.get(
        f"{API}/projects/{project.id}/registry/repositories", headers=root.headers
    )
    repo_url = f"{API}/projects/{project.id}/registry/repositories/{(await listed.json())[0]['id']}"

    if operation == "push_new":
        status = (await registry.put_manifest("acme/web", second, "v2")).status
        assert (status == 201) is allowed, status
    elif operation == "overwrite":
        status = (await registry.put_manifest("acme/web", second, "v1")).status
        assert (status == 201) is allowed, status
    elif operation == "delete_v2":
        status = (await registry.call("DELETE", "/v2/acme/web/manifests/v1")).status
        assert (status == 202) is allowed, status
    elif operation == "delete_api":
        status = (await client.delete(f"{repo_url}/tags/v1", headers=person.headers)).status
        assert (status == 200) is allowed, status
    elif operation == "bulk":
        resp = await client.delete(
            f"{repo_url}/tags", params={"name_regex_delete": ".*", "dry_run": "true"},
            headers=person.headers,
        )
        assert (resp.status == 200) is allowed, resp.status
        if allowed:
            preview = await resp.json()
            protected = rule in ("protected", "immutable")
            assert ("v1" in preview["would_delete"]) is not protected
    else:
        status = (await client.delete(repo_url, headers=person.headers)).status
        assert (status == 202) is allowed, status
    if not allowed and operation != "delete_repo":
        # Whatever was refused left the tag where it was.
        pulled = await admin_registry.call("GET", "/v2/acme/web/manifests/v1")
        assert pulled.headers["Docker-Content-Digest"] == first.digest
