"""Fixtures for the web interface's in-process tests: a browser-like client that keeps
cookies, signs in through the sign-in form, and posts forms with the page's CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import UserWithToken

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


@dataclass
class Browser:
    """Drives pages as a browser would: GET a page, post its form back with its token."""

    client: TestClient

    async def get(self, path: str, status: int = 200) -> str:
        response = await self.client.get(path, allow_redirects=True)
        text = await response.text()
        assert response.status == status, text
        return text

    async def post_form(
        self, page_path: str, action: str, fields: dict[str, str | list[str]], status: int = 200
    ) -> str:
        token = csrf_of(await self.get(page_path))
        data: list[tuple[str, str]] = [("csrf_token", token)]
        for key, value in fields.items():
            data.extend((key, v) for v in ([value] if isinstance(value, str) else value))
        response = await self.client.post(action, data=data, allow_redirects=True)
        text = await response.text()
        assert response.status == status, text
        return text

    async def sign_in(self, person: UserWithToken) -> str:
        return await self.sign_in_expecting(person, 200)

    async def sign_in_expecting(self, person: UserWithToken, status: int) -> str:
        return await self.post_form(
            "/sign-in",
            "/sign-in",
            {"username": person.user.username, "token": person.token},
            status=status,
        )


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)
