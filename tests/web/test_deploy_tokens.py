"""Deploy tokens on the web (a project's and a group's): with the API's rules — Maintainer+
sees the link and the page, a Developer neither, and a forged post is 403; the value is shown
once and works on /v2 until revoked; every form needs its CSRF token; names render as text."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.rows import Project
from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import member
from tests.factories import Factory
from tests.oci_content import basic
from tests.web.conftest import Browser, csrf_of

NEW_VALUE = re.compile(r'id="new-deploy-token" type="text" readonly value="(gldt-[^"]+)"')
NEW_USERNAME = re.compile(r'id="new-deploy-username" type="text" readonly value="([^"]+)"')
REVOKE_ACTION = re.compile(r'action="(/(?:projects|groups)/\d+/deploy-tokens/\d+/revoke)"')


@pytest.fixture
async def project(factory: Factory) -> Project:
    return await factory.project("team/app", visibility="private")


def tokens_page(project: Project) -> str:
    return f"/projects/{project.id}/deploy-tokens"


async def deploy_token_count(factory: Factory) -> int:
    rows = await factory.catalog.reader.execute_fetchall("SELECT count(*) FROM deploy_tokens")
    return int(rows[0][0])


async def registry_status(client: TestClient, username: str, value: str) -> int:
    response = await client.get("/v2/", headers=basic(username, value))
    return response.status


async def test_maintainer_creates_a_token_shown_once_that_pulls_until_revoked(
    client: TestClient, browser: Browser, factory: Factory, project: Project
) -> None:
    maintainer = await member(factory, project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    overview = await browser.get(f"/projects/{project.id}")
    assert f'href="{tokens_page(project)}"' in overview
    answer = await browser.post_form(tokens_page(project), tokens_page(project), {
        "name": "k8s", "scopes": ["read_registry", "read_package_registry"],
        "expires_at": "2099-01-31",
    })
    value = NEW_VALUE.search(answer)
    username = NEW_USERNAME.search(answer)
    assert value and username, answer
    assert username.group(1).startswith("gitlab+deploy-token-")
    assert "read_registry, read_package_registry" in answer
    assert "2099-01-31 00:00 UTC" in answer
    assert await registry_status(client, username.group(1), value.group(1)) == 200

    listing = await browser.get(tokens_page(project))
    assert value.group(1) not in listing
    assert username.group(1) in listing
    revoke = REVOKE_ACTION.search(listing)
    assert revoke
    after = await browser.post_form(tokens_page(project), revoke.group(1), {})
    assert username.group(1) not in after
    assert await deploy_token_count(factory) == 0
    assert await registry_status(client, username.group(1), value.group(1)) == 401


async def test_chosen_username_and_the_services_validation_shown_on_the_form(
    browser: Browser, factory: Factory, project: Project
) -> None:
    maintainer = await member(factory, project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    refused = await browser.post_form(
        tokens_page(project), tokens_page(project), {"name": "none"}, status=400
    )
    assert "Scopes can&#39;t be blank" in refused
    refused = await browser.post_form(
        tokens_page(project), tokens_page(project),
        {"name": "bad", "scopes": "read_registry", "username": "a b"}, status=400,
    )
    assert "Username can contain only letters" in refused
    refused = await browser.post_form(
        tokens_page(project), tokens_page(project),
        {"name": "bad", "scopes": "read_registry", "expires_at": "31/01/2099"}, status=400,
    )
    assert "The expiry date is not a date" in refused
    assert await deploy_token_count(factory) == 0
    answer = await browser.post_form(
        tokens_page(project), tokens_page(project),
        {"name": "ci", "scopes": "write_registry", "username": "ci-bot"},
    )
    username = NEW_USERNAME.search(answer)
    assert username and username.group(1) == "ci-bot"


async def test_developer_sees_no_link_and_forged_requests_are_refused(
    client: TestClient, browser: Browser, factory: Factory, project: Project
) -> None:
    existing = await factory.deploy_token(project=project)
    developer = await member(factory, project, AccessLevel.DEVELOPER, username="dev")
    await browser.sign_in(developer)
    overview = await browser.get(f"/projects/{project.id}")
    assert "deploy-tokens" not in overview
    await browser.get(tokens_page(project), status=403)
    token = csrf_of(overview)
    create = await client.post(tokens_page(project), data={
        "csrf_token": token, "name": "forged", "scopes": "write_registry",
    })
    assert create.status == 403
    revoke = await client.post(
        f"{tokens_page(project)}/{existing.token.id}/revoke", data={"csrf_token": token}
    )
    assert revoke.status == 403
    assert await deploy_token_count(factory) == 1
    assert await registry_status(client, existing.token.username, existing.value) == 200


async def test_hidden_project_is_404_and_anonymous_must_sign_in(
    client: TestClient, browser: Browser, factory: Factory, project: Project
) -> None:
    public = await factory.project("team/open", visibility="public")
    await browser.get(f"/projects/{public.id}/deploy-tokens", status=401)
    stranger = await factory.user("stranger")
    await browser.sign_in(stranger)
    await browser.get(tokens_page(project), status=404)
    response = await client.post(tokens_page(project), data={
        "csrf_token": csrf_of(await browser.get("/")), "name": "x", "scopes": "read_registry",
    })
    assert response.status == 404
    assert await deploy_token_count(factory) == 0


async def test_posts_without_the_csrf_token_change_nothing(
    client: TestClient, browser: Browser, factory: Factory, project: Project
) -> None:
    existing = await factory.deploy_token(project=project)
    maintainer = await member(factory, project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    for data in ({}, {"csrf_token": "not-the-session-token"}):
        create = await client.post(
            tokens_page(project), data={**data, "name": "x", "scopes": "read_registry"}
        )
        assert create.status == 403
        assert "anti-forgery" in await create.text()
        revoke = await client.post(
            f"{tokens_page(project)}/{existing.token.id}/revoke", data=data
        )
        assert revoke.status == 403
    assert await deploy_token_count(factory) == 1


async def test_another_owners_token_cannot_be_revoked_through_this_page(
    client: TestClient, browser: Browser, factory: Factory, project: Project
) -> None:
    elsewhere = await factory.project("team/other", visibility="private")
    other = await factory.deploy_token(project=elsewhere)
    maintainer = await member(factory, project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    response = await client.post(
        f"{tokens_page(project)}/{other.token.id}/revoke",
        data={"csrf_token": csrf_of(await browser.get(tokens_page(project)))},
    )
    assert response.status == 404
    assert await deploy_token_count(factory) == 1


async def test_script_in_a_token_name_renders_as_text(
    browser: Browser, factory: Factory, project: Project
) -> None:
    payload = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    maintainer = await member(factory, project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    answer = await browser.post_form(
        tokens_page(project), tokens_page(project), {"name": payload, "scopes": "read_registry"}
    )
    listing = await browser.get(tokens_page(project))
    for html in (answer, listing):
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_group_maintainer_manages_group_tokens_a_group_developer_cannot(
    client: TestClient, browser: Browser, factory: Factory
) -> None:
    group = await factory.group("crew", visibility="private")
    page = f"/groups/{group.id}/deploy-tokens"
    developer = await factory.user("dev")
    await factory.member(developer.user, AccessLevel.DEVELOPER, group=group)
    await browser.sign_in(developer)
    assert "deploy-tokens" not in await browser.get(f"/groups/{group.id}")
    await browser.get(page, status=403)
    await browser.post_form("/", "/sign-out", {})

    maintainer = await factory.user("maint")
    await factory.member(maintainer.user, AccessLevel.MAINTAINER, group=group)
    await browser.sign_in(maintainer)
    assert f'href="{page}"' in await browser.get(f"/groups/{group.id}")
    answer = await browser.post_form(page, page, {"name": "fleet", "scopes": "read_registry"})
    assert "of group crew" in answer
    value = NEW_VALUE.search(answer)
    username = NEW_USERNAME.search(answer)
    assert value and username
    assert await registry_status(client, username.group(1), value.group(1)) == 200
    revoke = REVOKE_ACTION.search(answer)
    assert revoke and revoke.group(1).startswith(page)
    await browser.post_form(page, revoke.group(1), {})
    assert await deploy_token_count(factory) == 0
