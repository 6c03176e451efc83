"""SIGKILL in the middle of writes: after a restart on the same data directory the store is
consistent (``tests.e2e.consistency``), nothing half-written is visible, and the push that was
cut off succeeds when retried and pulls back identical.

- A streamed 224 MiB blob upload, as a chunked PATCH on a session and as a monolithic
  ``POST ?digest=``: the sender pauses after 64 MiB and the server is killed once the upload's
  file on disk (``uploads/<session>/data``, ``tmp/*.part``) has passed 48 MiB. The upload is
  then redone from scratch, and the killed session is resumed where its file ends.
- Manifest PUTs from eight concurrent clients, killed after some have been acknowledged, three
  times over: every acknowledged manifest survives byte-exact, and every one is pushed again.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pytest
import requests

from tests.e2e.accounts import DEV, PRIVATE_PROJECT, write_seed
from tests.e2e.consistency import assert_store_consistent
from tests.e2e.server import RegistryServer, StartServer
from tests.oci_content import OCI_CONFIG, OCI_MANIFEST, Blob, Image, canonical

pytestmark = pytest.mark.e2e

MIB = 1 << 20
STREAM_BYTES = 224 * MIB
PAUSE_AFTER_BYTES = 64 * MIB
KILL_AFTER_BYTES = 48 * MIB
WAIT_S = 60.0
HTTP_TIMEOUT_S = 60
AUTH = (DEV.username, DEV.token)
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def server(start_server: StartServer, tmp_path: Path) -> Iterator[RegistryServer]:
    """A seeded server of its own; its data (hundreds of MiB here) is deleted afterwards."""
    started = start_server(args=["--seed", str(write_seed(tmp_path / "seed.toml"))])
    yield started
    started.kill()
    shutil.rmtree(started.data_dir, ignore_errors=True)


# --- a large streamed blob ------------------------------------------------------------------


@dataclass
class Stream:
    """``size_bytes`` of deterministic content, produced 1 MiB at a time (never whole)."""

    size_bytes: int = STREAM_BYTES
    block: bytes = field(default_factory=lambda: random.Random(1).randbytes(MIB))

    def chunk(self, n: int) -> bytes:
        return n.to_bytes(8, "big") + self.block[8:]

    def chunks(self, start: int = 0, pause: threading.Event | None = None) -> Iterator[bytes]:
        """The bytes from offset ``start`` on; with ``pause``, wait for it to be set once
        PAUSE_AFTER_BYTES have been produced."""
        first, skip = divmod(start, MIB)
        for n in range(first, self.size_bytes // MIB):
            if pause is not None and n * MIB == PAUSE_AFTER_BYTES:
                assert pause.wait(WAIT_S), "the server was not killed in time"
            yield self.chunk(n)[skip if n == first else 0 :]

    @cached_property
    def digest(self) -> str:
        hasher = hashlib.sha256()
        for piece in self.chunks():
            hasher.update(piece)
        return f"sha256:{hasher.hexdigest()}"


def v2(server: RegistryServer, path: str) -> str:
    return f"{server.url}/v2/{path}"


def start_session(server: RegistryServer, image_path: str) -> str:
    started = requests.post(
        v2(server, f"{image_path}/blobs/uploads/"), auth=AUTH, timeout=HTTP_TIMEOUT_S
    )
    assert started.status_code == 202, started.text
    return started.headers["Location"]


def upload_from_scratch(server: RegistryServer, image_path: str, stream: Stream) -> None:
    """POST a session, one streamed PATCH with everything, PUT the digest."""
    location = start_session(server, image_path)
    patched = requests.patch(
        server.url + location, data=stream.chunks(), auth=AUTH, headers=OCTETS,
        timeout=HTTP_TIMEOUT_S,
    )
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{stream.size_bytes - 1}"
    closed = requests.put(
        server.url + patched.headers["Location"], params={"digest": stream.digest}, auth=AUTH,
        timeout=HTTP_TIMEOUT_S,
    )
    assert closed.status_code == 201, closed.text


def assert_blob_is(server: RegistryServer, image_path: str, stream: Stream) -> None:
    """The blob pulls back whole and identical (hashed while streaming)."""
    with requests.get(
        v2(server, f"{image_path}/blobs/{stream.digest}"), auth=AUTH, stream=True,
        timeout=HTTP_TIMEOUT_S,
    ) as pulled:
        assert pulled.status_code == 200, pulled.text
        hasher, size = hashlib.sha256(), 0
        for piece in pulled.iter_content(MIB):
            hasher.update(piece)
            size += len(piece)
    assert (f"sha256:{hasher.hexdigest()}", size) == (stream.digest, stream.size_bytes)


def send_until_killed(
    server: RegistryServer,
    send: Callable[[threading.Event], requests.Response],
    growing_file: Callable[[], Path | None],
) -> None:
    """Run ``send`` in a thread; SIGKILL the server once ``growing_file()`` has passed
    KILL_AFTER_BYTES; the send must then fail without a response."""
    killed = threading.Event()
    outcome: dict[str, object] = {}

    def sender() -> None:
        try:
            outcome["response"] = send(killed)
        except requests.RequestException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            path = growing_file()
            if path is not None and path.exists() and path.stat().st_size > KILL_AFTER_BYTES:
                break
            time.sleep(0.002)
        else:
            raise AssertionError(f"the upload never passed {KILL_AFTER_BYTES} bytes on disk")
        server.kill()
    finally:
        killed.set()
        thread.join(WAIT_S)
    assert "response" not in outcome, f"answered before the kill: {outcome['response']}"
    assert "error" in outcome


def test_sigkill_during_a_chunked_blob_upload(server: RegistryServer) -> None:
    image_path = f"{PRIVATE_PROJECT}/crash-chunked"
    stream = Stream()
    location = start_session(server, image_path)
    session_id = location.rsplit("/", 1)[1]
    data_file = server.data_dir / "uploads" / session_id / "data"

    send_until_killed(
        server,
        lambda killed: requests.patch(
            server.url + location, data=stream.chunks(pause=killed), auth=AUTH,
            headers=OCTETS, timeout=HTTP_TIMEOUT_S,
        ),
        lambda: data_file,
    )
    received = data_file.stat().st_size
    assert KILL_AFTER_BYTES < received <= PAUSE_AFTER_BYTES
    server.start()

    assert_store_consistent(server.data_dir)
    killed_blob = requests.head(
        v2(server, f"{image_path}/blobs/{stream.digest}"), auth=AUTH, timeout=HTTP_TIMEOUT_S
    )
    assert killed_blob.status_code == 404
    missing = requests.get(
        v2(server, f"{image_path}/blobs/{stream.digest}"), auth=AUTH, timeout=HTTP_TIMEOUT_S
    )
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "BLOB_UNKNOWN"

    # The session survived with what reached its file.
    status = requests.get(server.url + location, auth=AUTH, timeout=HTTP_TIMEOUT_S)
    assert status.status_code == 204, status.text
    assert status.headers["Range"] == f"0-{received - 1}"

    # The retry: the same upload from scratch.
    upload_from_scratch(server, image_path, stream)
    assert_blob_is(server, image_path, stream)

    # The killed session also resumes where its file ends: its hash, lost with the process, is
    # rebuilt from disk, so the closing digest matches.
    resumed = requests.patch(
        server.url + location, data=stream.chunks(start=received), auth=AUTH,
        headers={**OCTETS, "Content-Range": f"{received}-{stream.size_bytes - 1}"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert resumed.status_code == 202, resumed.text
    closed = requests.put(
        server.url + resumed.headers["Location"], params={"digest": stream.digest}, auth=AUTH,
        timeout=HTTP_TIMEOUT_S,
    )
    assert closed.status_code == 201, closed.text
    assert_blob_is(server, image_path, stream)
    assert_store_consistent(server.data_dir)


def test_sigkill_during_a_monolithic_blob_upload(server: RegistryServer) -> None:
    image_path = f"{PRIVATE_PROJECT}/crash-monolithic"
    stream = Stream()
    tmp_dir = server.data_dir / "tmp"

    def temp_file() -> Path | None:
        parts = list(tmp_dir.glob("*.part")) if tmp_dir.exists() else []
        return parts[0] if parts else None

    send_until_killed(
        server,
        lambda killed: requests.post(
            v2(server, f"{image_path}/blobs/uploads/"), params={"digest": stream.digest},
            data=stream.chunks(pause=killed), auth=AUTH, headers=OCTETS,
            timeout=HTTP_TIMEOUT_S,
        ),
        temp_file,
    )
    assert temp_file() is not None
    server.start()

    state = assert_store_consistent(server.data_dir)  # tmp/ was purged at start-up
    assert stream.digest not in state.files
    missing = requests.get(
        v2(server, f"{image_path}/blobs/{stream.digest}"), auth=AUTH, timeout=HTTP_TIMEOUT_S
    )
    assert missing.status_code == 404

    again = requests.post(
        v2(server, f"{image_path}/blobs/uploads/"), params={"digest": stream.digest},
        data=stream.chunks(), auth=AUTH, headers=OCTETS, timeout=HTTP_TIMEOUT_S,
    )
    assert again.status_code == 201, again.text
    assert_blob_is(server, image_path, stream)
    assert_store_consistent(server.data_dir)


# --- manifests under concurrent pushes ------------------------------------------------------

CLIENTS = 8
ROUNDS = 3
MANIFESTS_PER_ROUND = 64
KILL_AFTER_ACKS = 16
CONFIG = Blob(
    canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-02T03:04:05Z",
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ),
    OCI_CONFIG,
)


def variant_manifests(layer: Blob, first: int, count: int) -> list[Image]:
    """``count`` distinct manifests over the same two blobs (they differ in an annotation)."""
    return [
        Image(
            canonical(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": CONFIG.descriptor(),
                    "layers": [layer.descriptor()],
                    "annotations": {"org.example.n": str(n)},
                }
            ),
            OCI_MANIFEST,
            (CONFIG, layer),
        )
        for n in range(first, first + count)
    ]


def put_manifest(
    session: requests.Session, server: RegistryServer, image_path: str, tag: str, image: Image
) -> requests.Response:
    return session.put(
        v2(server, f"{image_path}/manifests/{tag}"),
        data=image.manifest,
        headers={"Content-Type": image.media_type},
        timeout=HTTP_TIMEOUT_S,
    )


class ManifestPushers:
    """CLIENTS threads, each with its own connection, pushing their share of ``tagged`` until
    the first error; records which pushes were acknowledged and which were cut off."""

    def __init__(self, server: RegistryServer, image_path: str, tagged: dict[str, Image]):
        self.server = server
        self.image_path = image_path
        self.tagged = tagged
        self.acknowledged: dict[str, Image] = {}
        # Requests that reached the server and got no answer (not merely refused).
        self.cut_off = 0
        self._lock = threading.Lock()

    def push_share(self, share: list[tuple[str, Image]]) -> None:
        with requests.Session() as session:
            session.auth = AUTH
            for tag, image in share:
                try:
                    response = put_manifest(session, self.server, self.image_path, tag, image)
                except requests.ConnectionError as exc:
                    if "refused" not in str(exc).lower():
                        with self._lock:
                            self.cut_off += 1
                    return
                assert response.status_code == 201, (tag, response.text)
                assert response.headers["Docker-Content-Digest"] == image.digest
                with self._lock:
                    self.acknowledged[tag] = image

    def run(self, *, kill_after_acks: int | None = None) -> None:
        """Push everything; with ``kill_after_acks``, SIGKILL the server once that many pushes
        were acknowledged."""
        items = list(self.tagged.items())
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(self.push_share, items[i::CLIENTS]) for i in range(CLIENTS)]
            if kill_after_acks is not None:
                deadline = time.monotonic() + WAIT_S
                while len(self.acknowledged) < kill_after_acks and time.monotonic() < deadline:
                    time.sleep(0.001)
                self.server.kill()
            for future in futures:
                future.result()


def test_sigkill_during_concurrent_manifest_pushes(server: RegistryServer) -> None:
    image_path = f"{PRIVATE_PROJECT}/crash-manifests"
    layer = Blob(random.Random(2).randbytes(4096))
    for blob in (CONFIG, layer):
        pushed = requests.post(
            v2(server, f"{image_path}/blobs/uploads/"), params={"digest": blob.digest},
            data=blob.data, auth=AUTH, headers=OCTETS, timeout=HTTP_TIMEOUT_S,
        )
        assert pushed.status_code == 201, pushed.text

    acknowledged: dict[str, Image] = {}
    everything: dict[str, Image] = {}
    cut_off = 0
    for round_ in range(ROUNDS):
        images = variant_manifests(layer, round_ * MANIFESTS_PER_ROUND, MANIFESTS_PER_ROUND)
        tagged = {f"r{round_}-{n:03d}": image for n, image in enumerate(images)}
        everything.update(tagged)
        pushers = ManifestPushers(server, image_path, tagged)
        pushers.run(kill_after_acks=KILL_AFTER_ACKS)
        assert KILL_AFTER_ACKS <= len(pushers.acknowledged) < MANIFESTS_PER_ROUND
        acknowledged.update(pushers.acknowledged)
        cut_off += pushers.cut_off

        server.start()
        state = assert_store_consistent(server.data_dir)
        assert {image.digest for image in acknowledged.values()} <= {
            digest for (_, digest) in state.manifests
        }
        with requests.Session() as session:
            session.auth = AUTH
            for tag, image in acknowledged.items():
                served = session.get(
                    v2(server, f"{image_path}/manifests/{tag}"), timeout=HTTP_TIMEOUT_S
                )
                assert served.status_code == 200, (tag, served.text)
                assert served.content == image.manifest
    # At least one PUT was in flight (sent, unanswered) when a kill came.
    assert cut_off > 0

    # Every manifest, acknowledged or not, pushes (again) and reads back byte-exact.
    retry = {tag: image for tag, image in everything.items() if tag not in acknowledged}
    retried = ManifestPushers(server, image_path, retry)
    retried.run()
    assert (len(retried.acknowledged), retried.cut_off) == (len(retry), 0)
    with requests.Session() as session:
        session.auth = AUTH
        tags = session.get(v2(server, f"{image_path}/tags/list"), timeout=HTTP_TIMEOUT_S)
        assert tags.json()["tags"] == sorted(everything)
        for tag, image in everything.items():
            served = session.get(
                v2(server, f"{image_path}/manifests/{image.digest}"), timeout=HTTP_TIMEOUT_S
            )
            assert served.content == image.manifest, tag
    assert_store_consistent(server.data_dir)
