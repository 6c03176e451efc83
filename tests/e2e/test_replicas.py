"""Several replicas act as one registry: separate ``serve`` processes (each also with
``--workers 2``) on one PostgreSQL catalog and one shared data directory (``tests.e2e.replicas``).

- skopeo pushes through replica A and pulls byte-identical through replica B, with the
  Bearer token B's challenge sends it to; the same with two ``--workers 2`` replicas;
- a Bearer token issued by A's ``/jwt/auth`` is accepted by B (one signing key, shared);
- a chunked upload begun on A (POST, first PATCH) continues on B (PATCH, PUT); the blob pulls
  identical through both;
- 50 raw-HTTP pushers spread over both while B is SIGKILLed and restarted: every push
  answered 201 pulls byte-identical through both, none through A fails, and the store (blob
  files against the PostgreSQL rows) is consistent;
- a 50,000-tag cleanup asked of A through the GitLab bulk-delete API runs once (one job row,
  one claim, counts equal to the planned deletions, exactly the kept tags left, only A's runner
  active) while B answers every read it is sent with 200;
- a replica starting up does not purge the temp file of an upload another replica is
  streaming;
- ``serve --fixture`` on a PostgreSQL catalog exits at once with a message saying why.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import requests

from tests.e2e.accounts import DEV, PRIVATE_PROJECT
from tests.e2e.consistency import assert_store_consistent
from tests.e2e.jobs_fixture import PROJECT_PATH, QUERY, TAG_COUNT, prepare_cleanup
from tests.e2e.oci_layout import assert_same_content, build_image, read_layout, write_layout
from tests.e2e.replicas import replica_env, start_replicas
from tests.e2e.server import RegistryServer, StartServer, run_cli
from tests.e2e.skopeo import Skopeo, ok
from tests.e2e.test_workers import (
    AUTH,
    HTTP_TIMEOUT_S,
    KIB,
    OCTETS,
    answering_pids,
    blob_bytes,
    close,
    patch,
    sha256,
    start_session,
    worker_pids,
)
from tests.oci_content import OCI_CONFIG, Blob, Image
from tests.postgres_server import run_async

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
    shared_catalog: str, start_server: StartServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    first, second = start_replicas(start_server, tmp_path, shared_catalog)
    push_then_pull(skopeo, first, second, tmp_path, 0)
    push_then_pull(skopeo, second, first, tmp_path, 1)
    assert first.stop() == 0
    assert second.stop() == 0


def test_a_bearer_token_from_one_replica_is_good_on_the_other(
    shared_catalog: str, start_server: StartServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    """Behind a load balancer the token request and the next request may reach different
    replicas: both sign and check with the one key."""
    first, second = start_replicas(start_server, tmp_path, shared_catalog)
    push_then_pull(skopeo, first, first, tmp_path, 0)
    image_path = f"{PRIVATE_PROJECT}/replicas"
    issued = requests.get(
        f"{first.url}/jwt/auth",
        params={"service": "container_registry", "scope": f"repository:{image_path}:pull"},
        auth=AUTH,
        timeout=HTTP_TIMEOUT_S,
    )
    assert issued.status_code == 200, issued.text
    bearer = {"Authorization": f"Bearer {issued.json()['token']}"}
    for server in (second, first):
        answer = requests.get(
            v2_url(server, f"{image_path}/manifests/v0"), headers=bearer, timeout=HTTP_TIMEOUT_S
        )
        assert answer.status_code == 200, answer.text
    # Without the token the same request is refused: the token is what let it through.
    refused = requests.get(v2_url(second, f"{image_path}/manifests/v0"), timeout=HTTP_TIMEOUT_S)
    assert refused.status_code == 401


def test_two_replicas_of_two_workers_each_serve_one_registry(
    shared_catalog: str, start_server: StartServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    first, second = start_replicas(start_server, tmp_path, shared_catalog, args=["--workers", "2"])
    pids = worker_pids(first) | worker_pids(second)
    for n in range(6):
        pusher, puller = (first, second) if n % 2 == 0 else (second, first)
        push_then_pull(skopeo, pusher, puller, tmp_path, n)
    # Connections landed on every child of both replicas.
    assert answering_pids(first) | answering_pids(second) == pids
    assert first.stop() == 0
    assert second.stop() == 0


def test_a_chunked_upload_begun_on_one_replica_is_finished_on_the_other(
    shared_catalog: str, start_server: StartServer, tmp_path: Path
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


# --- 50 pushers while a replica is SIGKILLed and restarted ----------------------------------

PUSHERS = 50
WAIT_S = 60.0
# Acknowledged pushes to see through the restarted replica before the pushers stop.
AFTER_RESTART = 25
STORM_S = 45.0


@dataclass(frozen=True)
class Acknowledged:
    """A push the registry answered 201 for: what must now be pullable from either replica."""

    image_path: str
    tag: str
    image: Image
    through: RegistryServer
    at: float


class PushFailed(Exception):
    """A step of a raw push was not answered as the protocol says (or not at all)."""


def push_blob(session: requests.Session, server: RegistryServer, path: str, blob: Blob) -> None:
    """The config in one request (POST ?digest=), layers as POST + PATCH + PUT."""
    uploads = v2_url(server, f"{path}/blobs/uploads/")
    if blob.media_type == OCI_CONFIG:
        answer = session.post(
            uploads,
            params={"digest": blob.digest},
            data=blob.data,
            headers=OCTETS,
            timeout=HTTP_TIMEOUT_S,
        )
        if answer.status_code != 201:
            raise PushFailed(f"monolithic upload: {answer.status_code} {answer.text}")
        return
    started = session.post(uploads, timeout=HTTP_TIMEOUT_S)
    if started.status_code != 202:
        raise PushFailed(f"POST: {started.status_code} {started.text}")
    patched = session.patch(
        server.url + started.headers["Location"],
        data=blob.data,
        headers=OCTETS,
        timeout=HTTP_TIMEOUT_S,
    )
    if patched.status_code != 202:
        raise PushFailed(f"PATCH: {patched.status_code} {patched.text}")
    closed = session.put(
        server.url + patched.headers["Location"],
        params={"digest": blob.digest},
        timeout=HTTP_TIMEOUT_S,
    )
    if closed.status_code != 201:
        raise PushFailed(f"PUT: {closed.status_code} {closed.text}")


def push_image(
    session: requests.Session, server: RegistryServer, path: str, tag: str, image: Image
) -> bool:
    """True once the manifest PUT is answered 201 (the acknowledgement)."""
    for blob in image.blobs:
        push_blob(session, server, path, blob)
    answer = session.put(
        v2_url(server, f"{path}/manifests/{tag}"),
        data=image.manifest,
        headers={"Content-Type": image.media_type},
        timeout=HTTP_TIMEOUT_S,
    )
    if answer.status_code != 201:
        raise PushFailed(f"manifest PUT: {answer.status_code} {answer.text}")
    return True


def v2_url(server: RegistryServer, path: str) -> str:
    return f"{server.url}/v2/{path}"


def assert_pulls_identical(server: RegistryServer, pushed: Acknowledged) -> None:
    with requests.Session() as session:
        session.auth = AUTH
        manifest = session.get(
            v2_url(server, f"{pushed.image_path}/manifests/{pushed.tag}"),
            headers={"Accept": pushed.image.media_type},
            timeout=HTTP_TIMEOUT_S,
        )
        assert manifest.status_code == 200, (pushed, manifest.text)
        assert manifest.content == pushed.image.manifest, pushed
        for blob in pushed.image.blobs:
            got = session.get(
                v2_url(server, f"{pushed.image_path}/blobs/{blob.digest}"),
                timeout=HTTP_TIMEOUT_S,
            )
            assert got.status_code == 200, (pushed, blob.digest, got.text)
            assert got.content == blob.data, (pushed, blob.digest)


def test_every_acknowledged_push_survives_a_replica_killed_and_restarted_under_50_pushers(
    shared_catalog: str, start_server: StartServer, tmp_path: Path
) -> None:
    first, second = start_replicas(start_server, tmp_path, shared_catalog)
    acknowledged: list[Acknowledged] = []
    failures: list[tuple[RegistryServer, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def pusher(n: int) -> None:
        server = (first, second)[n % 2]
        path = f"{PRIVATE_PROJECT}/storm-{n:02d}"
        with requests.Session() as session:
            session.auth = AUTH
            for round_ in itertools.count():
                if stop.is_set():
                    return
                image = build_image(10_000 + n * 100 + round_, layers=2, layer_size_bytes=8 * KIB)
                tag = f"r{round_}"
                try:
                    push_image(session, server, path, tag, image)
                except (PushFailed, requests.RequestException) as exc:
                    with lock:
                        failures.append((server, repr(exc)))
                    time.sleep(0.1)  # the replica may be down: try the next image soon
                    continue
                with lock:
                    acknowledged.append(Acknowledged(path, tag, image, server, time.monotonic()))

    def acknowledged_by(server: RegistryServer, since: float) -> int:
        with lock:
            return sum(1 for a in acknowledged if a.through is server and a.at > since)

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(PUSHERS)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + STORM_S
        while acknowledged_by(second, 0.0) < PUSHERS // 2:
            assert time.monotonic() < deadline, failures[:5]
            time.sleep(0.05)
        second.kill()
        time.sleep(0.5)
        second.start()
        restarted_at = time.monotonic()
        while acknowledged_by(second, restarted_at) < AFTER_RESTART:
            assert time.monotonic() < deadline, failures[-5:]
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(HTTP_TIMEOUT_S)

    through_first = sum(1 for a in acknowledged if a.through is first)
    print(
        f"{len(acknowledged)} pushes acknowledged ({through_first} through A), "
        f"{len(failures)} failed, {sum(1 for s, _ in failures if s is first)} of them through A"
    )
    # Replica A stayed up the whole time: none of its pushes may fail. B's failed only for
    # being down (refused or cut connections), never with a wrong answer.
    assert [reason for server, reason in failures if server is first] == []
    assert [r for _, r in failures if not r.startswith("ConnectionError")] == [], failures[:5]
    for pushed in acknowledged:
        assert_pulls_identical(first, pushed)
        assert_pulls_identical(second, pushed)
    assert first.stop() == 0
    assert second.stop() == 0
    assert_store_consistent(first.data_dir, catalog_url=shared_catalog)


# --- a 50,000-tag cleanup requested through one replica while the other serves reads -----------


def query(catalog_url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of one statement, read from the shared catalog as an operator's psql would."""

    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(catalog_url)
        try:
            return [tuple(row) for row in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return run_async(fetch)


def test_a_50000_tag_cleanup_asked_of_one_replica_runs_once_while_the_other_serves_reads(
    shared_catalog: str, start_server: StartServer, tmp_path: Path
) -> None:
    first, second = start_replicas(start_server, tmp_path, shared_catalog)
    started = time.monotonic()
    scenario = prepare_cleanup(first.data_dir, submit=False, catalog_url=shared_catalog)
    print(f"seeded {TAG_COUNT} tags in {time.monotonic() - started:.1f} s")
    reader_auth = ("cleaner", scenario.requester_token)
    reads: list[int] = []
    stop = threading.Event()

    def read_from_second() -> None:
        paths = [
            f"{PROJECT_PATH}/tags/list?n=100",
            f"{PROJECT_PATH}/manifests/latest",
            f"{PROJECT_PATH}/manifests/release-00000",
        ]
        with requests.Session() as session:
            session.auth = reader_auth
            for n in itertools.count():
                if stop.is_set():
                    return
                answer = session.get(v2_url(second, paths[n % len(paths)]), timeout=HTTP_TIMEOUT_S)
                reads.append(answer.status_code)

    reader = threading.Thread(target=read_from_second)
    reader.start()
    try:
        answer = requests.delete(
            f"{first.url}/api/v4/projects/{scenario.project_id}/registry/repositories/"
            f"{scenario.repository_id}/tags",
            params=QUERY,
            headers={"PRIVATE-TOKEN": scenario.requester_token},
            timeout=HTTP_TIMEOUT_S,
        )
        assert answer.status_code == 202, answer.text
        asked_at = time.monotonic()
        deadline = asked_at + WAIT_S
        while True:
            rows = query(
                shared_catalog,
                "SELECT id, kind, state, attempts, counts FROM jobs WHERE repository_id = $1",
                scenario.repository_id,
            )
            if rows and rows[0][2] in ("done", "failed"):
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.1)
        print(f"the cleanup took {time.monotonic() - asked_at:.1f} s")
    finally:
        stop.set()
        reader.join(HTTP_TIMEOUT_S)

    # One job row, claimed once, finished; its counts are the planned deletions.
    ((_, kind, state, attempts, counts),) = rows
    assert (kind, state, attempts) == ("cleanup_tags", "done", 1), rows
    done = json.loads(counts)
    assert done["deleted"] == done["processed"] == scenario.planned, done
    left = query(
        shared_catalog, "SELECT name FROM tags WHERE repository_id = $1", scenario.repository_id
    )
    assert frozenset(name for (name,) in left) == scenario.expected
    # The first replica started first and runs the jobs; the second never ran one.
    assert "job runner active" in first.stderr
    assert "job runner standing by" in second.stderr
    assert "job runner active" not in second.stderr
    # Every read the second replica answered while the job ran was a 200.
    print(f"{len(reads)} reads through the second replica")
    assert reads and set(reads) == {200}, Counter(reads)


