"""No token reaches the log, in either log format, even from what aiohttp itself logs about a
request it refused before any handler ran (the raw request line or header line is in the
exception text), nor from query parameter spellings the access log does not know."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.settings import Settings
from tests.api.served_logs import LoggedServer, serve_logged

# Shaped like the tokens we mint: caught wherever it appears.
SHAPED = "glpat-Shaped_Token-0123456789abcdef"
# Any other value: caught only by the name it is given under.
PLAIN = "plain-Secret-Value-4711"


@dataclass(frozen=True)
class Case:
    request: Callable[[str], str]
    # What the log must show, so that a test cannot pass because nothing was logged.
    logged: str
    secrets: tuple[str, ...] = (SHAPED, PLAIN)


def _get(target: str, *headers: str) -> str:
    lines = [f"GET {target} HTTP/1.1", "Host: registry.test", *headers, "Connection: close"]
    return "\r\n".join(lines) + "\r\n\r\n"


def _basic(secret: str) -> str:
    return base64.b64encode(f"alice:{secret}".encode()).decode()


CASES = {
    "request line too long": Case(
        lambda s: _get(f"/api/v4/projects?private_token={s}&pad={'a' * 8200}"),
        "8190 bytes",
    ),
    "private-token header with a bad char": Case(
        lambda s: _get("/api/v4/user", f"PRIVATE-TOKEN: {s}\x01"), "Invalid header value char"
    ),
    "job-token header with a bad char": Case(
        lambda s: _get("/api/v4/user", f"job-token: {s}\x01"), "Invalid header value char"
    ),
    "deploy-token header with a bad char": Case(
        lambda s: _get("/api/v4/user", f"Deploy-Token: {s}\x01"), "Invalid header value char"
    ),
    "bearer authorization with a bad char": Case(
        lambda s: _get("/api/v4/user", f"Authorization: Bearer {s}\x01"),
        "Invalid header value char",
    ),
    "upper-case query parameter": Case(
        lambda s: _get(f"/api/v4/user?PRIVATE_TOKEN={s}"), "/api/v4/user?PRIVATE_TOKEN="
    ),
    "array query parameter": Case(
        lambda s: _get(f"/api/v4/user?private_token[]={s}"), "/api/v4/user?private_token[]="
    ),
    "mixed-case access token parameter": Case(
        lambda s: _get(f"/api/v4/projects?x=1&Access_Token={s}"), "Access_Token="
    ),
    "token in the path": Case(
        lambda s: _get(f"/v2/group/{s}/tags/list"), "/tags/list", secrets=(SHAPED,)
    ),
}


@pytest.fixture(params=["text", "json"])
async def logged(
    request: pytest.FixtureRequest, settings: Settings, catalog: Catalog, clock: SettableClock
) -> AsyncIterator[LoggedServer]:
    async with serve_logged(settings, catalog, clock, request.param) as server:
        yield server


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_refused_and_odd_requests_log_no_token(logged: LoggedServer, case: Case) -> None:
    for secret in case.secrets:
        answer = await logged.exchange(case.request(secret).encode("latin-1"))
        assert answer.startswith(b"HTTP/1."), answer
    log = logged.log
    for secret in case.secrets:
        assert secret not in log
    assert case.logged in log
    assert "[FILTERED]" in log
    if logged.log_format == "json":
        assert logged.records()  # every line is still one JSON object


async def test_basic_credentials_in_a_refused_header_are_not_logged(
    logged: LoggedServer,
) -> None:
    for secret in (SHAPED, PLAIN):
        request = _get("/v2/", f"Authorization: Basic {_basic(secret)}\x01")
        assert (await logged.exchange(request.encode())).startswith(b"HTTP/1.0 400")
    log = logged.log
    assert "Invalid header value char" in log
    for secret in (SHAPED, PLAIN):
        assert _basic(secret) not in log
        assert secret not in log
