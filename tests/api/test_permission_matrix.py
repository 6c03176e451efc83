"""Who may read a project and who may add members to it, as one table (gitlab-api.md §2, §4).

Reading is ``GET /api/v4/projects/:id``; writing is ``POST /api/v4/projects/:id/members``
adding another user as Developer. GitLab's order of checks: a non-GET request without a token
is 401 before anything else; a project the caller may not see is ``404 Project Not Found``; a
visible project with too low a role is ``403 Forbidden``.

Roles are given either on the project's top-level GROUP (``via="group"``: the project lives at
``top/sub/app``, so the membership is inherited through a nested subgroup) or directly on the
project (``via="project"``); every role is exercised both ways on every visibility.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.rows import Project
from registry_service.services.permissions import AccessLevel
from tests.factories import Factory

OK = (200, None)
CREATED = (201, None)
UNAUTHORIZED = (401, {"message": "401 Unauthorized"})
FORBIDDEN = (403, {"message": "403 Forbidden"})
HIDDEN = (404, {"message": "404 Project Not Found"})

ROLES = {
    "guest": AccessLevel.GUEST,
    "reporter": AccessLevel.REPORTER,
    "developer": AccessLevel.DEVELOPER,
    "maintainer": AccessLevel.MAINTAINER,
    "owner": AccessLevel.OWNER,
}

# fmt: off
MATRIX: list[tuple[str, str | None, str, tuple[int, Any], tuple[int, Any]]] = [
    # actor         via        visibility  read    write
    ("anonymous",   None,      "public",   OK,     UNAUTHORIZED),
    ("anonymous",   None,      "internal", HIDDEN, UNAUTHORIZED),
    ("anonymous",   None,      "private",  HIDDEN, UNAUTHORIZED),
    ("non_member",  None,      "public",   OK,     FORBIDDEN),
    ("non_member",  None,      "internal", OK,     FORBIDDEN),
    ("non_member",  None,      "private",  HIDDEN, HIDDEN),
    # External users see internal projects only where they are members.
    ("external",    None,      "public",   OK,     FORBIDDEN),
    ("external",    None,      "internal", HIDDEN, HIDDEN),
    ("external",    None,      "private",  HIDDEN, HIDDEN),
    ("guest",       "group",   "public",   OK,     FORBIDDEN),
    ("guest",       "group",   "internal", OK,     FORBIDDEN),
    ("guest",       "group",   "private",  OK,     FORBIDDEN),
    ("guest",       "project", "public",   OK,     FORBIDDEN),
    ("guest",       "project", "internal", OK,     FORBIDDEN),
    ("guest",       "project", "private",  OK,     FORBIDDEN),
    ("reporter",    "group",   "public",   OK,     FORBIDDEN),
    ("reporter",    "group",   "internal", OK,     FORBIDDEN),
    ("reporter",    "group",   "private",  OK,     FORBIDDEN),
    ("reporter",    "project", "public",   OK,     FORBIDDEN),
    ("reporter",    "project", "internal", OK,     FORBIDDEN),
    ("reporter",    "project", "private",  OK,     FORBIDDEN),
    ("developer",   "group",   "public",   OK,     FORBIDDEN),
    ("developer",   "group",   "internal", OK,     FORBIDDEN),
    ("developer",   "group",   "private",  OK,     FORBIDDEN),
    ("developer",   "project", "public",   OK,     FORBIDDEN),
    ("developer",   "project", "internal", OK,     FORBIDDEN),
    ("developer",   "project", "private",  OK,     FORBIDDEN),
    ("maintainer",  "group",   "public",   OK,     CREATED),
    ("maintainer",  "group",   "internal", OK,     CREATED),
    ("maintainer",  "group",   "private",  OK,     CREATED),
    ("maintainer",  "project", "public",   OK,     CREATED),
    ("maintainer",  "project", "internal", OK,     CREATED),
    ("maintainer",  "project", "private",  OK,     CREATED),
    ("owner",       "group",   "public",   OK,     CREATED),
    ("owner",       "group",   "internal", OK,     CREATED),
    ("owner",       "group",   "private",  OK,     CREATED),
    ("owner",       "project", "public",   OK,     CREATED),
    ("owner",       "project", "internal", OK,     CREATED),
    ("owner",       "project", "private",  OK,     CREATED),
    ("admin",       None,      "public",   OK,     CREATED),
    ("admin",       None,      "internal", OK,     CREATED),
    ("admin",       None,      "private",  OK,     CREATED),
]
# fmt: on

CASES = [
    pytest.param(
        actor, via, visibility, operation, expected,
        id=f"{actor}{'-via-' + via if via else ''}-{visibility}-{operation}",
    )
    for actor, via, visibility, read, write in MATRIX
    for operation, expected in (("read", read), ("write", write))
]


async def headers_for(
    factory: Factory, actor: str, via: str | None, project: Project
) -> dict[str, str]:
    """Create the actor and give it its role; anonymous callers send no token."""
    if actor == "anonymous":
        return {}
    user = await factory.user(admin=actor == "admin", external=actor == "external")
    if actor in ROLES:
        if via == "group":
            top = await factory.group("top", visibility="public")
            await factory.member(user.user, ROLES[actor], group=top)
        else:
            await factory.member(user.user, ROLES[actor], project=project)
    return user.headers


@pytest.mark.parametrize(("actor", "via", "visibility", "operation", "expected"), CASES)
async def test_project_access_matrix(
    client: TestClient,
    factory: Factory,
    actor: str,
    via: str | None,
    visibility: str,
    operation: str,
    expected: tuple[int, Any],
) -> None:
    project = await factory.project("top/sub/app", visibility=visibility)
    headers = await headers_for(factory, actor, via, project)
    other = await factory.user("newcomer")
    url = f"/api/v4/projects/{project.id}"

    if operation == "read":
        resp = await client.get(url, headers=headers)
    else:
        resp = await client.post(
            f"{url}/members", json={"user_id": other.user.id, "access_level": 30}, headers=headers
        )

    status, error_body = expected
    body = await resp.json()
    assert resp.status == status, body
    if error_body is not None:
        assert body == error_body
    elif operation == "read":
        assert body["id"] == project.id
        assert body["path_with_namespace"] == "top/sub/app"
    else:
        assert body["id"] == other.user.id
        assert body["username"] == "newcomer"
        assert body["access_level"] == 30


def test_matrix_covers_every_actor_on_every_visibility() -> None:
    rows = {(actor, via, visibility) for actor, via, visibility, _, _ in MATRIX}
    assert len(rows) == len(MATRIX)
    for visibility in ("public", "internal", "private"):
        for actor in ("anonymous", "non_member", "admin"):
            assert (actor, None, visibility) in rows
        for role in ROLES:
            assert (role, "group", visibility) in rows
            assert (role, "project", visibility) in rows


async def test_added_member_gains_the_role(client: TestClient, factory: Factory) -> None:
    project = await factory.project("top/sub/app", visibility="private")
    maintainer = await factory.user()
    await factory.member(maintainer.user, AccessLevel.MAINTAINER, project=project)
    newcomer = await factory.user()
    url = f"/api/v4/projects/{project.id}"
    assert (await client.get(url, headers=newcomer.headers)).status == 404

    resp = await client.post(
        f"{url}/members",
        json={"user_id": newcomer.user.id, "access_level": 30},
        headers=maintainer.headers,
    )

    assert resp.status == 201
    assert (await client.get(url, headers=newcomer.headers)).status == 200
