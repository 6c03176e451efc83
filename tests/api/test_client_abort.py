"""A client that hangs up in the middle of a chunk upload is a client abort, not a server error:
one INFO line without a traceback, status 499 in the access log and in
``registry_http_requests_total``, no 5xx anywhere; and the session stays resumable from the
offset it reports."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.settings import Settings
from registry_service.storage import layout
from tests import oci_content as oc
from tests.api.served_logs import LoggedServer, hang_up, serve_logged
from tests.factories import Factory

NAME = "group/app"
UPLOAD_ROUTE = "/v2/{name}/blobs/uploads/{session}"
BLOB = oc.Blob(bytes(range(256)) * 12_288)  # 3 MiB
# Over one write batch (1 MiB, storage/fileio.py), so that part of it is on disk for sure.
SENT_BYTES = 2 * 1024 * 1024


@pytest.fixture
async def logged(
    settings: Settings, catalog: Catalog, clock: SettableClock
) -> AsyncIterator[LoggedServer]:
    async with serve_logged(settings, catalog, clock, "json") as server:
        yield server


async def wait_for_written_bytes(settings: Settings, session_id: str) -> None:
    """Until the server has written part of the chunk: it is then inside the handler, reading
    the body, when the client hangs up."""
    data = layout.session_data_path(settings.data_path, session_id)
    for _ in range(500):
        if data.exists() and data.stat().st_size > 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the server never wrote to {data}")


async def request_counts(http: aiohttp.ClientSession, logged: LoggedServer) -> dict[str, float]:
    """``registry_http_requests_total`` for PATCH on the upload route, by status."""
    async with http.get(logged.url("/metrics")) as response:
        text = await response.text()
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "registry_http_requests_total"
        and sample.labels["route"] == UPLOAD_ROUTE
        and sample.labels["method"] == "PATCH"
    }


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
async def test_client_hanging_up_mid_patch_is_a_499_and_the_upload_resumes(
    logged: LoggedServer, settings: Settings, factory: Factory, reset: bool
) -> None:
    await factory.project(NAME)
    admin = await factory.user("admin", admin=True)
    auth = oc.basic("admin", admin.token)
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.post(logged.url(f"/v2/{NAME}/blobs/uploads/")) as response:
            assert response.status == 202
            location = response.headers["Location"]
        session_id = location.rsplit("/", 1)[1]

        # Headers for the whole blob, a part of the body, then the client goes away.
        reader, writer = await logged.connect()
        head = (
            f"PATCH {location} HTTP/1.1\r\nHost: registry.test\r\n"
            f"Authorization: {auth['Authorization']}\r\n"
            f"Content-Type: application/octet-stream\r\n"
            f"Content-Length: {len(BLOB.data)}\r\n\r\n"
        )
        writer.write(head.encode() + BLOB.data[:SENT_BYTES])
        await writer.drain()
        await wait_for_written_bytes(settings, session_id)
        hang_up(writer, reset=reset)

        await logged.wait_for_log(lambda log: '"PATCH ' in log, "access line for the PATCH")
        records = logged.records()
        (access,) = [r for r in records if r.get("method") == "PATCH"]
        assert access["status"] == 499
        assert " 499 " in access["message"]
        (abort,) = [r for r in records if "closed the connection" in r["message"]]
        assert abort["level"] == "info"
        assert "PATCH" in abort["message"] and session_id in abort["message"]
        assert "exception" not in abort
        assert all(r["level"] in ("info", "debug") for r in records), json.dumps(records)
        assert "Traceback" not in logged.log
        counts = await request_counts(http, logged)
        assert counts == {"499": 1.0}

        # The session holds what was written of it; the client resumes from the offset it
        # is told, and the blob comes out whole.
        async with http.get(logged.url(location)) as response:
            assert response.status == 204
            offset = int(response.headers["Range"].rpartition("-")[2]) + 1
        assert 0 < offset <= SENT_BYTES
        async with http.patch(
            logged.url(location),
            data=io.BytesIO(BLOB.data[offset:]),
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{len(BLOB.data) - 1}",
            },
        ) as response:
            assert response.status == 202, await response.text()
            location = response.headers["Location"]
        async with http.put(logged.url(location), params={"digest": BLOB.digest}) as response:
            assert response.status == 201, await response.text()
        async with http.get(logged.url(f"/v2/{NAME}/blobs/{BLOB.digest}")) as response:
            assert await response.read() == BLOB.data
        assert await request_counts(http, logged) == {"499": 1.0, "202": 1.0}
    assert "500" not in {str(r.get("status")) for r in logged.records()}
    await reader.read()  # nothing; the connection is gone


@pytest.mark.parametrize(
    ("api", "route", "target", "auth_header"),
    [
        ("api_v4", "/api/v4/projects", "/api/v4/projects", "PRIVATE-TOKEN: {token}"),
        (
            "v2",
            "/v2/{name}/blobs/uploads/",
            f"/v2/{NAME}/blobs/uploads/?digest={BLOB.digest}",
            "Authorization: {basic}",
        ),
    ],
    ids=["api_v4 create project", "v2 monolithic upload"],
)
async def test_client_hanging_up_mid_body_is_a_499_on_both_apis(
    logged: LoggedServer, factory: Factory, api: str, route: str, target: str, auth_header: str
) -> None:
    await factory.project(NAME)
    admin = await factory.user("admin", admin=True)
    basic = oc.basic("admin", admin.token)["Authorization"]
    reader, writer = await logged.connect()
    head = (
        f"POST {target} HTTP/1.1\r\nHost: registry.test\r\n"
        f"{auth_header.format(token=admin.token, basic=basic)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 100000\r\n"
        f"Expect: 100-continue\r\n\r\n"
    )
    writer.write(head.encode())
    # aiohttp answers 100 Continue once it has routed the request, just before its handler.
    assert await asyncio.wait_for(reader.readline(), 10) == b"HTTP/1.1 100 Continue\r\n"
    writer.write(b'{"name": "half')
    await writer.drain()
    hang_up(writer, reset=False)

    await logged.wait_for_log(lambda log: '"POST ' in log, "access line for the POST")
    (access,) = [r for r in logged.records() if r.get("method") == "POST"]
    assert access["status"] == 499
    assert all(r["level"] == "info" for r in logged.records())
    async with aiohttp.ClientSession() as http, http.get(logged.url("/metrics")) as response:
        samples = {
            (s.labels["api"], s.labels["route"], s.labels["method"], s.labels["status"])
            for family in text_string_to_metric_families(await response.text())
            for s in family.samples
            if s.name == "registry_http_requests_total"
        }
    assert (api, route, "POST", "499") in samples
    assert not any(status.startswith("5") for *_, status in samples)
