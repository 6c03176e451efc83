"""Personal access tokens on the web: created and shown once, listed, revoked."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from registry_service.services import tokens
from tests.factories import Factory
from tests.web.conftest import Browser, csrf_of

NEW_TOKEN = re.compile(r'id="new-token" type="text" readonly value="(glpat-[^"]+)"')


async def test_created_token_is_shown_once_and_works(
    browser: Browser, factory: Factory
) -> None:
    dev = await factory.user("dev")
    await browser.sign_in(dev)
    answer = await browser.post_form(
        "/tokens", "/tokens", {"name": "ci <b>pull</b>", "scopes": ["read_registry", "api"]}
    )
    value = NEW_TOKEN.search(answer)
    assert value, answer
    actor = await tokens.authenticate(factory.catalog, value.group(1), factory.now)
    assert actor.username == "dev"
    assert actor.scopes == frozenset({"read_registry", "api"})
    assert "ci &lt;b&gt;pull&lt;/b&gt;" in answer
    listing = await browser.get("/tokens")
    assert value.group(1) not in listing
    assert "ci &lt;b&gt;pull&lt;/b&gt;" in listing


async def test_revoke_own_token_but_not_someone_elses(
    client: TestClient, browser: Browser, factory: Factory
) -> None:
    dev = await factory.user("dev")
    other = await factory.user("other")
    other_actor = await tokens.authenticate(factory.catalog, other.token, factory.now)
    other_token_id = (await factory.catalog.reader.execute_fetchall(
        "SELECT id FROM personal_access_tokens WHERE user_id = ?", (other_actor.user_id,)
    ))[0][0]
    await browser.sign_in(dev)
    answer = await browser.post_form("/tokens", "/tokens", {"name": "spare", "scopes": "api"})
    spare = NEW_TOKEN.search(answer)
    assert spare
    spare_id = re.search(r'action="/tokens/(\d+)/revoke"', answer)
    assert spare_id
    await browser.post_form("/tokens", f"/tokens/{spare_id.group(1)}/revoke", {})
    assert "revoked" in await browser.get("/tokens")
    response = await client.post(
        f"/tokens/{other_token_id}/revoke",
        data={"csrf_token": csrf_of(await browser.get("/tokens"))},
    )
    assert response.status == 404
    assert (await tokens.authenticate(factory.catalog, other.token, factory.now)).username
