"""Several server processes over one data directory: ``serve --workers 2``, and two separate
``serve`` processes on different ports (the same shared-state code: upload sessions locked with
``flock`` and continued from their files, one active job runner per catalog, chosen by its
``jobs-runner`` lease).

- skopeo pushes and pulls back byte-identical through the shared port, many times; the access
  log (JSON, with the answering ``pid``) shows both children answered.
- A chunked upload alternates its PATCHes between two processes and is closed on the other.
- Two processes race PATCHes at one offset of one session: exactly one wins, the other is 416
  ``BLOB_UPLOAD_INVALID``, and the blob is the winner's bytes.
- SIGKILL of a child: the parent logs it and starts another; pushes keep working.
- SIGTERM to the parent: a request in flight completes, then every child and the parent exit 0.
- A 50,000-tag cleanup with two processes on its data directory runs once, in one of them.
- ``--workers 1`` (the default) is one process, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.accounts import DEV, PRIVATE_PROJECT, write_seed
from tests.e2e.jobs_fixture import BATCH, JobWatch, WriteHold, prepare_cleanup
from tests.e2e.oci_layout import assert_same_content, build_image, read_layout, write_layout
from tests.e2e.server import RegistryServer, StartServer, port_is_free
from tests.e2e.skopeo import Skopeo, ok

pytestmark = pytest.mark.e2e

AUTH = (DEV.username, DEV.token)
OCTETS = {"Content-Type": "application/octet-stream"}
HTTP_TIMEOUT_S = 60
WAIT_S = 60.0
JSON_LOGS = {"REGISTRY_SERVICE_SERVER_LOG_FORMAT": "json"}
KIB = 1 << 10


# --- helpers ----------------------------------------------------------------------------------


def log_entries(server: RegistryServer) -> list[dict[str, Any]]:
    entries = []
    for line in server.stderr.splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


def wait_for_log(server: RegistryServer, needle: str, timeout_s: float = WAIT_S) -> str:
    """The first log message containing ``needle`` (waiting for it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in log_entries(server):
            if needle in entry["message"]:
                return str(entry["message"])
        assert server.running, f"the server exited\n{server.stderr}"
        time.sleep(0.05)
    raise AssertionError(f"no log line with {needle!r} after {timeout_s}s\n{server.stderr}")


def children_of(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in text.split()}


def worker_pids(server: RegistryServer) -> set[int]:
    """The children the parent reported ready, checked against the process table."""
    assert server.process is not None
    message = wait_for_log(server, "ready: 2 workers")
    pids = {int(p) for p in message.split("(pids ")[1].split(")")[0].split()}
    assert pids == children_of(server.process.pid)
    return pids


def answering_pids(server: RegistryServer) -> set[int]:
    return {e["pid"] for e in log_entries(server) if e["logger"] == "aiohttp.access"}


def start_workers(start_server: StartServer, tmp_path: Path) -> RegistryServer:
    seed = write_seed(tmp_path / "seed.toml")
    return start_server(args=["--seed", str(seed), "--workers", "2"], env=JSON_LOGS)


def start_pair(start_server: StartServer, tmp_path: Path) -> tuple[RegistryServer, RegistryServer]:
    """Two separate ``serve`` processes on different ports over one data directory."""
    first = start_server(args=["--seed", str(write_seed(tmp_path / "seed.toml"))])
    second = start_server(start=False, args=[])
    second.data_dir = first.data_dir
    second.start()
    return first, second


def v2(server: RegistryServer, path: str) -> str:
    return f"{server.url}/v2/{path}"


def start_session(server: RegistryServer, image_path: str) -> str:
    started = requests.post(
        v2(server, f"{image_path}/blobs/uploads/"), auth=AUTH, timeout=HTTP_TIMEOUT_S
    )
    assert started.status_code == 202, started.text
    return str(started.headers["Location"])


def patch(
    server: RegistryServer, location: str, body: Any, start: int | None = None, size: int = 0
) -> requests.Response:
    headers = dict(OCTETS)
    if start is not None:
        headers["Content-Range"] = f"{start}-{start + size - 1}"
    return requests.patch(
        server.url + location, data=body, auth=AUTH, headers=headers, timeout=HTTP_TIMEOUT_S
    )


def close(server: RegistryServer, location: str, digest: str) -> requests.Response:
    return requests.put(
        server.url + location, params={"digest": digest}, auth=AUTH, timeout=HTTP_TIMEOUT_S
    )


def blob_bytes(server: RegistryServer, image_path: str, digest: str) -> bytes:
    pulled = requests.get(
        v2(server, f"{image_path}/blobs/{digest}"), auth=AUTH, timeout=HTTP_TIMEOUT_S
    )
    assert pulled.status_code == 200, pulled.text
    return pulled.content


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def round_trip(skopeo: Skopeo, server: RegistryServer, tmp_path: Path, n: int) -> None:
    image = build_image(100 + n)
    source = write_layout(tmp_path / f"source-{n}", {"v": image})
    reference = f"{server.host}/{PRIVATE_PROJECT}/workers:v{n}"
    ok(skopeo.push(source, "v", reference, DEV))
    pulled_dir = tmp_path / f"pulled-{n}"
    ok(skopeo.pull(reference, pulled_dir, "v", DEV))
    assert_same_content(read_layout(pulled_dir), image, "v")


# --- serve --workers 2 --------------------------------------------------------------------


def test_skopeo_round_trips_through_both_workers(
    start_server: StartServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    server = start_workers(start_server, tmp_path)
    pids = worker_pids(server)
    for n in range(8):
        round_trip(skopeo, server, tmp_path, n)
    assert answering_pids(server) == pids  # connections landed on both children
    assert server.stop() == 0


def test_a_killed_worker_is_restarted_and_pushes_go_on(
    start_server: StartServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    server = start_workers(start_server, tmp_path)
    assert server.process is not None
    victim, survivor = sorted(worker_pids(server))
    os.kill(victim, signal.SIGKILL)

    wait_for_log(server, f"(pid {victim}) was killed by SIGKILL; restarting it")
    deadline = time.monotonic() + WAIT_S
    while len(children_of(server.process.pid) - {victim}) < 2:
        assert time.monotonic() < deadline, "no replacement child"
        time.sleep(0.05)
    assert survivor in children_of(server.process.pid)
    for n in range(3):
        round_trip(skopeo, server, tmp_path, n)
    assert server.running
    assert server.stop() == 0


def test_sigterm_lets_a_request_in_flight_finish_in_a_worker(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_workers(start_server, tmp_path)
    assert server.process is not None
    pids = worker_pids(server)
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            outcome["response"] = requests.post(
                v2(server, f"{PRIVATE_PROJECT}/drain/blobs/uploads/"), auth=AUTH,
                timeout=HTTP_TIMEOUT_S,
            )
        except requests.RequestException as exc:
            outcome["error"] = exc

    # Holding the catalog's write lock keeps the POST (it writes the session's row) in flight.
    with WriteHold(server.data_dir):
        sender = threading.Thread(target=post)
        sender.start()
        time.sleep(1.0)  # accepted by a child, and waiting for the lock
        server.signal(signal.SIGTERM)
        deadline = time.monotonic() + WAIT_S
        while not port_is_free(server.port):
            assert time.monotonic() < deadline, "still listening after SIGTERM"
            time.sleep(0.02)
        assert "response" not in outcome and "error" not in outcome
    sender.join(HTTP_TIMEOUT_S)

    assert outcome["response"].status_code == 202, outcome
    assert server.wait() == 0, server.stderr
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_one_worker_is_one_process(start_server: StartServer) -> None:
    server = start_server()
    assert server.process is not None
    assert children_of(server.process.pid) == set()
    assert "workers" not in server.stderr
    assert server.stop() == 0


# --- two serve processes on one data directory ---------------------------------------------


def test_a_chunked_upload_alternates_between_processes(
    start_server: StartServer, tmp_path: Path
) -> None:
    first, second = start_pair(start_server, tmp_path)
    image_path = f"{PRIVATE_PROJECT}/split"
    content = os.urandom(3 * 1024 * KIB + 17)
    pieces = [content[i : i + 700 * KIB] for i in range(0, len(content), 700 * KIB)]

    location = start_session(first, image_path)
    offset = 0
    for n, piece in enumerate(pieces):
        server = (first, second)[n % 2]
        # PATCHes to the second process give their offset; the first's are streamed.
        start = offset if n % 2 else None
        answered = patch(server, location, piece, start, len(piece))
        assert answered.status_code == 202, answered.text
        offset += len(piece)
        assert answered.headers["Range"] == f"0-{offset - 1}"
        location = answered.headers["Location"]
    status = requests.get(first.url + location, auth=AUTH, timeout=HTTP_TIMEOUT_S)
    assert status.headers["Range"] == f"0-{len(content) - 1}"
    last = (first, second)[len(pieces) % 2]

    closed = close(last, location, sha256(content))
    assert closed.status_code == 201, closed.text
    assert blob_bytes(first, image_path, sha256(content)) == content
    assert blob_bytes(second, image_path, sha256(content)) == content


def race(
    location: str, bodies: dict[RegistryServer, bytes], piece: int, count: int
) -> dict[RegistryServer, requests.Response]:
    """PATCH each body at offset 0 of one session, through its server, at the same moment,
    each sent slowly enough that the two overlap."""
    barrier = threading.Barrier(len(bodies))
    answers: dict[RegistryServer, requests.Response] = {}

    def send(server: RegistryServer, data: bytes) -> None:
        def slowly() -> Iterator[bytes]:
            for i in range(count):
                time.sleep(0.02)
                yield data[i * piece : (i + 1) * piece]

        barrier.wait()
        answers[server] = patch(server, location, slowly(), 0, len(data))

    threads = [threading.Thread(target=send, args=item) for item in bodies.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HTTP_TIMEOUT_S)
    return answers


def test_patches_racing_on_one_session_across_processes_one_wins(
    start_server: StartServer, tmp_path: Path
) -> None:
    first, second = start_pair(start_server, tmp_path)
    image_path = f"{PRIVATE_PROJECT}/race"
    piece, count = 64 * KIB, 12
    for round_ in range(4):
        location = start_session((first, second)[round_ % 2], image_path)
        bodies = {server: os.urandom(piece * count) for server in (first, second)}
        answers = race(location, bodies, piece, count)

        statuses = sorted(answer.status_code for answer in answers.values())
        assert statuses == [202, 416], [answer.text for answer in answers.values()]
        (winner,) = (server for server, answer in answers.items() if answer.status_code == 202)
        (loser,) = (answer for answer in answers.values() if answer.status_code == 416)
        assert loser.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
        assert loser.headers["Range"] == f"0-{piece * count - 1}"
        digest = sha256(bodies[winner])
        assert close(first, answers[winner].headers["Location"], digest).status_code == 201
        assert blob_bytes(second, image_path, digest) == bodies[winner]


def test_a_cleanup_runs_once_with_two_processes_on_its_data_directory(
    start_server: StartServer,
) -> None:
    first = start_server(start=False)
    scenario = prepare_cleanup(first.data_dir)
    watch = JobWatch(scenario)
    try:
        first.start()
        watch.wait_for(
            lambda job: job.processed >= BATCH or job.state in ("done", "failed"),
            timeout_s=WAIT_S, what="a first batch of deletions",
        )
        second = start_server(start=False, args=[])
        second.data_dir = first.data_dir
        # The second process starts while the job holds back a batch: a second active runner
        # would return the running job to the queue on start, and it would run again.
        with WriteHold(scenario.data_dir):
            starting = threading.Thread(target=second.start)
            starting.start()
            time.sleep(2.0)
        starting.join(WAIT_S)
        assert second.running
        job = watch.wait_for(
            lambda job: job.state in ("done", "failed"), timeout_s=WAIT_S, what="the end",
            interval_s=0.05,
        )
        assert job.state == "done" and job.attempts == 1, job.summary()
        assert watch.tags() == scenario.expected
        assert watch.jobs_of_repository() == [(watch.job_id, "cleanup_tags", "done")]
        assert "job runner standing by" in second.stderr
        assert "job runner standing by" not in first.stderr
    finally:
        watch.close()
