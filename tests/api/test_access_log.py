"""The access log as ``serve`` runs it: with the JSON log format, one object per request with
its method, path, status, duration, size and request id, and no token from the URL."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.http.access_log import AccessLogger
from registry_service.logs import configure_logging
from registry_service.settings import Settings


@pytest.fixture
async def logged(
    settings: Settings, catalog: Catalog, clock: SettableClock
) -> AsyncIterator[tuple[TestClient, io.StringIO]]:
    """A client of the app served with the access logger ``serve`` uses, and the JSON log."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging(settings.replace("server", log_format="json"), stream)
    server = TestServer(create_app(settings, catalog=catalog, clock=clock))
    await server.start_server(
        access_log_class=AccessLogger, access_log=logging.getLogger("aiohttp.access")
    )
    client = TestClient(server)
    await client.start_server()
    yield client, stream
    await client.close()
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.captureWarnings(False)


async def access_lines(stream: io.StringIO, count: int) -> list[dict[str, object]]:
    """The first ``count`` access records (each is logged just after its answer is sent)."""
    for _ in range(200):
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        access = [line for line in lines if line["logger"] == "aiohttp.access"]
        if len(access) >= count:
            return access
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {count} access lines in {stream.getvalue()!r}")


async def test_json_access_log_has_the_request_fields(
    logged: tuple[TestClient, io.StringIO],
) -> None:
    client, stream = logged
    health = await client.get("/-/health", headers={"X-Request-Id": "req-1"})
    assert health.status == 200
    denied = await client.get("/api/v4/user", params={"private_token": "glpat-secret", "x": "1"})
    assert denied.status == 401

    first, second = await access_lines(stream, 2)
    assert first["level"] == "info"
    assert first["method"] == "GET"
    assert first["path"] == "/-/health"
    assert first["status"] == 200
    assert first["request_id"] == "req-1"
    assert first["pid"] == os.getpid()  # served in-process here
    assert first["size_bytes"] == len(await health.read())
    assert isinstance(first["duration_s"], float) and first["duration_s"] >= 0
    assert isinstance(first["time"], str)
    assert str(first["message"]).startswith('127.0.0.1 "GET /-/health HTTP/1.1" 200 ')
    assert second["path"] == "/api/v4/user"
    assert second["status"] == 401
    assert second["query"] == "private_token=[FILTERED]&x=1"
    assert second["request_id"] == denied.headers["X-Request-Id"]
    assert "glpat-secret" not in stream.getvalue()
