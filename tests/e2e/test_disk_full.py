"""A full disk, for real: the data directory on a 64 MiB tmpfs, the real server, raw HTTP.

Images of one 6 MiB layer are pushed (monolithic POST, a session's PATCH then PUT, and a
session closed by a PUT with a body, in turn) until the registry refuses one. With no floor
and no reserve the writes run into ENOSPC; with ``storage.reserve_bytes`` and/or
``storage.min_free_bytes`` uploads stop above them. Either way the refusal is a 507 with an
OCI body, one WARNING line and no traceback, and no session folder or partial byte is left
behind. Then the rest of the disk is filled by "another program", and tag deletes (``/v2``,
``/api/v4`` single and bulk), a repository delete and ``registry-service gc`` must still
succeed and free the space; pushes work again; and every image acknowledged before still
pulls back byte for byte.
"""

from __future__ import annotations

import json
import os
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
from tests.tmpfs import fill, free_bytes, mounted_tmpfs

pytestmark = pytest.mark.e2e

MIB = 1 << 20
DISK_MIB = 64
LAYER_BYTES = 6 * MIB
FLOOR_BYTES = 20 * MIB
RESERVE_BYTES = 8 * MIB
HTTP_TIMEOUT_S = 60
AUTH = (DEV.username, DEV.token)
OCTETS = {"Content-Type": "application/octet-stream"}
MODES = ("monolithic", "patch", "put-body")
# One repository per way out: single tag deletes, a bulk delete, a repository delete.
REPOSITORIES = ("single", "bulk", "whole")
OUT_OF_SPACE = "the registry is out of storage space; try again once space has been freed"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", DISK_MIB * MIB) as mount:
        yield mount


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
    free_before_refusal: int = 0

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
            pieces = [blob.data[i : i + MIB] for i in range(0, len(blob.data), MIB)]
            patched = requests.patch(
                location, data=iter(pieces), auth=AUTH, headers=OCTETS, timeout=HTTP_TIMEOUT_S
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
            self.free_before_refusal = free_bytes(self.server.data_dir)
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


def start(start_server: StartServer, tmp_path: Path, disk: Path, **storage: int) -> Registry:
    server = start_server(
        start=False,
        args=["--seed", str(write_seed(tmp_path / "seed.toml"))],
        env={f"REGISTRY_SERVICE_STORAGE_{k.upper()}": str(v) for k, v in storage.items()},
    )
    server.data_dir = disk / "data"  # the logs stay off the small disk
    server.start()
    return Registry(server)


def refuse_every_kind_of_upload(registry: Registry) -> None:
    """Each way of uploading a blob is refused now, and a session that already had bytes
    and is refused its next chunk is dropped."""
    for mode in MODES:
        answer = registry.push_blob("single", Blob(os.urandom(LAYER_BYTES)), mode)
        assert_out_of_space(answer)
        registry.refusals.append(answer)
    server = registry.server
    started = requests.post(registry.url("single", "blobs/uploads/"), auth=AUTH, timeout=30)
    if started.status_code != 202:
        assert_out_of_space(started)
        registry.refusals.append(started)
        return
    location = server.url + started.headers["Location"]
    first = requests.patch(location, data=b"x" * 1024, auth=AUTH, headers=OCTETS, timeout=30)
    if first.status_code != 202:
        assert_out_of_space(first)
        registry.refusals.append(first)
        return
    refused = requests.patch(
        server.url + first.headers["Location"], data=os.urandom(LAYER_BYTES), auth=AUTH,
        headers={**OCTETS, "Content-Range": f"1024-{1024 + LAYER_BYTES - 1}"}, timeout=30,
    )
    assert_out_of_space(refused)
    registry.refusals.append(refused)
    status = requests.get(server.url + first.headers["Location"], auth=AUTH, timeout=30)
    assert status.status_code == 404, status.text
    assert status.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"


def assert_refusals_logged_once_without_traceback(
    registry: Registry, api_refusals: int = 0
) -> None:
    log = registry.server.stderr
    warnings = [line for line in log.splitlines() if "InsufficientStorage" in line]
    assert len(warnings) == len(registry.refusals) + api_refusals, log[-3000:]
    assert all(" WARNING " in line for line in warnings), warnings
    assert "Traceback" not in log
    assert " ERROR " not in log
    assert not registry.server.logged_requests("[A-Z]+", r"/v2/\S*", "500")


def test_writes_that_run_into_enospc_answer_507_and_give_their_bytes_back(
    start_server: StartServer, small_disk: Path, tmp_path: Path
) -> None:
    registry = start(start_server, tmp_path, small_disk, min_free_bytes=0, reserve_bytes=0)

    stored = registry.fill()

    assert stored >= 3
    assert_out_of_space(registry.refusals[0])
    assert registry.refusals[0].json()["errors"][0]["detail"] in (
        {"reason": "No space left on device"},
        {"reason": "database or disk is full"},
    )
    # Whatever the failed push wrote is free again (but for a few catalog pages).
    assert free_bytes(small_disk) >= registry.free_before_refusal - 256 * 1024
    refuse_every_kind_of_upload(registry)
    assert session_leftovers(registry.server.data_dir) == []

    # With no reserve, a catalog write on a disk filled to the last byte fails too: 507 in
    # each API's format (SQLite's "database or disk is full"), and nothing half-written.
    filler = fill(small_disk)
    manifest = requests.put(
        registry.url("single", "manifests/late"), data=registry.pushed[("single", "v0")].manifest,
        auth=AUTH, headers={"Content-Type": registry.pushed[("single", "v0")].media_type},
        timeout=30,
    )
    assert_out_of_space(manifest)
    assert manifest.json()["errors"][0]["detail"] == {"reason": "database or disk is full"}
    created = Api(registry.server, registry.server.admin_token).request(
        "POST", "/projects", body=json.dumps({"path": "late", "namespace_id": 1}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert (created.status, created.json) == (507, {"message": "507 Insufficient Storage"})
    registry.refusals.append(manifest)
    filler.unlink()

    assert_refusals_logged_once_without_traceback(registry, api_refusals=1)
    registry.assert_pulls_identical()
    missing = requests.get(registry.url("single", "manifests/late"), auth=AUTH, timeout=30)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("floor_bytes", "reserve_bytes"),
    [(0, RESERVE_BYTES), (FLOOR_BYTES, RESERVE_BYTES)],
    ids=["reserve", "min-free-floor-and-reserve"],
)
def test_the_way_out_of_a_full_disk_works(
    start_server: StartServer,
    small_disk: Path,
    tmp_path: Path,
    floor_bytes: int,
    reserve_bytes: int,
) -> None:
    registry = start(
        start_server, tmp_path, small_disk,
        min_free_bytes=floor_bytes, reserve_bytes=reserve_bytes,
    )
    server = registry.server
    reserve = server.data_dir / "reserve"

    with LowWater(small_disk) as low:
        stored = registry.fill()
    assert stored >= 4
    assert_out_of_space(registry.refusals[0])
    # Uploads stopped above the floor and the reserve: the disk never came near full.
    assert low.lowest >= max(floor_bytes, reserve_bytes) - 2 * MIB, low.lowest
    refuse_every_kind_of_upload(registry)
    assert session_leftovers(server.data_dir) == []
    assert_refusals_logged_once_without_traceback(registry)

    # Another program fills the rest of the disk.
    filler = fill(small_disk)
    assert free_bytes(small_disk) == 0

    # The way out, on the full disk: tag deletes, a bulk delete, a repository delete, gc.
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
            "REGISTRY_SERVICE_STORAGE_MIN_FREE_BYTES": str(floor_bytes),
            "REGISTRY_SERVICE_STORAGE_RESERVE_BYTES": str(reserve_bytes),
        },
    )
    assert collected.returncode == 0, collected.stderr
    freed = json.loads(collected.stdout)["bytes_freed"]
    deleted_images = stored - len(registry.pushed)
    assert freed >= deleted_images * LAYER_BYTES
    assert free_bytes(small_disk) >= deleted_images * LAYER_BYTES - 2 * MIB

    # With the other program's file still there, pushes work again and the reserve is back.
    for n, mode in enumerate(MODES):
        answer = registry.push("single", f"again{n}", image(layers=1, layer_size=MIB), mode)
        assert answer.status_code == 201, answer.text
    assert reserve.stat().st_size == reserve_bytes
    registry.assert_pulls_identical()
    assert "Traceback" not in server.stderr
    filler.unlink()
