"""A full disk, for real: the data directory on a 64 MiB tmpfs, the real server, raw HTTP.

Images of one 6 MiB layer are pushed (monolithic POST, a session's PATCH then PUT, and a
session closed by a PUT with a body, in turn) until the registry refuses one, twice over:
with ``storage.min_free_bytes`` off, so writes run into ENOSPC, and with a floor, so uploads
stop above it. Either way the refusal is a 507 with an OCI body, one WARNING line and no
traceback; no session folder and no partial byte is left behind; tag deletes (``/v2``,
``/api/v4`` single and bulk), a repository delete and ``registry-service gc`` succeed on the
full disk and free its space; pushes then work again; and every image acknowledged before
still pulls back byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.accounts import DEV, PRIVATE_PROJECT, write_seed
from tests.e2e.gitlab_support import Api
from tests.e2e.server import RegistryServer, StartServer, run_cli
from tests.oci_content import Blob, Image, image

pytestmark = pytest.mark.e2e

MIB = 1 << 20
DISK_MIB = 64
LAYER_BYTES = 6 * MIB
FLOOR_BYTES = 20 * MIB
HTTP_TIMEOUT_S = 60
AUTH = (DEV.username, DEV.token)
OCTETS = {"Content-Type": "application/octet-stream"}
MODES = ("monolithic", "patch", "put-body")
# One repository per way out: single tag deletes, a bulk delete, a repository delete.
REPOSITORIES = ("single", "bulk", "whole")
OUT_OF_SPACE = "the registry is out of storage space; try again once space has been freed"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh 64 MiB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MIB}m", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class LowWater(threading.Thread):
    """Samples the free space of a filesystem every few milliseconds; ``lowest`` is the least
    seen."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.lowest = free_bytes(path)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.002):
            self.lowest = min(self.lowest, free_bytes(self.path))

    def __enter__(self) -> LowWater:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()


