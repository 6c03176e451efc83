"""Fixtures for the management endpoints: an administrator, a plain user, exact-body checks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import Factory, UserWithToken

API = "/api/v4"


async def expect(resp: Any, status: int, body: Any = None) -> Any:
    """Assert the status (and the exact body when given); return the body."""
    data = await resp.json() if resp.status != 204 else None
    assert resp.status == status, data
    if body is not None:
        assert data == body
    return data


@pytest.fixture
async def root(factory: Factory) -> UserWithToken:
    return await factory.user("root", admin=True)


@pytest.fixture
async def alice(factory: Factory) -> UserWithToken:
    return await factory.user("alice")
