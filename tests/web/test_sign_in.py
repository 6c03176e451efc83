"""Signing in with a username and personal access token, the session cookie, CSRF, expiry and
signing out."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services import tokens
from registry_service.services.permissions import AccessLevel
from registry_service.settings import Settings
from tests.api.gitlab.conftest import make_repo
from tests.factories import Factory
from tests.web.conftest import Browser, csrf_of


async def test_sign_in_with_token_opens_a_session_and_sign_out_ends_it(
    browser: Browser, factory: Factory
) -> None:
    dev = await factory.user("dev")
    home = await browser.sign_in(dev)
    assert "Signed in as <strong>dev</strong>" in home
    assert dev.token not in home
    await browser.post_form("/", "/sign-out", {})
    assert "Browsing anonymously" in await browser.get("/")


async def test_session_cookie_is_httponly_samesite_and_the_token_stays_out_of_urls(
    client: TestClient, factory: Factory
) -> None:
    dev = await factory.user("dev")
    page = await client.get("/sign-in")
    token = csrf_of(await page.text())
    response = await client.post(
        "/sign-in",
        data={"csrf_token": token, "username": "dev", "token": dev.token},
        allow_redirects=False,
    )
    assert response.status == 303
    assert dev.token not in response.headers["Location"]
    cookie = response.cookies["registry_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert dev.token not in cookie.value
    # Plain HTTP here; over TLS the cookie is Secure (test_secure_cookie_over_https).
    assert not cookie["secure"]


async def test_wrong_token_is_refused_without_saying_which_half_was_wrong(
    browser: Browser, factory: Factory
) -> None:
    await factory.user("dev")
    page = await browser.post_form(
        "/sign-in", "/sign-in", {"username": "dev", "token": "glpat-wrong"}, status=401
    )
    assert "Invalid username or personal access token." in page
    assert "glpat-wrong" not in page


async def test_registry_only_token_cannot_sign_in(browser: Browser, factory: Factory) -> None:
    pusher = await factory.user("ci", scopes=("read_registry", "write_registry"))
    page = await browser.sign_in_expecting(pusher, 403)
    assert "Browsing anonymously" in page


async def test_form_post_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, browser: Browser, factory: Factory
) -> None:
    dev = await factory.user("dev")
    await browser.sign_in(dev)
    for data in ({}, {"csrf_token": "forged"}):
        response = await client.post("/sign-out", data=data)
        assert response.status == 403
        text = await response.text()
        assert "anti-forgery token is missing or does not match" in text
    # Still signed in: the forged sign-out did nothing.
    assert "Signed in as <strong>dev</strong>" in await browser.get("/")


async def test_sign_in_form_needs_its_csrf_token_too(client: TestClient, factory: Factory) -> None:
    dev = await factory.user("dev")
    await client.get("/sign-in")
    response = await client.post("/sign-in", data={"username": "dev", "token": dev.token})
    assert response.status == 403


async def test_session_ends_at_expiry(
    browser: Browser, factory: Factory, clock: SettableClock
) -> None:
    await browser.sign_in(await factory.user("dev"))
    clock.advance(timedelta(hours=7, minutes=59))
    assert "Signed in as" in await browser.get("/")
    clock.advance(timedelta(minutes=2))
    assert "Browsing anonymously" in await browser.get("/")


async def test_revoking_the_token_ends_its_sessions(browser: Browser, factory: Factory) -> None:
    dev = await factory.user("dev")
    await browser.sign_in(dev)
    found = await tokens.authenticate(factory.catalog, dev.token, factory.now)
    assert found.user_id is not None
    listed = await factory.catalog.reader.execute_fetchall(
        "SELECT id FROM personal_access_tokens WHERE user_id = ?", (found.user_id,)
    )
    for row in listed:
        await tokens.revoke_token(factory.catalog, row[0])
    assert "Browsing anonymously" in await browser.get("/")


async def test_read_api_session_may_look_but_not_change(
    client: TestClient, browser: Browser, factory: Factory
) -> None:
    reader = await factory.user("reader", scopes=("read_api",))
    project = await factory.project("team/app")
    await factory.member(reader.user, AccessLevel.MAINTAINER, project=project)
    repo = await make_repo(factory, project, "web")
    await browser.sign_in(reader)
    assert "Signed in as" in await browser.get("/")
    base = f"/projects/{project.id}/repositories/{repo.id}"
    token = csrf_of(await browser.get(f"{base}/cleanup"))
    for action, data in (
        ("/tokens", {"name": "x", "scopes": "api"}),
        (f"{base}/cleanup/preview", {"name_regex_delete": ".*"}),
        (f"{base}/tags/delete", {"tag": "v1"}),
    ):
        response = await client.post(action, data={"csrf_token": token, **data})
        assert response.status == 403, action


async def test_pages_forbid_framing_and_inline_script(client: TestClient) -> None:
    response = await client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"


async def test_secure_cookie_when_the_service_is_reached_over_https(
    aiohttp_client: object, settings: Settings, catalog: Catalog, clock: SettableClock,
    factory: Factory,
) -> None:
    tls_settings = settings.replace("server", external_url="https://registry.test")
    client = await aiohttp_client(  # type: ignore[operator]
        create_app(tls_settings, catalog=catalog, clock=clock)
    )
    dev = await factory.user("dev")
    page = await client.get("/sign-in")
    assert page.cookies["registry_csrf"]["secure"] is True
    token = csrf_of(await page.text())
    # The test client speaks plain HTTP, so it would not send a Secure cookie back itself.
    response = await client.post(
        "/sign-in",
        data={"csrf_token": token, "username": "dev", "token": dev.token},
        headers={"Cookie": f"registry_csrf={token}"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.cookies["registry_session"]["secure"] is True