@dataclass
class Registry:
    server: RegistryServer
    pushed: dict[tuple[str, str], Image] = field(default_factory=dict)
    refusals: list[requests.Response] = field(default_factory=list)

    def url(self, repository: str, rest: str) -> str:
        return f"{self.server.url}/v2/{PRIVATE_PROJECT}/{repository}/{rest}"

    def push_blob(self, repository: str, blob: Blob, mode: str) -> requests.Response:
        """Push one blob the way ``mode`` says; the last answer (201 or the refusal)."""
        if mode == "monolithic":
            return requests.post(
                self.url(repository, "blobs/uploads/"), params={"digest": blob.digest},
                data=blob.data, auth=AUTH, headers=OCTETS, timeout=HTTP_TIMEOUT_S,
            )
        started = requests.post(
            self.url(repository, "blobs/uploads/"), auth=AUTH, timeout=HTTP_TIMEOUT_S
        )
        if started.status_code != 202:
            return started
        location = self.server.url + started.headers["Location"]
        if mode == "patch":
            patched = requests.patch(
                location, data=iter([blob.data[i : i + MIB] for i in range(0, len(blob.data), MIB)]),
                auth=AUTH, headers=OCTETS, timeout=HTTP_TIMEOUT_S,
            )
            if patched.status_code != 202:
                return patched
            location = self.server.url + patched.headers["Location"]
            return requests.put(
                location, params={"digest": blob.digest}, auth=AUTH, timeout=HTTP_TIMEOUT_S
            )
        return requests.put(
            location, params={"digest": blob.digest}, data=blob.data, auth=AUTH,
            headers=OCTETS, timeout=HTTP_TIMEOUT_S,
        )

    def push(self, repository: str, tag: str, pushed: Image, mode: str) -> requests.Response:
        """Push an image's blobs, then its manifest; the first answer that is not a success."""
        for blob in pushed.blobs:
            answer = self.push_blob(repository, blob, mode)
            if answer.status_code != 201:
                return answer
        answer = requests.put(
            self.url(repository, f"manifests/{tag}"), data=pushed.manifest, auth=AUTH,
            headers={"Content-Type": pushed.media_type}, timeout=HTTP_TIMEOUT_S,
        )
        if answer.status_code == 201:
            self.pushed[(repository, tag)] = pushed
        return answer

    def fill(self) -> int:
        """Push images round-robin over the repositories and modes until one is refused;
        return how many were stored."""
        for n in range(2 * DISK_MIB * MIB // LAYER_BYTES):
            answer = self.push(
                REPOSITORIES[n % 3], f"v{n}", image(layers=1, layer_size=LAYER_BYTES),
                MODES[n % len(MODES)],
            )
            if answer.status_code != 201:
                assert answer.status_code == 507, (answer.status_code, answer.text)
                self.refusals.append(answer)
                return n
        raise AssertionError("the disk never filled up")

    def assert_pulls_identical(self) -> None:
        for (repository, tag), pushed in self.pushed.items():
            manifest = requests.get(
                self.url(repository, f"manifests/{tag}"), auth=AUTH,
                headers={"Accept": pushed.media_type}, timeout=HTTP_TIMEOUT_S,
            )
            assert (manifest.status_code, manifest.content) == (200, pushed.manifest)
            for blob in pushed.blobs:
                pulled = requests.get(
                    self.url(repository, f"blobs/{blob.digest}"), auth=AUTH,
                    timeout=HTTP_TIMEOUT_S,
                )
                assert pulled.status_code == 200, pulled.text
                assert pulled.content == blob.data


def assert_out_of_space(answer: requests.Response) -> None:
    assert answer.status_code == 507, (answer.status_code, answer.text)
    assert answer.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    (error,) = answer.json()["errors"]
    assert (error["code"], error["message"]) == ("UNKNOWN", OUT_OF_SPACE)


def session_leftovers(data_dir: Path) -> list[str]:
    """Everything under ``uploads/`` and ``tmp/``: after a refusal there must be nothing."""
    found = []
    for sub in ("uploads", "tmp"):
        top = data_dir / sub
        if top.exists():
            found += [str(p.relative_to(data_dir)) for p in top.rglob("*")]
    return found


def wait_for_job(api: Api, response: Any) -> None:
    assert response.status == 202, response.body
    job_id = response.header("X-Registry-Job-Id")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = api.get(f"/registry/jobs/{job_id}").json["state"]
        if state in {"done", "failed"}:
            assert state == "done", api.get(f"/registry/jobs/{job_id}").json
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def repository_ids(api: Api) -> dict[str, int]:
    project = PRIVATE_PROJECT.replace("/", "%2F")
    listed = api.get(f"/projects/{project}/registry/repositories").json
    return {r["path"].rsplit("/", 1)[1]: r["id"] for r in listed}


@pytest.mark.parametrize("floor_bytes", [0, FLOOR_BYTES], ids=["enospc", "min-free-floor"])
def test_a_full_disk_answers_507_and_the_way_out_works(
    start_server: StartServer, small_disk: Path, tmp_path: Path, floor_bytes: int
) -> None:
    server = start_server(
        start=False,
        args=["--seed", str(write_seed(tmp_path / "seed.toml"))],
        env={
            "REGISTRY_SERVICE_STORAGE_MIN_FREE_BYTES": str(floor_bytes),
        },
    )
    server.data_dir = small_disk / "data"  # the logs stay off the small disk
    server.start()
    registry = Registry(server)

    with LowWater(small_disk) as low:
        stored = registry.fill()
    assert stored >= 3
    assert_out_of_space(registry.refusals[0])
    if floor_bytes:
        # Uploads stopped at the floor: the disk never came near full.
        assert low.lowest >= floor_bytes - MIB, low.lowest

    # Every kind of upload is refused now, and gives back what it wrote.
    for mode in MODES:
        answer = registry.push_blob("single", Blob(os.urandom(LAYER_BYTES)), mode)
        assert_out_of_space(answer)
        registry.refusals.append(answer)
    # A session that had bytes and is refused its next chunk is dropped, bytes and all.
    started = requests.post(registry.url("single", "blobs/uploads/"), auth=AUTH, timeout=30)
    if started.status_code == 202:
        location = server.url + started.headers["Location"]
        first = requests.patch(location, data=b"x" * 1024, auth=AUTH, headers=OCTETS, timeout=30)
        assert first.status_code == 202, first.text
        refused = requests.patch(
            server.url + first.headers["Location"], data=os.urandom(LAYER_BYTES), auth=AUTH,
            headers={**OCTETS, "Content-Range": f"1024-{1024 + LAYER_BYTES - 1}"}, timeout=30,
        )
        assert_out_of_space(refused)
        registry.refusals.append(refused)
        status = requests.get(server.url + first.headers["Location"], auth=AUTH, timeout=30)
        assert status.status_code == 404, status.text
        assert status.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
    else:
        assert_out_of_space(started)
        registry.refusals.append(started)
    assert session_leftovers(server.data_dir) == []
    # Every refusal was logged once at WARNING, without a traceback, and none was a 500.
    log = server.stderr
    assert log.count("WARNING") == len(registry.refusals), log[-3000:]
    assert "Traceback" not in log
    assert not server.logged_requests("[A-Z]+", r"/v2/\S*", "500")

    # The way out, on the full disk: tag deletes, a bulk delete, a repository delete, gc.
    before = free_bytes(small_disk)
    api = Api(server, server.admin_token)
    project = PRIVATE_PROJECT.replace("/", "%2F")
    ids = repository_ids(api)
    single = sorted(tag for repository, tag in registry.pushed if repository == "single")
    admin = ("root", server.admin_token or "")
    deleted = requests.delete(
        registry.url("single", f"manifests/{single[0]}"), auth=admin, timeout=30
    )
    assert deleted.status_code == 202, deleted.text
    one = api.delete(f"/projects/{project}/registry/repositories/{ids['single']}/tags/{single[1]}")
    assert one.status == 200, one.body
    wait_for_job(api, api.delete(
        f"/projects/{project}/registry/repositories/{ids['bulk']}/tags",
        query={"name_regex_delete": ".*"},
    ))
    wait_for_job(api, api.delete(f"/projects/{project}/registry/repositories/{ids['whole']}"))
    for repository, tag in [*registry.pushed]:
        if repository != "single" or tag in single[:2]:
            del registry.pushed[(repository, tag)]
    collected = run_cli(
        ["gc", "--json"],
        env={
            "REGISTRY_SERVICE_DATA_DIR": str(server.data_dir),
            "REGISTRY_SERVICE_GC_MANIFEST_GRACE_SECONDS": "0",
            "REGISTRY_SERVICE_GC_BLOB_GRACE_SECONDS": "0",
        },
    )
    assert collected.returncode == 0, collected.stderr
    freed = json.loads(collected.stdout)["bytes_freed"]
    deleted_images = stored - len(registry.pushed)
    assert freed >= deleted_images * LAYER_BYTES
    # (less the catalog's own growth: its write-ahead log)
    assert free_bytes(small_disk) >= before + deleted_images * LAYER_BYTES - MIB

    # Pushes work again, and nothing acknowledged was lost.
    for n, mode in enumerate(MODES):
        answer = registry.push("single", f"again{n}", image(layers=1, layer_size=LAYER_BYTES), mode)
        assert answer.status_code == 201, answer.text
    registry.assert_pulls_identical()
    assert "Traceback" not in server.stderr
