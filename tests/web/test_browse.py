"""Browsing: the projects the viewer may see, a project's repositories, a repository's tags
(sort, filter, keyset pages), and a tag's page — read through the API's own services."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp.test_utils import TestClient

from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import make_repo
from tests.factories import Factory
from tests.jobs.tagsets import SeedTag, seed_tags
from tests.oci_content import Registry, artifact, basic, image, index
from tests.web.conftest import Browser

TAG_LINK = re.compile(r'class="tag-name">([^<]+)</a>')


async def test_anonymous_sees_public_projects_only(browser: Browser, factory: Factory) -> None:
    await factory.project("open/app", visibility="public")
    await factory.project("secret/app", visibility="private")
    home = await browser.get("/")
    assert "open/app" in home
    assert "secret/app" not in home


async def test_private_project_page_is_404_for_anonymous_and_open_to_members(
    browser: Browser, factory: Factory
) -> None:
    project = await factory.project("secret/app", visibility="private")
    await browser.get(f"/projects/{project.id}", status=404)
    reporter = await factory.user("rita")
    await factory.member(reporter.user, AccessLevel.REPORTER, project=project)
    await browser.sign_in(reporter)
    assert "secret/app" in await browser.get(f"/projects/{project.id}")


async def test_repository_page_sorts_filters_and_pages_by_keyset(
    browser: Browser, factory: Factory, clock: SettableClock
) -> None:
    project = await factory.project("open/app", visibility="public")
    repo = await make_repo(factory, project, "web")
    now = clock.now()
    # Build dates run opposite to names, push dates in name order.
    await seed_tags(factory.catalog, repo.repository, [
        SeedTag(f"v{n:02d}", now - timedelta(days=n), now - timedelta(hours=30 - n))
        for n in range(30)
    ])
    base = f"/projects/{project.id}/repositories/{repo.id}"
    first = await browser.get(f"{base}?per_page=10")
    assert TAG_LINK.findall(first) == [f"v{n:02d}" for n in range(10)]
    next_url = re.search(r'href="([^"]+)" rel="next"', first)
    assert next_url
    second = await browser.get(next_url.group(1).replace("&amp;", "&"))
    assert TAG_LINK.findall(second) == [f"v{n:02d}" for n in range(10, 20)]
    third_url = re.search(r'href="([^"]+)" rel="next"', second)
    assert third_url
    third = await browser.get(third_url.group(1).replace("&amp;", "&"))
    assert TAG_LINK.findall(third) == [f"v{n:02d}" for n in range(20, 30)]
    assert 'rel="next"' not in third
    back_url = re.search(r'href="([^"]+)" rel="prev"', third)
    assert back_url
    back = await browser.get(back_url.group(1).replace("&amp;", "&"))
    assert TAG_LINK.findall(back) == [f"v{n:02d}" for n in range(10, 20)]
    first_again_url = re.search(r'href="([^"]+)" rel="prev"', back)
    assert first_again_url
    first_again = await browser.get(first_again_url.group(1).replace("&amp;", "&"))
    assert TAG_LINK.findall(first_again) == [f"v{n:02d}" for n in range(10)]
    assert 'rel="prev"' not in first_again
    newest_built = await browser.get(f"{base}?sort=built&order=desc&per_page=3")
    assert TAG_LINK.findall(newest_built) == ["v00", "v01", "v02"]
    newest_pushed = await browser.get(f"{base}?sort=pushed&order=desc&per_page=3")
    assert TAG_LINK.findall(newest_pushed) == ["v29", "v28", "v27"]
    page2 = re.search(r'href="([^"]+)" rel="next"', newest_pushed)
    assert page2
    pushed_second = await browser.get(page2.group(1).replace("&amp;", "&"))
    assert TAG_LINK.findall(pushed_second) == ["v26", "v25", "v24"]
    pushed_back = re.search(r'href="([^"]+)" rel="prev"', pushed_second)
    assert pushed_back
    assert TAG_LINK.findall(await browser.get(pushed_back.group(1).replace("&amp;", "&"))) == [
        "v29", "v28", "v27",
    ]
    assert TAG_LINK.findall(await browser.get(f"{base}?filter=V2")) == [
        f"v2{n}" for n in range(10)
    ]


async def test_project_page_shows_tag_count_size_and_last_push(
    client: TestClient, browser: Browser, factory: Factory
) -> None:
    owner = await factory.user("olga")
    project = await factory.project("open/app", visibility="public")
    await factory.member(owner.user, AccessLevel.MAINTAINER, project=project)
    registry = Registry(client, basic("olga", owner.token))
    img = image(layers=2, layer_size=3000)
    await registry.push_image("open/app/web", img, "v1")
    await registry.push_image("open/app/web", img, "v2")
    page = await browser.get(f"/projects/{project.id}")
    row = re.search(r"open/app/web</a></td>(.*?)</tr>", page, re.S)
    assert row, page
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    assert cells[0] == "2"
    assert cells[1].endswith("KiB")  # config + two 3000-byte layers
    assert "UTC" in cells[2]


async def test_tag_page_shows_index_children_annotations_referrers_and_pull_commands(
    client: TestClient, browser: Browser, factory: Factory
) -> None:
    owner = await factory.user("olga")
    project = await factory.project("open/app", visibility="public")
    await factory.member(owner.user, AccessLevel.MAINTAINER, project=project)
    registry = Registry(client, basic("olga", owner.token))
    multi = index([image(architecture="amd64"), image(architecture="arm64")],
                  annotations={"org.opencontainers.image.source": "https://example.test/src"})
    await registry.push_image("open/app", multi, "multi")
    sbom = artifact(subject=multi, artifact_type="application/spdx+json",
                    annotations={"org.example.kind": "<sbom>"})
    await registry.push_image("open/app", sbom)
    page = await browser.get(f"/projects/{project.id}")
    repository_id = re.search(r"/repositories/(\d+)\"", page)
    assert repository_id
    base = f"/projects/{project.id}/repositories/{repository_id.group(1)}"
    listing = await browser.get(base)
    assert "linux/amd64, linux/arm64" in listing
    tag = await browser.get(f"{base}/tags/multi")
    assert "docker pull registry.test:5000/open/app:multi" in tag
    assert "podman pull registry.test:5000/open/app:multi" in tag
    assert "https://example.test/src" in tag
    assert multi.digest in tag
    assert tag.count("linux/a") == 2
    referrers = tag.split('id="referrers-heading"')[1]
    assert "application/spdx+json" in referrers
    assert sbom.digest[:19] in referrers
    assert "org.example.kind=&lt;sbom&gt;" in referrers
