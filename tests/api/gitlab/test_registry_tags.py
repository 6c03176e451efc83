"""Tags of a repository over /api/v4 (gitlab-api.md E5, E7, E8): offset and keyset listing,
one tag's details from real pushed images, deleting one tag; and the URL encodings of §5."""

from __future__ import annotations

import re

import pytest
import yarl
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import API, REGISTRY_HOST, add_tags, make_repo, member, push
from tests.conftest import EXTERNAL_URL
from tests.factories import Factory, UserWithToken
from tests.jobs.tagsets import tag_names
from tests.oci_content import DOCKER_MANIFEST, artifact, image, index

TAG_DETAIL_FIELDS = [
    "name", "path", "location", "revision", "short_revision", "digest", "created_at",
    "total_size",
]


def links(header: str) -> list[tuple[str, str]]:
    parsed = [re.fullmatch(r'<([^>]*)>; rel="(\w+)"', part) for part in header.split(", ")]
    assert all(parsed), header
    return [(m.group(2), m.group(1)) for m in parsed if m]


# --- E5: offset pagination ----------------------------------------------------------------


async def test_tags_list_offset_with_every_header(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken,
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"), "app")
    names = [f"v{n:02d}" for n in range(25)]
    await add_tags(catalog, repo, list(reversed(names)), clock)

    resp = await client.get(f"{repo.url}/tags?per_page=10&page=2", headers=root.headers)

    assert resp.status == 200
    body = await resp.json()
    assert [t["name"] for t in body] == names[10:20]
    assert body[0] == {
        "name": "v10",
        "path": "acme/web/app:v10",
        "location": f"{REGISTRY_HOST}/acme/web/app:v10",
    }
    assert list(body[0]) == ["name", "path", "location"]
    h = resp.headers
    assert (h["X-Page"], h["X-Per-Page"], h["X-Next-Page"], h["X-Prev-Page"]) == (
        "2", "10", "3", "1")
    assert (h["X-Total"], h["X-Total-Pages"]) == ("25", "3")
    project_id, repo_id = repo.project.id, repo.id
    base = f"{EXTERNAL_URL}{repo.url}/tags"
    query = f"id={project_id}&page={{}}&per_page=10&repository_id={repo_id}"
    assert links(h["Link"]) == [
        (rel, f"{base}?{query.format(page)}")
        for rel, page in [("prev", 1), ("next", 3), ("first", 1), ("last", 3)]
    ]


async def test_tags_are_in_byte_order(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken,
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"))
    await add_tags(catalog, repo, ["b", "_x", "B", "a", "1", "A-b"], clock)
    resp = await client.get(f"{repo.url}/tags", headers=root.headers)
    assert [t["name"] for t in await resp.json()] == ["1", "A-b", "B", "_x", "a", "b"]


async def test_tags_of_a_repository_in_another_project_are_404(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    mine = await factory.project("acme/web")
    theirs = await make_repo(factory, await factory.project("acme/db"))
    resp = await client.get(
        f"{API}/projects/{mine.id}/registry/repositories/{theirs.id}/tags", headers=root.headers
    )
    assert resp.status == 404
    assert await resp.json() == {"message": "404 Not found"}


# --- E5: keyset pagination ----------------------------------------------------------------


@pytest.mark.parametrize("sort", ["asc", "desc"])
async def test_keyset_pages_follow_link_next_to_the_end(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken, sort: str,
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"))
    names = ["a", "b", "c", "d", "e"]
    await add_tags(catalog, repo, names, clock)
    expected = names if sort == "asc" else list(reversed(names))

    url: str | None = f"{repo.url}/tags?pagination=keyset&per_page=2&sort={sort}"
    seen: list[list[str]] = []
    while url is not None:
        resp = await client.get(url, headers=root.headers)
        assert resp.status == 200
        seen.append([t["name"] for t in await resp.json()])
        paging = {"X-Total", "X-Total-Pages", "X-Page", "X-Per-Page", "X-Next-Page", "X-Prev-Page"}
        assert not paging & set(resp.headers)
        link = resp.headers.get("Link")
        if link is None:
            url = None
            continue
        ((rel, target),) = links(link)
        assert rel == "next"
        assert target.startswith(EXTERNAL_URL)
        url = target.removeprefix(EXTERNAL_URL)

    assert seen == [expected[0:2], expected[2:4], expected[4:5]]


async def test_keyset_link_merges_per_page_last_and_sort_into_the_request_query(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken,
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"))
    await add_tags(catalog, repo, ["a", "b", "c"], clock)
    resp = await client.get(f"{repo.url}/tags?pagination=keyset&per_page=1",
                            headers=root.headers)
    assert resp.headers["Link"] == (
        f'<{EXTERNAL_URL}{repo.url}/tags?last=a&pagination=keyset&per_page=1&sort=asc>;'
        ' rel="next"'
    )


async def test_keyset_defaults_to_twenty_and_no_link_when_all_fit(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken,
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"))
    await add_tags(catalog, repo, [f"t{n:02d}" for n in range(21)], clock)
    first = await client.get(f"{repo.url}/tags?pagination=keyset", headers=root.headers)
    assert len(await first.json()) == 20
    assert "last=t19" in first.headers["Link"]
    last = await client.get(f"{repo.url}/tags?pagination=keyset&last=t19", headers=root.headers)
    assert [t["name"] for t in await last.json()] == ["t20"]
    assert "Link" not in last.headers


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("pagination=keyset&sort=sideways", "sort does not have a valid value"),
        ("pagination=cursor", "pagination does not have a valid value"),
        ("per_page=many", "per_page is invalid"),
    ],
)
async def test_bad_tag_list_parameters(
    client: TestClient, factory: Factory, root: UserWithToken, query: str, error: str
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"))
    resp = await client.get(f"{repo.url}/tags?{query}", headers=root.headers)
    assert resp.status == 400
    assert await resp.json() == {"error": error}


# --- E7: tag details ----------------------------------------------------------------------


async def test_tag_details_of_a_pushed_image(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    img = image(layers=3, layer_size=700, created="2019-01-06T16:49:51.272Z")
    await push(client, factory, "acme/web/app", img, "v1")
    repo = (await (await client.get(f"{API}/projects/{project.id}/registry/repositories",
                                    headers=root.headers)).json())[0]

    resp = await client.get(
        f"{API}/projects/{project.id}/registry/repositories/{repo['id']}/tags/v1",
        headers=root.headers,
    )

    assert resp.status == 200
    body = await resp.json()
    assert list(body) == TAG_DETAIL_FIELDS
    config = img.blobs[0]
    assert body == {
        "name": "v1",
        "path": "acme/web/app:v1",
        "location": f"{REGISTRY_HOST}/acme/web/app:v1",
        "revision": config.digest.removeprefix("sha256:"),
        "short_revision": config.digest.removeprefix("sha256:")[:9],
        "digest": img.digest,
        "created_at": "2019-01-06T16:49:51.272+00:00",
        # Layers only: the config blob is not counted.
        "total_size": 3 * 700,
    }


async def test_tag_details_of_a_docker_image_with_an_offset_date(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    img = image(media_type=DOCKER_MANIFEST, created="2024-03-01T10:00:00.5+02:00")
    await push(client, factory, "acme/web", img, "v1")
    repo = (await (await client.get(f"{API}/projects/{project.id}/registry/repositories",
                                    headers=root.headers)).json())[0]
    resp = await client.get(
        f"{API}/projects/{project.id}/registry/repositories/{repo['id']}/tags/v1",
        headers=root.headers,
    )
    body = await resp.json()
    assert body["created_at"] == "2024-03-01T08:00:00.500+00:00"
    assert body["digest"] == img.digest


async def test_tag_details_of_an_undated_image_has_null_created_at(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    await push(client, factory, "acme/web", image(created=None), "v1")
    repo = (await (await client.get(f"{API}/projects/{project.id}/registry/repositories",
                                    headers=root.headers)).json())[0]
    resp = await client.get(
        f"{API}/projects/{project.id}/registry/repositories/{repo['id']}/tags/v1",
        headers=root.headers,
    )
    assert (await resp.json())["created_at"] is None


async def test_tag_details_of_an_index_decision_4(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    older = image(layer_size=100, created="2025-01-01T00:00:00Z")
    newer = image(layer_size=300, created="2025-06-01T12:30:00.123Z", architecture="arm64")
    multi = index([older, newer])
    await push(client, factory, "acme/web", multi, "multi")
    repo = (await (await client.get(f"{API}/projects/{project.id}/registry/repositories",
                                    headers=root.headers)).json())[0]

    resp = await client.get(
        f"{API}/projects/{project.id}/registry/repositories/{repo['id']}/tags/multi",
        headers=root.headers,
    )

    body = await resp.json()
    assert list(body) == TAG_DETAIL_FIELDS
    # An index has no config: revision "" (UNCONFIRMED what GitLab's registry reports).
    assert body["revision"] == "" and body["short_revision"] == ""
    assert body["digest"] == multi.digest
    # The newest child's build date, and the children's layer sizes summed.
    assert body["created_at"] == "2025-06-01T12:30:00.123+00:00"
    assert body["total_size"] == 2 * 100 + 2 * 300


async def test_tag_details_of_an_artifact_dated_by_annotation(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    sbom = artifact(annotations={"org.opencontainers.image.created": "2025-02-03T04:05:06Z"})
    await push(client, factory, "acme/web", sbom, "sbom")
    repo = (await (await client.get(f"{API}/projects/{project.id}/registry/repositories",
                                    headers=root.headers)).json())[0]
    resp = await client.get(
        f"{API}/projects/{project.id}/registry/repositories/{repo['id']}/tags/sbom",
        headers=root.headers,
    )
    assert (await resp.json())["created_at"] == "2025-02-03T04:05:06.000+00:00"


async def test_unknown_tag_is_404_tag_not_found(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"))
    resp = await client.get(f"{repo.url}/tags/nope", headers=root.headers)
    assert resp.status == 404
    assert await resp.json() == {"message": "404 Tag Not Found"}


# --- E8: delete one tag -------------------------------------------------------------------


async def test_delete_one_tag_leaves_other_tags_on_the_same_manifest(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock
) -> None:
    project = await factory.project("acme/web")
    repo = await make_repo(factory, project)
    await add_tags(catalog, repo, ["v1", "stable", "v2"], clock, v1="x", stable="x")
    developer = await member(factory, project, AccessLevel.DEVELOPER)

    resp = await client.delete(f"{repo.url}/tags/v1", headers=developer.headers)

    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert await resp.text() == "200"
    assert await tag_names(catalog, repo.id) == {"stable", "v2"}
    again = await client.delete(f"{repo.url}/tags/v1", headers=developer.headers)
    assert again.status == 404
    assert await again.json() == {"message": "404 Tag Not Found"}


@pytest.mark.parametrize("level", [AccessLevel.GUEST, AccessLevel.REPORTER])
async def test_delete_one_tag_needs_developer(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    level: AccessLevel,
) -> None:
    project = await factory.project("acme/web", visibility="public")
    repo = await make_repo(factory, project)
    await add_tags(catalog, repo, ["v1"], clock)
    user = await member(factory, project, level)
    resp = await client.delete(f"{repo.url}/tags/v1", headers=user.headers)
    assert resp.status == 403
    assert await resp.json() == {"message": "403 Forbidden"}
    assert await tag_names(catalog, repo.id) == {"v1"}


async def test_delete_permission_is_checked_before_the_tag_exists(
    client: TestClient, factory: Factory
) -> None:
    project = await factory.project("acme/web", visibility="public")
    repo = await make_repo(factory, project)
    reporter = await member(factory, project, AccessLevel.REPORTER)
    resp = await client.delete(f"{repo.url}/tags/missing", headers=reporter.headers)
    assert resp.status == 403


# --- §5 encodings -------------------------------------------------------------------------


async def encoded_get(
    client: TestClient, path: str, headers: dict[str, str]
) -> ClientResponse:
    """GET with the path sent exactly as written (no client-side normalisation of %2E)."""
    url = yarl.URL(str(client.make_url("/")).rstrip("/") + path, encoded=True)
    return await client.session.get(url, headers=headers)


async def test_encoded_project_path_and_tag_name_reach_the_handlers(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken,
) -> None:
    project = await factory.project("acme/sub.x/web")
    repo = await make_repo(factory, project)
    await add_tags(catalog, repo, ["v1.0", "v1.1"], clock)
    ref = "acme%2Fsub%2Ex%2Fweb"
    base = f"{API}/projects/{ref}/registry/repositories"

    listed = await encoded_get(client, base, root.headers)
    assert listed.status == 200
    assert [r["id"] for r in await listed.json()] == [repo.id]

    tags = await encoded_get(client, f"{base}/{repo.id}/tags", root.headers)
    assert [t["name"] for t in await tags.json()] == ["v1.0", "v1.1"]
    # The Link keeps the path as it was sent.
    assert f"{EXTERNAL_URL}{base}/{repo.id}/tags?" in tags.headers["Link"]

    one = await encoded_get(client, f"{base}/{repo.id}/tags/v1%2E0", root.headers)
    assert one.status == 200
    assert (await one.json())["name"] == "v1.0"

    url = yarl.URL(str(client.make_url("/")).rstrip("/") + f"{base}/{repo.id}/tags/v1%2E1",
                   encoded=True)
    deleted = await client.session.delete(url, headers=root.headers)
    assert deleted.status == 200
    assert await tag_names(catalog, repo.id) == {"v1.0"}


async def test_encoded_slash_in_a_tag_name_is_one_segment(
    client: TestClient, factory: Factory, root: UserWithToken
) -> None:
    repo = await make_repo(factory, await factory.project("acme/web"))
    resp = await encoded_get(client, f"{repo.url}/tags/a%2Fb", root.headers)
    assert resp.status == 404
    assert await resp.json() == {"message": "404 Tag Not Found"}
