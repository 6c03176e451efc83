"""Container repositories over /api/v4 (gitlab-api.md E1-E3, §1, §2, §5): listing per project
and per group, and one repository by id (deletion, E4: test_repository_deletion.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import API, REGISTRY_HOST, add_tags, make_repo, member, push
from tests.conftest import EXTERNAL_URL
from tests.factories import Factory, UserWithToken
from tests.oci_content import image, index

REPOSITORY_FIELDS = [
    "id", "name", "path", "project_id", "location", "created_at", "cleanup_policy_started_at",
    "status",
]
ALL_FIELDS = [
    "id", "name", "path", "project_id", "location", "created_at", "cleanup_policy_started_at",
    "tags_count", "tags", "delete_api_path", "size", "status",
]
TRUE_FORMS = ["1", "on", "On", "ON", "t", "true", "True", "TRUE", "T", "y", "yes", "Yes", "YES",
              "Y"]
FALSE_FORMS = ["0", "off", "Off", "OFF", "f", "false", "False", "FALSE", "F", "n", "no", "No",
               "NO", "N"]


# --- E1: GET /projects/:id/registry/repositories ------------------------------------------


async def test_project_list_has_gitlab_fields_in_order(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken,
) -> None:
    project = await factory.project("Acme/Web")
    base = await make_repo(factory, project)
    sub = await make_repo(factory, project, "tools/cli")
    await add_tags(catalog, base, ["v1"], clock)

    resp = await client.get(f"{API}/projects/{project.id}/registry/repositories",
                            headers=root.headers)

    assert resp.status == 200
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert [list(r) for r in body] == [REPOSITORY_FIELDS, REPOSITORY_FIELDS]
    assert body == [
        {
            "id": base.id, "name": "", "path": "acme/web", "project_id": project.id,
            "location": f"{REGISTRY_HOST}/acme/web", "created_at": "2026-06-01T12:00:00.000Z",
            "cleanup_policy_started_at": None, "status": None,
        },
        {
            "id": sub.id, "name": "tools/cli", "path": "acme/web/tools/cli",
            "project_id": project.id, "location": f"{REGISTRY_HOST}/acme/web/tools/cli",
            "created_at": "2026-06-01T12:00:00.000Z", "cleanup_policy_started_at": None,
            "status": None,
        },
    ]


async def test_project_list_with_tags_and_tags_count(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken,
) -> None:
    project = await factory.project("acme/web")
    repo = await make_repo(factory, project)
    empty = await make_repo(factory, project, "empty")
    await add_tags(catalog, repo, ["v2", "latest", "V1", "1.0"], clock)

    resp = await client.get(
        f"{API}/projects/acme%2Fweb/registry/repositories?tags=true&tags_count=true",
        headers=root.headers,
    )

    body = await resp.json()
    expected_order = [*REPOSITORY_FIELDS[:7], "tags_count", "tags", "status"]
    assert list(body[0]) == expected_order
    assert body[0]["tags_count"] == 4
    # Byte order: digits, then upper case, then lower case.
    assert body[0]["tags"] == [
        {"name": n, "path": f"acme/web:{n}", "location": f"{REGISTRY_HOST}/acme/web:{n}"}
        for n in ["1.0", "V1", "latest", "v2"]
    ]
    assert [list(t) for t in body[0]["tags"]] == [["name", "path", "location"]] * 4
    assert body[1]["id"] == empty.id
    assert body[1]["tags_count"] == 0 and body[1]["tags"] == []


@pytest.mark.parametrize("form", TRUE_FORMS)
async def test_true_forms_of_booleans(
    client: TestClient, factory: Factory, root: UserWithToken, form: str
) -> None:
    project = await factory.project("acme/web")
    await make_repo(factory, project)
    resp = await client.get(
        f"{API}/projects/{project.id}/registry/repositories?tags={form}&tags_count={form}",
        headers=root.headers,
    )
    body = await resp.json()
    assert resp.status == 200
    assert "tags" in body[0] and "tags_count" in body[0]


@pytest.mark.parametrize("form", FALSE_FORMS)
async def test_false_forms_of_booleans(
    client: TestClient, factory: Factory, root: UserWithToken, form: str
) -> None:
    project = await factory.project("acme/web")
    await make_repo(factory, project)
    resp = await client.get(
        f"{API}/projects/{project.id}/registry/repositories?tags={form}&tags_count={form}",
        headers=root.headers,
    )
    body = await resp.json()
    assert resp.status == 200
    assert list(body[0]) == REPOSITORY_FIELDS


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("tags=maybe", "tags is invalid"),
        ("tags_count=2", "tags_count is invalid"),
        ("tags=x&tags_count=z", "tags is invalid, tags_count is invalid"),
        ("page=x", "page is invalid"),
    ],
)
async def test_bad_list_parameters_are_400(
    client: TestClient, factory: Factory, root: UserWithToken, query: str, error: str
) -> None:
    project = await factory.project("acme/web")
    resp = await client.get(
        f"{API}/projects/{project.id}/registry/repositories?{query}", headers=root.headers
    )
    assert resp.status == 400
    assert await resp.json() == {"error": error}


async def test_project_list_is_paginated_with_every_header(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    repos = [await make_repo(factory, project, f"r{n}") for n in range(5)]

    resp = await client.get(
        f"{API}/projects/acme%2Fweb/registry/repositories?per_page=2&page=2&tags=false",
        headers=root.headers,
    )

    assert [r["id"] for r in await resp.json()] == [repos[2].id, repos[3].id]
    h = resp.headers
    assert (h["X-Per-Page"], h["X-Page"], h["X-Next-Page"], h["X-Prev-Page"]) == ("2", "2", "3",
                                                                               "1")
    assert (h["X-Total"], h["X-Total-Pages"]) == ("5", "3")
    base = f"{EXTERNAL_URL}/api/v4/projects/acme%2Fweb/registry/repositories"
    query = "id=acme%2Fweb&page={}&per_page=2&tags=false"
    assert h["Link"] == ", ".join(
        f'<{base}?{query.format(page)}>; rel="{rel}"'
        for page, rel in [(1, "prev"), (3, "next"), (1, "first"), (3, "last")]
    )


async def test_empty_project_list_has_one_page(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    resp = await client.get(f"{API}/projects/{project.id}/registry/repositories",
                            headers=root.headers)
    assert await resp.json() == []
    assert resp.headers["X-Total"] == "0"
    assert resp.headers["X-Total-Pages"] == "1"
    assert resp.headers["X-Next-Page"] == ""


async def test_project_list_shows_only_that_projects_repositories(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    mine = await factory.project("acme/web")
    other = await factory.project("acme/db")
    await make_repo(factory, other)
    wanted = await make_repo(factory, mine)
    resp = await client.get(f"{API}/projects/{mine.id}/registry/repositories",
                            headers=root.headers)
    assert [r["id"] for r in await resp.json()] == [wanted.id]


@pytest.mark.parametrize("ref", ["99999", "acme%2Fnope"])
async def test_unknown_project_is_404(
    client: TestClient, root: UserWithToken, ref: str
) -> None:
    resp = await client.get(f"{API}/projects/{ref}/registry/repositories", headers=root.headers)
    assert resp.status == 404
    assert await resp.json() == {"message": "404 Project Not Found"}


async def test_read_check_comes_before_parameter_validation(
    client: TestClient, factory: Factory
) -> None:
    project = await factory.project("acme/web")
    guest = await member(factory, project, AccessLevel.GUEST)
    resp = await client.get(
        f"{API}/projects/{project.id}/registry/repositories?tags=maybe", headers=guest.headers
    )
    assert resp.status == 403
    assert await resp.json() == {"message": "403 Forbidden"}


# --- E2: GET /groups/:id/registry/repositories --------------------------------------------


async def test_group_list_includes_subgroups_and_skips_disabled_registries(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock
) -> None:
    top = await factory.group("top", visibility="private")
    await factory.group("top/sub", visibility="private")
    await factory.group("top/sub/inner", visibility="private")
    a = await make_repo(factory, await factory.project("top/a"))
    deep = await make_repo(factory, await factory.project("top/sub/inner/b"), "x")
    disabled = await factory.project("top/sub/off", registry="disabled")
    await make_repo(factory, disabled)
    await make_repo(factory, await factory.project("elsewhere/c"))
    await add_tags(catalog, a, ["v1"], clock)
    reporter = await factory.user()
    await factory.member(reporter.user, AccessLevel.REPORTER, group=top)

    resp = await client.get(
        f"{API}/groups/top/registry/repositories?tags=true&tags_count=true",
        headers=reporter.headers,
    )

    assert resp.status == 200
    body = await resp.json()
    assert [r["id"] for r in body] == [a.id, deep.id]
    # tags and tags_count are not parameters of the group list: never shown.
    assert [list(r) for r in body] == [REPOSITORY_FIELDS, REPOSITORY_FIELDS]
    assert body[1]["path"] == "top/sub/inner/b/x"
    assert resp.headers["X-Total"] == "2"


async def test_group_list_ignores_bad_tags_values(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    group = await factory.group("top")
    resp = await client.get(f"{API}/groups/{group.id}/registry/repositories?tags=maybe",
                            headers=root.headers)
    assert resp.status == 200
    assert await resp.json() == []


async def test_group_list_skips_projects_the_caller_cannot_read(
    client: TestClient, factory: Factory
) -> None:
    top = await factory.group("top", visibility="public")
    public = await make_repo(factory, await factory.project("top/pub", visibility="public"))
    secret = await factory.project("top/secret", visibility="private")
    await make_repo(factory, secret)
    reporter = await factory.user()
    await factory.member(reporter.user, AccessLevel.REPORTER, group=top)
    outsider_in_top = await factory.user()
    await factory.member(outsider_in_top.user, AccessLevel.REPORTER, project=secret)

    resp = await client.get(f"{API}/groups/top/registry/repositories", headers=reporter.headers)
    assert len(await resp.json()) == 2

    # A Reporter of the group reads its public project; a project member alone is not a
    # group member and may not list the group.
    resp = await client.get(f"{API}/groups/top/registry/repositories",
                            headers=outsider_in_top.headers)
    assert resp.status == 403
    assert public.id


async def test_group_list_paginates(client: TestClient, factory: Factory,
                                    root: UserWithToken) -> None:
    await factory.group("top")
    repos = [await make_repo(factory, await factory.project(f"top/p{n}")) for n in range(3)]
    resp = await client.get(f"{API}/groups/top/registry/repositories?per_page=2&page=2",
                            headers=root.headers)
    assert [r["id"] for r in await resp.json()] == [repos[2].id]
    assert resp.headers["X-Prev-Page"] == "1"
    assert resp.headers["X-Next-Page"] == ""
    assert resp.headers["Link"].startswith(
        f"<{EXTERNAL_URL}/api/v4/groups/top/registry/repositories?id=top&page=1&per_page=2>;"
        ' rel="prev"'
    )


@pytest.mark.parametrize(
    ("who", "status", "body"),
    [
        ("anonymous", 403, {"message": "403 Forbidden"}),
        ("guest", 403, {"message": "403 Forbidden"}),
        ("reporter", 200, None),
        ("admin", 200, None),
    ],
)
async def test_group_list_needs_reporter_in_the_group(
    client: TestClient, factory: Factory, who: str, status: int, body: Any
) -> None:
    top = await factory.group("top", visibility="public")
    headers: dict[str, str] = {}
    if who != "anonymous":
        user = await factory.user(admin=who == "admin")
        if who != "admin":
            level = AccessLevel.GUEST if who == "guest" else AccessLevel.REPORTER
            await factory.member(user.user, level, group=top)
        headers = user.headers
    resp = await client.get(f"{API}/groups/top/registry/repositories", headers=headers)
    assert resp.status == status
    if body is not None:
        assert await resp.json() == body


@pytest.mark.parametrize("ref", ["99999", "nope", "top%2Fnope"])
async def test_unknown_or_hidden_group_is_404(
    client: TestClient, factory: Factory, ref: str
) -> None:
    await factory.group("top", visibility="private")
    user = await factory.user()
    for target in (ref, "top"):
        resp = await client.get(f"{API}/groups/{target}/registry/repositories",
                                headers=user.headers)
        assert resp.status == 404
        assert await resp.json() == {"message": "404 Group Not Found"}


# --- E3: GET /registry/repositories/:id ---------------------------------------------------


async def test_single_repository_with_everything(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock
) -> None:
    project = await factory.project("acme/web")
    repo = await make_repo(factory, project, "app")
    await add_tags(catalog, repo, ["b", "a"], clock)
    maintainer = await member(factory, project, AccessLevel.MAINTAINER)

    resp = await client.get(
        f"{API}/registry/repositories/{repo.id}?tags=true&tags_count=1&size=yes",
        headers=maintainer.headers,
    )

    assert resp.status == 200
    body = await resp.json()
    assert list(body) == ALL_FIELDS
    assert body["delete_api_path"] == (
        f"{EXTERNAL_URL}/api/v4/projects/{project.id}/registry/repositories/{repo.id}"
    )
    assert body["tags_count"] == 2
    assert [t["name"] for t in body["tags"]] == ["a", "b"]
    assert body["tags"][0]["location"] == f"{REGISTRY_HOST}/acme/web/app:a"
    # Seeded manifests have no blobs.
    assert body["size"] == 0


async def test_single_repository_plain(
    client: TestClient, factory: Factory
) -> None:
    project = await factory.project("acme/web", visibility="public")
    repo = await make_repo(factory, project)
    reporter = await member(factory, project, AccessLevel.REPORTER)
    resp = await client.get(f"{API}/registry/repositories/{repo.id}", headers=reporter.headers)
    body = await resp.json()
    # A Reporter may not administer the repository: no delete_api_path.
    assert list(body) == REPOSITORY_FIELDS
    assert body["path"] == "acme/web"


async def test_size_counts_each_tagged_blob_once(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    amd, arm = image(layer_size=1000), image(layer_size=3000, architecture="arm64")
    multi = index([amd, arm])
    untagged = image(layer_size=5000)
    await push(client, factory, "acme/web", multi, "multi")
    await push(client, factory, "acme/web", amd, "amd", "amd-again")
    await push(client, factory, "acme/web", untagged)

    resp = await client.get(f"{API}/projects/{project.id}/registry/repositories",
                            headers=root.headers)
    (repo,) = await resp.json()
    resp = await client.get(f"{API}/registry/repositories/{repo['id']}?size=true",
                            headers=root.headers)

    expected = sum(len(blob.data) for blob in multi.all_blobs())
    assert (await resp.json())["size"] == expected


async def test_size_is_absent_unless_asked(client: TestClient, factory: Factory,
                                           root: UserWithToken) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"))
    resp = await client.get(f"{API}/registry/repositories/{repo.id}?size=false",
                            headers=root.headers)
    body = await resp.json()
    assert "size" not in body and "tags" not in body and "tags_count" not in body
    assert "delete_api_path" in body


async def test_single_repository_needs_a_signed_in_caller(
    client: TestClient, factory: Factory
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web", visibility="public"))
    # 401 comes before parameter validation (Grape's before block).
    for query in ("", "?tags=maybe"):
        resp = await client.get(f"{API}/registry/repositories/{repo.id}{query}")
        assert resp.status == 401
        assert await resp.json() == {"message": "401 Unauthorized"}


async def test_single_repository_not_readable_is_403_not_hidden(
    client: TestClient, factory: Factory
) -> None:
    repo = await make_repo(factory, await factory.project("acme/secret", visibility="private"))
    stranger = await factory.user()
    resp = await client.get(f"{API}/registry/repositories/{repo.id}", headers=stranger.headers)
    assert resp.status == 403
    assert await resp.json() == {"message": "403 Forbidden"}


async def test_single_repository_unknown_and_bad_ids(client: TestClient,
                                                     root: UserWithToken) -> None:
    resp = await client.get(f"{API}/registry/repositories/424242", headers=root.headers)
    assert resp.status == 404
    assert await resp.json() == {"message": "404 Not found"}
    resp = await client.get(f"{API}/registry/repositories/abc", headers=root.headers)
    assert resp.status == 404
    assert await resp.json() == {"error": "404 Not Found"}
    resp = await client.get(f"{API}/registry/repositories/1?size=perhaps", headers=root.headers)
    assert resp.status == 400
    assert await resp.json() == {"error": "size is invalid"}


async def test_created_at_has_milliseconds_and_z(
    client: TestClient, factory: Factory, root: UserWithToken, clock: SettableClock
) -> None:
    project = await factory.project("acme/web")
    factory.now = clock.now() + timedelta(microseconds=391_999)
    repo = await make_repo(factory, project)
    resp = await client.get(f"{API}/registry/repositories/{repo.id}", headers=root.headers)
    assert (await resp.json())["created_at"] == "2026-06-01T12:00:00.391Z"
