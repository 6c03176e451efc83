"""Who may do what with a project's container registry, as one table (gitlab-api.md §4).

Every actor (anonymous, a signed-in non-member, each project role, an administrator) against
every project visibility and registry access level, on every endpoint:

- ``read``: E1 list repositories, E5 list tags, E7 one tag (Reporter+, or anyone who sees a
  public/internal project whose registry is ``enabled``);
- ``single``: E3 ``/registry/repositories/:id`` (signed-in only: 401; no read → 403, the
  repository's existence is not hidden);
- ``delete_tag``: E8 (Developer+); ``bulk``: E6 and ``delete_repo``: E4 (Maintainer+).

Checks run in GitLab's order: a non-GET without a token is 401; a project the caller may not
see is ``404 Project Not Found``; no read ability is 403; then the operation's own ability.
A ``disabled`` registry is 403 for everyone, administrators included.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import add_tags, make_repo
from tests.factories import Factory

OK = "ok"
U = (401, {"message": "401 Unauthorized"})
F = (403, {"message": "403 Forbidden"})
H = (404, {"message": "404 Project Not Found"})

SUCCESS = {
    "list": 200, "tags": 200, "tag": 200, "single": 200,
    "delete_tag": 200, "bulk": 202, "delete_repo": 202,
}
ROLES = {
    "guest": AccessLevel.GUEST,
    "reporter": AccessLevel.REPORTER,
    "developer": AccessLevel.DEVELOPER,
    "maintainer": AccessLevel.MAINTAINER,
}

# fmt: off
MATRIX: list[tuple[str, str, str, Any, Any, Any, Any, Any]] = [
    # actor        visibility  registry    read  single  delete_tag  bulk  delete_repo
    ("anonymous",  "public",   "enabled",  OK,   U,      U,          U,    U),
    ("anonymous",  "public",   "private",  F,    U,      U,          U,    U),
    ("anonymous",  "public",   "disabled", F,    U,      U,          U,    U),
    ("anonymous",  "internal", "enabled",  H,    U,      U,          U,    U),
    ("anonymous",  "internal", "private",  H,    U,      U,          U,    U),
    ("anonymous",  "internal", "disabled", H,    U,      U,          U,    U),
    ("anonymous",  "private",  "enabled",  H,    U,      U,          U,    U),
    ("anonymous",  "private",  "private",  H,    U,      U,          U,    U),
    ("anonymous",  "private",  "disabled", H,    U,      U,          U,    U),
    ("non_member", "public",   "enabled",  OK,   OK,     F,          F,    F),
    ("non_member", "public",   "private",  F,    F,      F,          F,    F),
    ("non_member", "public",   "disabled", F,    F,      F,          F,    F),
    ("non_member", "internal", "enabled",  OK,   OK,     F,          F,    F),
    ("non_member", "internal", "private",  F,    F,      F,          F,    F),
    ("non_member", "internal", "disabled", F,    F,      F,          F,    F),
    ("non_member", "private",  "enabled",  H,    F,      H,          H,    H),
    ("non_member", "private",  "private",  H,    F,      H,          H,    H),
    ("non_member", "private",  "disabled", H,    F,      H,          H,    H),
    ("guest",      "public",   "enabled",  OK,   OK,     F,          F,    F),
    ("guest",      "public",   "private",  F,    F,      F,          F,    F),
    ("guest",      "public",   "disabled", F,    F,      F,          F,    F),
    ("guest",      "internal", "enabled",  OK,   OK,     F,          F,    F),
    ("guest",      "internal", "private",  F,    F,      F,          F,    F),
    ("guest",      "internal", "disabled", F,    F,      F,          F,    F),
    ("guest",      "private",  "enabled",  F,    F,      F,          F,    F),
    ("guest",      "private",  "private",  F,    F,      F,          F,    F),
    ("guest",      "private",  "disabled", F,    F,      F,          F,    F),
    ("reporter",   "public",   "enabled",  OK,   OK,     F,          F,    F),
    ("reporter",   "public",   "private",  OK,   OK,     F,          F,    F),
    ("reporter",   "public",   "disabled", F,    F,      F,          F,    F),
    ("reporter",   "internal", "enabled",  OK,   OK,     F,          F,    F),
    ("reporter",   "internal", "private",  OK,   OK,     F,          F,    F),
    ("reporter",   "internal", "disabled", F,    F,      F,          F,    F),
    ("reporter",   "private",  "enabled",  OK,   OK,     F,          F,    F),
    ("reporter",   "private",  "private",  OK,   OK,     F,          F,    F),
    ("reporter",   "private",  "disabled", F,    F,      F,          F,    F),
    ("developer",  "public",   "enabled",  OK,   OK,     OK,         F,    F),
    ("developer",  "public",   "private",  OK,   OK,     OK,         F,    F),
    ("developer",  "public",   "disabled", F,    F,      F,          F,    F),
    ("developer",  "internal", "enabled",  OK,   OK,     OK,         F,    F),
    ("developer",  "internal", "private",  OK,   OK,     OK,         F,    F),
    ("developer",  "internal", "disabled", F,    F,      F,          F,    F),
    ("developer",  "private",  "enabled",  OK,   OK,     OK,         F,    F),
    ("developer",  "private",  "private",  OK,   OK,     OK,         F,    F),
    ("developer",  "private",  "disabled", F,    F,      F,          F,    F),
    ("maintainer", "public",   "enabled",  OK,   OK,     OK,         OK,   OK),
    ("maintainer", "public",   "private",  OK,   OK,     OK,         OK,   OK),
    ("maintainer", "public",   "disabled", F,    F,      F,          F,    F),
    ("maintainer", "internal", "enabled",  OK,   OK,     OK,         OK,   OK),
    ("maintainer", "internal", "private",  OK,   OK,     OK,         OK,   OK),
    ("maintainer", "internal", "disabled", F,    F,      F,          F,    F),
    ("maintainer", "private",  "enabled",  OK,   OK,     OK,         OK,   OK),
    ("maintainer", "private",  "private",  OK,   OK,     OK,         OK,   OK),
    ("maintainer", "private",  "disabled", F,    F,      F,          F,    F),
    ("admin",      "public",   "enabled",  OK,   OK,     OK,         OK,   OK),
    ("admin",      "public",   "private",  OK,   OK,     OK,         OK,   OK),
    ("admin",      "public",   "disabled", F,    F,      F,          F,    F),
    ("admin",      "internal", "enabled",  OK,   OK,     OK,         OK,   OK),
    ("admin",      "internal", "private",  OK,   OK,     OK,         OK,   OK),
    ("admin",      "internal", "disabled", F,    F,      F,          F,    F),
    ("admin",      "private",  "enabled",  OK,   OK,     OK,         OK,   OK),
    ("admin",      "private",  "private",  OK,   OK,     OK,         OK,   OK),
    ("admin",      "private",  "disabled", F,    F,      F,          F,    F),
]
# fmt: on

CASES = [
    pytest.param(actor, visibility, registry, operation, expected,
                 id=f"{actor}-{visibility}-{registry}-{operation}")
    for actor, visibility, registry, read, single, delete_tag, bulk, delete_repo in MATRIX
    for operation, expected in (
        ("list", read), ("tags", read), ("tag", read), ("single", single),
        ("delete_tag", delete_tag), ("bulk", bulk), ("delete_repo", delete_repo),
    )
]


@pytest.mark.parametrize(("actor", "visibility", "registry", "operation", "expected"), CASES)
async def test_registry_access_matrix(
    client: TestClient,
    factory: Factory,
    catalog: Catalog,
    clock: SettableClock,
    actor: str,
    visibility: str,
    registry: str,
    operation: str,
    expected: Any,
) -> None:
    project = await factory.project("top/app", visibility=visibility, registry=registry)
    repo = await make_repo(factory, project)
    await add_tags(catalog, repo, ["v1", "v2"], clock)
    headers: dict[str, str] = {}
    if actor != "anonymous":
        user = await factory.user(admin=actor == "admin")
        if actor in ROLES:
            await factory.member(user.user, ROLES[actor], project=project)
        headers = user.headers
    projects = f"/api/v4/projects/{project.id}/registry/repositories"

    requests = {
        "list": ("GET", projects),
        "tags": ("GET", f"{repo.url}/tags"),
        "tag": ("GET", f"{repo.url}/tags/v1"),
        "single": ("GET", f"/api/v4/registry/repositories/{repo.id}"),
        "delete_tag": ("DELETE", f"{repo.url}/tags/v1"),
        "bulk": ("DELETE", f"{repo.url}/tags?name_regex_delete=.*"),
        "delete_repo": ("DELETE", repo.url),
    }
    method, url = requests[operation]
    resp = await client.request(method, url, headers=headers)

    body = await resp.json()
    if expected == OK:
        assert resp.status == SUCCESS[operation], body
    else:
        assert (resp.status, body) == expected


def test_matrix_covers_every_actor_visibility_and_registry_level() -> None:
    rows = {(actor, visibility, registry) for actor, visibility, registry, *_ in MATRIX}
    actors = ["anonymous", "non_member", *ROLES, "admin"]
    assert rows == {
        (a, v, r)
        for a in actors
        for v in ("public", "internal", "private")
        for r in ("enabled", "private", "disabled")
    }
    assert len(MATRIX) == len(rows)


@pytest.mark.parametrize(
    ("scopes", "method", "status", "body"),
    [
        (("read_api",), "GET", 200, None),
        (("read_api",), "DELETE", 403, {
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the"
            " access token.",
            "scope": "api",
        }),
        (("read_registry",), "GET", 403, None),
        (("read_registry", "write_registry"), "DELETE", 403, None),
        (("api",), "DELETE", 200, None),
    ],
)
async def test_token_scopes(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    scopes: tuple[str, ...], method: str, status: int, body: Any,
) -> None:
    """``read_api`` is GET-only; registry scopes give no REST access at all (§4)."""
    project = await factory.project("top/app")
    repo = await make_repo(factory, project)
    await add_tags(catalog, repo, ["v1"], clock)
    user = await factory.user(scopes=scopes)
    await factory.member(user.user, AccessLevel.MAINTAINER, project=project)
    resp = await client.request(method, f"{repo.url}/tags/v1", headers=user.headers)
    assert resp.status == status
    payload = await resp.json()
    if body is not None:
        assert payload == body
    if status == 403:
        assert payload["error"] == "insufficient_scope"


async def test_group_membership_is_inherited_by_subgroup_projects(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock
) -> None:
    top = await factory.group("top", visibility="private")
    await factory.group("top/sub", visibility="private")
    project = await factory.project("top/sub/app")
    repo = await make_repo(factory, project)
    await add_tags(catalog, repo, ["v1"], clock)
    developer = await factory.user()
    await factory.member(developer.user, AccessLevel.DEVELOPER, group=top)
    assert (await client.delete(f"{repo.url}/tags/v1", headers=developer.headers)).status == 200
    assert (await client.delete(repo.url, headers=developer.headers)).status == 403
