"""GitLab's offset pagination on list endpoints (gitlab-api.md §5): page/per_page rules, the
X-* headers and the Link header built from the configured external URL."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, make_mocked_request

from registry_service.http.pagination import Page, pagination_headers
from tests.conftest import EXTERNAL_URL
from tests.factories import Factory, UserWithToken

BASE = f"{EXTERNAL_URL}/api/v4/projects"
TOTAL = 45


@pytest.fixture
async def admin(factory: Factory) -> UserWithToken:
    for n in range(1, TOTAL + 1):
        await factory.project(f"acme/p{n:02d}", visibility="private")
    return await factory.user("root", admin=True)


async def all_ids(client: TestClient, admin: UserWithToken) -> list[int]:
    resp = await client.get("/api/v4/projects?per_page=100", headers=admin.headers)
    ids = [p["id"] for p in await resp.json()]
    assert len(ids) == TOTAL
    return ids


def links(header: str) -> list[tuple[str, str]]:
    """``(rel, url)`` pairs in the order the Link header lists them."""
    parts = header.split(", ")
    parsed = [re.fullmatch(r'<([^>]*)>; rel="(\w+)"', part) for part in parts]
    assert all(parsed), header
    return [(m.group(2), m.group(1)) for m in parsed if m]


async def test_middle_page_has_every_header(client: TestClient, admin: UserWithToken) -> None:
    ids = await all_ids(client, admin)

    resp = await client.get("/api/v4/projects?per_page=20&page=2", headers=admin.headers)

    assert resp.status == 200
    assert [p["id"] for p in await resp.json()] == ids[20:40]
    h = resp.headers
    assert h["X-Per-Page"] == "20"
    assert h["X-Page"] == "2"
    assert h["X-Next-Page"] == "3"
    assert h["X-Prev-Page"] == "1"
    assert h["X-Total"] == "45"
    assert h["X-Total-Pages"] == "3"
    assert links(h["Link"]) == [
        ("prev", f"{BASE}?page=1&per_page=20"),
        ("next", f"{BASE}?page=3&per_page=20"),
        ("first", f"{BASE}?page=1&per_page=20"),
        ("last", f"{BASE}?page=3&per_page=20"),
    ]
    # The exact separator: comma and one space.
    assert h["Link"] == (
        f'<{BASE}?page=1&per_page=20>; rel="prev", <{BASE}?page=3&per_page=20>; rel="next", '
        f'<{BASE}?page=1&per_page=20>; rel="first", <{BASE}?page=3&per_page=20>; rel="last"'
    )


async def test_first_page_has_empty_prev_and_no_prev_link(
    client: TestClient, admin: UserWithToken
) -> None:
    resp = await client.get("/api/v4/projects?per_page=20", headers=admin.headers)
    h = resp.headers
    assert h["X-Page"] == "1"
    assert h["X-Prev-Page"] == ""
    assert h["X-Next-Page"] == "2"
    assert [rel for rel, _ in links(h["Link"])] == ["next", "first", "last"]


async def test_last_page_has_empty_next_and_no_next_link(
    client: TestClient, admin: UserWithToken
) -> None:
    ids = await all_ids(client, admin)

    resp = await client.get("/api/v4/projects?per_page=20&page=3", headers=admin.headers)

    assert [p["id"] for p in await resp.json()] == ids[40:]
    h = resp.headers
    assert h["X-Next-Page"] == ""
    assert h["X-Prev-Page"] == "2"
    assert [rel for rel, _ in links(h["Link"])] == ["prev", "first", "last"]


async def test_empty_list_still_has_one_page(client: TestClient, factory: Factory) -> None:
    await factory.project("acme/hidden", visibility="private")
    loner = await factory.user("loner")

    resp = await client.get("/api/v4/projects?membership=true", headers=loner.headers)

    assert await resp.json() == []
    h = resp.headers
    assert h["X-Total"] == "0"
    assert h["X-Total-Pages"] == "1"
    assert h["X-Page"] == "1"
    assert h["X-Next-Page"] == ""
    assert h["X-Prev-Page"] == ""
    assert links(h["Link"]) == [
        ("first", f"{BASE}?membership=true&page=1&per_page=20"),
        ("last", f"{BASE}?membership=true&page=1&per_page=20"),
    ]


async def test_links_keep_every_param_sorted_with_defaults(
    client: TestClient, admin: UserWithToken
) -> None:
    resp = await client.get(
        "/api/v4/projects?sort=asc&search=p&page=2&order_by=id&per_page=20",
        headers=admin.headers,
    )

    assert resp.status == 200
    assert links(resp.headers["Link"])[0] == (
        "prev",
        f"{BASE}?order_by=id&page=1&per_page=20&search=p&sort=asc",
    )


async def test_links_include_default_page_and_per_page(
    client: TestClient, admin: UserWithToken
) -> None:
    resp = await client.get("/api/v4/projects", headers=admin.headers)
    assert dict(links(resp.headers["Link"])) == {
        "next": f"{BASE}?page=2&per_page=20",
        "first": f"{BASE}?page=1&per_page=20",
        "last": f"{BASE}?page=3&per_page=20",
    }


async def test_links_encode_values_like_rails_to_query(
    client: TestClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    resp = await client.get(
        "/api/v4/projects", params={"search": "a b&c"}, headers=alice.headers
    )
    assert dict(links(resp.headers["Link"]))["first"] == (
        f"{BASE}?page=1&per_page=20&search=a+b%26c"
    )


@pytest.mark.parametrize(
    "param", ["private_token", "PRIVATE_TOKEN", "private_token[]", "Access-Token", "job_token"]
)
async def test_links_never_echo_a_token_parameter_in_any_spelling(
    client: TestClient, admin: UserWithToken, param: str
) -> None:
    resp = await client.get(
        "/api/v4/projects", params={param: "s3cret-value", "search": "p"}, headers=admin.headers
    )
    assert resp.status == 200
    assert dict(links(resp.headers["Link"]))["first"] == f"{BASE}?page=1&per_page=20&search=p"


async def test_links_use_the_external_url_not_the_request_host(
    client: TestClient, admin: UserWithToken
) -> None:
    resp = await client.get(
        "/api/v4/projects", headers={**admin.headers, "Host": "elsewhere.example:1234"}
    )
    for _, url in links(resp.headers["Link"]):
        assert url.startswith(f"{EXTERNAL_URL}/api/v4/projects?")


async def test_per_page_over_100_is_clamped(
    client: TestClient, factory: Factory, admin: UserWithToken
) -> None:
    for n in range(TOTAL + 1, 106):
        await factory.project(f"acme/p{n:03d}")
    resp = await client.get("/api/v4/projects?per_page=500", headers=admin.headers)
    assert resp.headers["X-Per-Page"] == "100"
    assert len(await resp.json()) == 100
    assert resp.headers["X-Total-Pages"] == "2"


async def test_per_page_zero_is_an_empty_page(client: TestClient, admin: UserWithToken) -> None:
    resp = await client.get("/api/v4/projects?per_page=0", headers=admin.headers)
    assert resp.status == 200
    assert await resp.json() == []


async def test_page_zero_or_negative_is_page_one(client: TestClient, admin: UserWithToken) -> None:
    ids = await all_ids(client, admin)
    for page in ("0", "-3"):
        resp = await client.get(f"/api/v4/projects?page={page}", headers=admin.headers)
        assert resp.headers["X-Page"] == "1"
        assert [p["id"] for p in await resp.json()] == ids[:20]


async def test_negative_per_page_is_the_default(client: TestClient, admin: UserWithToken) -> None:
    resp = await client.get("/api/v4/projects?per_page=-5", headers=admin.headers)
    assert resp.headers["X-Per-Page"] == "20"
    assert len(await resp.json()) == 20


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("page=abc", "page is invalid"),
        ("per_page=abc", "per_page is invalid"),
        ("page=1.5", "page is invalid"),
    ],
)
async def test_non_integer_page_is_400(
    client: TestClient, factory: Factory, query: str, error: str
) -> None:
    alice = await factory.user("alice")
    resp = await client.get(f"/api/v4/projects?{query}", headers=alice.headers)
    assert resp.status == 400
    assert await resp.json() == {"error": error}


async def test_groups_list_is_paginated_too(client: TestClient, factory: Factory) -> None:
    for n in range(3):
        await factory.group(f"g{n}", visibility="public")
    root = await factory.user("root", admin=True)
    resp = await client.get("/api/v4/groups?per_page=2", headers=root.headers)
    assert len(await resp.json()) == 2
    assert resp.headers["X-Total"] == "3"
    assert resp.headers["X-Next-Page"] == "2"
    assert dict(links(resp.headers["Link"]))["next"] == (
        f"{EXTERNAL_URL}/api/v4/groups?page=2&per_page=2"
    )


# --- pagination_headers itself ----------------------------------------------------------


def headers_for(total: int, *, page: int = 2, per_page: int = 20) -> dict[str, str]:
    request = make_mocked_request("GET", f"/api/v4/projects?page={page}&per_page={per_page}")
    return pagination_headers(request, EXTERNAL_URL, Page(page, per_page), total)


def test_counted_totals_have_total_headers_and_last_link() -> None:
    h = headers_for(10_000)
    assert h["X-Total"] == "10000"
    assert h["X-Total-Pages"] == "500"
    assert [rel for rel, _ in links(h["Link"])] == ["prev", "next", "first", "last"]


@pytest.mark.parametrize("total", [10_001, 250_000])
def test_over_ten_thousand_items_drop_total_and_last(total: int) -> None:
    h = headers_for(total)
    assert "X-Total" not in h
    assert "X-Total-Pages" not in h
    assert [rel for rel, _ in links(h["Link"])] == ["prev", "next", "first"]
    assert h["X-Page"] == "2"
    assert h["X-Next-Page"] == "3"
    assert h["X-Prev-Page"] == "1"
    assert h["X-Per-Page"] == "20"


def test_links_keep_path_params_and_the_raw_encoded_path() -> None:
    request = make_mocked_request(
        "GET",
        "/api/v4/projects/acme%2Fweb/registry/repositories?tags=true",
        match_info={"id": "acme/web"},
    )
    h = pagination_headers(request, EXTERNAL_URL, Page(1, 20), 5)
    assert dict(links(h["Link"]))["first"] == (
        f"{EXTERNAL_URL}/api/v4/projects/acme%2Fweb/registry/repositories"
        "?id=acme%2Fweb&page=1&per_page=20&tags=true"
    )
