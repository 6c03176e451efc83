"""The real ``registry-service serve``, in both log formats: what aiohttp logs about requests it
refuses carries no token, nor does the access log of odd token parameter spellings; and a
client that hangs up mid-PATCH is one INFO line and a 499 (access log and metrics), never an
ERROR, a traceback or a 5xx."""

from __future__ import annotations

import base64
import json
import re
import socket
import struct
import time
import urllib.request

import pytest

from registry_service.storage import layout
from tests.e2e.gitlab_support import Api
from tests.e2e.server import ADMIN_TOKEN, RegistryServer, StartServer

pytestmark = pytest.mark.e2e

PLAIN = "plain-Secret-Value-4711"
BASIC = base64.b64encode(f"root:{ADMIN_TOKEN}".encode()).decode()


def exchange(server: RegistryServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def get(target: str, *headers: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: registry.test", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def abort_a_patch(server: RegistryServer) -> None:
    """Start a chunk upload, send part of a 3 MiB PATCH body, then reset the connection."""
    api = Api(server, ADMIN_TOKEN)
    created = api.request(
        "POST", "/projects", body=b'{"name": "app", "path": "app"}',
        headers={"Content-Type": "application/json"},
    )
    assert created.status == 201, created.body
    request = urllib.request.Request(
        f"{server.url}/v2/root/app/blobs/uploads/", method="POST",
        headers={"Authorization": f"Basic {BASIC}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        location = response.headers["Location"]
    data = layout.session_data_path(server.data_dir, location.rsplit("/", 1)[1])
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: registry.test\r\nAuthorization: Basic {BASIC}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {3 << 20}\r\n\r\n"
    )
    sock.sendall(head.encode() + bytes(2 << 20))
    deadline = time.monotonic() + 10
    while not (data.exists() and data.stat().st_size > 0):
        assert time.monotonic() < deadline, "the server never wrote the chunk"
        time.sleep(0.01)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def metric_lines(server: RegistryServer) -> list[str]:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return [
        line for line in text.splitlines()
        if line.startswith("registry_http_requests_total{") and 'method="PATCH"' in line
    ]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_serve_logs_no_token_and_a_client_abort_as_499(
    start_server: StartServer, log_format: str
) -> None:
    server = start_server(env={"REGISTRY_SERVICE_SERVER_LOG_FORMAT": log_format})
    for secret in (ADMIN_TOKEN, PLAIN):
        long_line = get(f"/api/v4/projects?private_token={secret}&pad={'a' * 8200}")
        assert b" 400 " in exchange(server, long_line)
        refused_header = get("/api/v4/user", f"PRIVATE-TOKEN: {secret}\x01")
        assert b" 400 " in exchange(server, refused_header)
        for spelling in ("PRIVATE_TOKEN", "private_token[]"):
            assert b" 401 " in exchange(server, get(f"/api/v4/user?{spelling}={secret}"))
    assert b" 400 " in exchange(server, get("/v2/", f"Authorization: Basic {BASIC}\x01"))
    abort_a_patch(server)

    deadline = time.monotonic() + 10
    while "PATCH /v2/root/app/blobs/uploads/" not in server.stderr:
        assert time.monotonic() < deadline, server.stderr
        time.sleep(0.05)
    assert metric_lines(server) == [
        'registry_http_requests_total{api="v2",method="PATCH",'
        'route="/v2/{name}/blobs/uploads/{session}",status="499"} 1.0'
    ]
    server.stop()
    log = server.stderr
    for secret in (ADMIN_TOKEN, PLAIN, BASIC):
        assert secret not in log
    assert "Got more than 8190 bytes" in log
    assert "Invalid header value char" in log
    assert "PRIVATE_TOKEN=[FILTERED]" in log and "private_token[]=[FILTERED]" in log
    assert re.search(r'"PATCH /v2/root/app/blobs/uploads/\w+ HTTP/1\.1\\?" 499 ', log), log
    assert "client closed the connection during PATCH" in log
    assert "ConnectionResetError" not in log
    assert not re.search(r'" 5\d\d ', log), log
    if log_format == "json":
        records = [json.loads(line) for line in log.splitlines()]
        abort = [r for r in records if "client closed" in r["message"]]
        assert [r["level"] for r in abort] == ["info"]
        # aiohttp still logs what its parser refused at ERROR, but only with redacted text.
        assert all("[FILTERED]" in str(r.get("exception")) for r in records
                   if r["level"] == "error")
