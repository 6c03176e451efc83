"""Administrators' pages: storage usage, garbage collection runs, users (create, block)."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient

from registry_service.catalog.db import format_time
from registry_service.services.permissions import AccessLevel
from registry_service.web.filters import size
from tests.factories import Factory
from tests.oci_content import Registry, basic, image
from tests.web.conftest import Browser


async def test_admin_pages_are_for_administrators_only(
    browser: Browser, factory: Factory
) -> None:
    await browser.get("/admin", status=401)
    await browser.get("/admin/users", status=401)
    await browser.sign_in(await factory.user("dev"))
    await browser.get("/admin", status=403)
    await browser.get("/admin/users", status=403)
    assert 'href="/admin"' not in await browser.get("/")


async def test_storage_usage_and_gc_runs(
    client: TestClient, browser: Browser, factory: Factory
) -> None:
    root = await factory.user("root", admin=True)
    owner = await factory.user("olga")
    project = await factory.project("team/app")
    await factory.member(owner.user, AccessLevel.MAINTAINER, project=project)
    pushed = image(layers=2, layer_size=5000)
    await Registry(client, basic("olga", owner.token)).push_image("team/app", pushed, "v1")
    async with factory.catalog.transaction() as tx:
        await tx.execute(
            "INSERT INTO jobs (kind, params, state, counts, result, created_at, finished_at)"
            " VALUES ('collect_garbage', '{}', 'done', ?, ?, ?, ?)",
            (
                json.dumps({"blobs": 3, "bytes_freed": 3 * 1024 * 1024}),
                json.dumps({}),
                format_time(factory.now),
                format_time(factory.now),
            ),
        )
    await browser.sign_in(root)
    page = await browser.get("/admin")
    blob_bytes = size(sum(len(blob.data) for blob in pushed.blobs))
    assert f'team/app</a></td><td class="num">1</td><td class="num">{blob_bytes}</td>' in page
    assert "bytes_freed 3.0 MiB" in page
    assert "blobs 3" in page


async def test_admin_creates_and_blocks_a_user_whose_session_then_ends(
    client: TestClient, factory: Factory, aiohttp_client: object
) -> None:
    root = await factory.user("root", admin=True)
    victim = await factory.user("mallory")
    admin_browser = Browser(client)
    await admin_browser.sign_in(root)
    created = await admin_browser.post_form(
        "/admin/users", "/admin/users", {"username": "newbie", "name": "New <b>Bie</b>"}
    )
    assert "New &lt;b&gt;Bie&lt;/b&gt;" in created
    # mallory signs in in another browser (a second client over the same app).
    other = Browser(await aiohttp_client(client.app))  # type: ignore[operator]
    await other.sign_in(victim)
    assert "Signed in as <strong>mallory</strong>" in await other.get("/")
    users = await admin_browser.get("/admin/users")
    block = [line for line in users.split("<tr>") if "<td>mallory</td>" in line]
    assert block and "/block" in block[0]
    user_id = victim.user.id
    await admin_browser.post_form("/admin/users", f"/admin/users/{user_id}/block", {})
    assert "Browsing anonymously" in await other.get("/")
    response = await client.get("/api/v4/user", headers=victim.headers)
    # The API's answer to a blocked user's token (GitLab's).
    assert response.status == 403
    assert (await response.json())["message"] == "403 Forbidden - Your account has been blocked."
    # Administrators cannot block themselves.
    await admin_browser.post_form(
        "/admin/users", f"/admin/users/{root.user.id}/block", {}, status=403
    )
    await admin_browser.post_form("/admin/users", f"/admin/users/{user_id}/unblock", {})
    response = await client.get("/api/v4/user", headers=victim.headers)
    assert response.status == 200
