"""Several replicas act as one registry: separate ``serve`` processes (each also with
``--workers 2``) on one PostgreSQL catalog and one shared data directory (``tests.e2e.replicas``).

- skopeo pushes through replica A and pulls byte-identical through replica B, with the
  Bearer token B's challenge sends it to; the same with two ``--workers 2`` replicas;
- a chunked upload begun on A (POST, first PATCH) continues on B (PATCH, PUT); the blob pulls
  identical through both;
- ``serve --fixture`` on a PostgreSQL catalog exits at once with a message saying why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from tests.e2e.accounts import DEV, PRIVATE_PROJECT
from tests.e2e.oci_layout import assert_same_content, build_image, read_layout, write_layout
from tests.e2e.replicas import replica_env, start_replicas
from tests.e2e.server import RegistryServer, StartServer, run_cli
from tests.e2e.skopeo import Skopeo, ok
from tests.e2e.test_workers import (
    AUTH,
    HTTP_TIMEOUT_S,
    KIB,
    answering_pids,
    blob_bytes,
    close,
    patch,
    sha256,
    start_session,
    worker_pids,
)

pytestmark = pytest.mark.e2e


def push_then_pull(
    skopeo: Skopeo, pusher: RegistryServer, puller: RegistryServer, tmp_path: Path, n: int
) -> None:
    image = build_image(300 + n)
    source = write_layout(tmp_path / f"source-{n}", {"v": image})
    ok(skopeo.push(source, "v", f"{pusher.host}/{PRIVATE_PROJECT}/replicas:v{n}", DEV))
    pulled_dir = tmp_path / f"pulled-{n}"
    ok(skopeo.pull(f"{puller.host}/{PRIVATE_PROJECT}/replicas:v{n}", pulled_dir, "v", DEV))
    assert_same_content(read_layout(pulled_dir), image, "v")


def test_skopeo_pushes_through_one_replica_and_pulls_through_the_other(
    start_server: StartServer, skopeo: Skopeo, tmp_path: Path, shared_catalog: str
) -> None:
    first, second = start_replicas(start_server, tmp_path, shared_catalog)
    push_then_pull(skopeo, first, second, tmp_path, 0)
    push_then_pull(skopeo, second, first, tmp_path, 1)
    assert first.stop() == 0
    assert second.stop() == 0


def test_two_replicas_of_two_workers_each_serve_one_registry(
    start_server: StartServer, skopeo: Skopeo, tmp_path: Path, shared_catalog: str
) -> None:
    first, second = start_replicas(
        start_server, tmp_path, shared_catalog, args=["--workers", "2"]
    )
    pids = worker_pids(first) | worker_pids(second)
    for n in range(6):
        pusher, puller = (first, second) if n % 2 == 0 else (second, first)
        push_then_pull(skopeo, pusher, puller, tmp_path, n)
    # Connections landed on every child of both replicas.
    assert answering_pids(first) | answering_pids(second) == pids
    assert first.stop() == 0
    assert second.stop() == 0


def test_a_chunked_upload_begun_on_one_replica_is_finished_on_the_other(
    start_server: StartServer, tmp_path: Path, shared_catalog: str
) -> None:
    first, second = start_replicas(start_server, tmp_path, shared_catalog)
    image_path = f"{PRIVATE_PROJECT}/split"
    content = os.urandom(2 * 1024 * KIB + 5)
    head, tail = content[: 1024 * KIB], content[1024 * KIB :]

    location = start_session(first, image_path)
    answered = patch(first, location, head)
    assert answered.status_code == 202, answered.text
    assert answered.headers["Range"] == f"0-{len(head) - 1}"
    answered = patch(second, answered.headers["Location"], tail, len(head), len(tail))
    assert answered.status_code == 202, answered.text
    assert answered.headers["Range"] == f"0-{len(content) - 1}"
    status = requests.get(first.url + location, auth=AUTH, timeout=HTTP_TIMEOUT_S)
    assert status.headers["Range"] == f"0-{len(content) - 1}"

    closed = close(second, answered.headers["Location"], sha256(content))
    assert closed.status_code == 201, closed.text
    assert blob_bytes(first, image_path, sha256(content)) == content
    assert blob_bytes(second, image_path, sha256(content)) == content


def test_fixture_mode_refuses_a_postgresql_catalog(shared_catalog: str, tmp_path: Path) -> None:
    """Its reset would wipe a catalog other replicas share."""
    env = replica_env(shared_catalog, {"REGISTRY_SERVICE_DATA_DIR": str(tmp_path / "data")})
    exited = run_cli(["serve", "--fixture"], env)
    assert exited.returncode == 2, exited.stderr
    assert "fixture mode resets its catalog, so it needs one of its own" in exited.stderr
    assert shared_catalog.split("@")[0].split(":")[-1] not in exited.stderr  # no password