# --- a replica's start-up leaves the others' uploads alone ---------------------------------------


def test_a_replica_starting_leaves_an_upload_another_replica_is_streaming(
    shared_catalog: str, start_server: StartServer, tmp_path: Path
) -> None:
    """Start-up purges ``tmp/`` of ingests a crash left; on a shared data directory it must
    not take the file another replica is writing right now."""
    first, second = start_replicas(start_server, tmp_path, shared_catalog)
    image_path = f"{PRIVATE_PROJECT}/streamed"
    piece, count = 64 * KIB, 40
    content = os.urandom(piece * count)
    second.kill()
    outcome: dict[str, Any] = {}

    def slowly() -> Iterator[bytes]:
        for i in range(count):
            time.sleep(0.05)
            yield content[i * piece : (i + 1) * piece]

    def post() -> None:
        outcome["answer"] = requests.post(
            v2_url(first, f"{image_path}/blobs/uploads/"),
            params={"digest": sha256(content)},
            data=slowly(),
            auth=AUTH,
            headers=OCTETS,
            timeout=HTTP_TIMEOUT_S,
        )

    sender = threading.Thread(target=post)
    sender.start()
    time.sleep(0.3)  # the temp file exists and is being written
    assert list((first.data_dir / "tmp").iterdir()), "no ingest in progress"
    second.start()  # purges tmp/ at start-up
    sender.join(HTTP_TIMEOUT_S)
    assert outcome["answer"].status_code == 201, outcome["answer"].text
    assert blob_bytes(second, image_path, sha256(content)) == content
