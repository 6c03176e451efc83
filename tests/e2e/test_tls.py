"""HTTPS straight from ``serve`` (``server.tls_cert``/``tls_key``), against real clients.

Certificates come from ``tests.tls_certs``: a root CA the clients trust, an intermediate, and a
server certificate for 127.0.0.1 and localhost whose chain file the server sends whole.
skopeo and podman run with TLS verification on, trusting only that root (plus the system's):
an image goes up and comes back identical; a certificate from another CA, or for another name,
is refused. SIGHUP makes the real process read the files again: new connections see the new
certificate while an open keep-alive connection goes on; files that cannot be used leave the
old certificate in place with a WARNING naming the file. A key file that cannot be read stops
``serve`` with exit code 2 and its name; fixture mode serves HTTPS the same way.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.accounts import DEV, PRIVATE_PROJECT, write_seed
from tests.e2e.oci_layout import assert_same_content, build_image, read_layout, write_layout
from tests.e2e.podman import Podman
from tests.e2e.server import RegistryServer, StartServer, run_cli
from tests.e2e.skopeo import Skopeo, ok
from tests.tls_certs import (
    Authority,
    ServerCert,
    client_cert_dir,
    issue_server_cert,
    make_authority,
)

pytestmark = pytest.mark.e2e

RELOAD_TIMEOUT_S = 10.0


@pytest.fixture
def root_ca(tmp_path: Path) -> Authority:
    return make_authority(tmp_path / "pki", "root-ca")


@pytest.fixture
def trusted_dir(tmp_path: Path, root_ca: Authority) -> Path:
    return client_cert_dir(tmp_path / "client-certs", root_ca)


@pytest.fixture
def tls_server(
    start_server: StartServer, tmp_path: Path, root_ca: Authority
) -> Iterator[RegistryServer]:
    """A seeded server on HTTPS with a certificate the clients trust."""
    cert = issue_server_cert(tmp_path / "pki", root_ca)
    seed = write_seed(tmp_path / "seed.toml")
    yield start_server(tls=cert, args=["--seed", str(seed)])


def test_skopeo_pushes_and_pulls_back_identical_bytes_with_verification_on(
    tls_server: RegistryServer, skopeo: Skopeo, trusted_dir: Path, tmp_path: Path
) -> None:
    image = build_image(70)
    source = write_layout(tmp_path / "source", {"v1": image})
    reference = f"docker://{tls_server.host}/{PRIVATE_PROJECT}/tls:v1"

    ok(skopeo.run([
        "copy", "--preserve-digests", "--dest-tls-verify=true",
        "--dest-cert-dir", str(trusted_dir), "--dest-creds", DEV.userpass,
        f"oci:{source}:v1", reference,
    ]))
    ok(skopeo.run([
        "copy", "--preserve-digests", "--src-tls-verify=true",
        "--src-cert-dir", str(trusted_dir), "--src-creds", DEV.userpass,
        reference, f"oci:{tmp_path / 'pulled'}:v1",
    ]))

    assert_same_content(read_layout(tmp_path / "pulled"), image, "v1")


def test_podman_pushes_and_pulls_with_verification_on(
    tls_server: RegistryServer, trusted_dir: Path, tmp_path: Path
) -> None:
    image = build_image(71, layers=2)
    source = write_layout(tmp_path / "source", {"v1": image})
    config_digest = image.blobs[0].digest.removeprefix("sha256:")
    reference = f"docker://{tls_server.host}/{PRIVATE_PROJECT}/podman:v1"
    pusher, puller = Podman(tmp_path / "podman-push"), Podman(tmp_path / "podman-pull")

    creds = DEV.userpass
    ok(pusher.run(["pull", "-q", "--signature-policy", str(pusher.policy), f"oci:{source}:v1"]))
    ok(pusher.transfer("push", config_digest, reference, cert_dir=trusted_dir, creds=creds))
    pulled = ok(puller.transfer("pull", reference, cert_dir=trusted_dir, creds=creds))

    # The image ID is the config digest, and podman checks every layer against its diff_id.
    assert pulled.strip() == config_digest


@pytest.mark.parametrize(
    ("issuer", "names", "complaint"),
    [
        ("other-ca", ("127.0.0.1", "localhost"), "unknown authority"),
        ("root-ca", ("10.9.8.7", "registry.invalid"), "not 127.0.0.1"),
    ],
)
def test_clients_refuse_a_certificate_they_cannot_verify(
    start_server: StartServer,
    skopeo: Skopeo,
    trusted_dir: Path,
    root_ca: Authority,
    tmp_path: Path,
    issuer: str,
    names: tuple[str, ...],
    complaint: str,
) -> None:
    authority = root_ca if issuer == "root-ca" else make_authority(tmp_path / "pki", issuer)
    server = start_server(tls=issue_server_cert(tmp_path / "pki", authority, names, "wrong"))
    reference = f"docker://{server.host}/{PRIVATE_PROJECT}/tls:v1"

    refused = skopeo.run([
        "inspect", "--raw", "--tls-verify=true", "--cert-dir", str(trusted_dir),
        "--creds", DEV.userpass, reference,
    ])
    podman_refused = Podman(tmp_path / "podman").transfer(
        "pull", reference, cert_dir=trusted_dir, creds=DEV.userpass
    )

    for result in (refused, podman_refused):
        assert result.returncode != 0
        assert "x509" in result.stderr and complaint in result.stderr, result.stderr
    # Nothing reached the HTTP layer: every handshake failed.
    assert server.logged_requests("[A-Z]+", "/v2/.*", r"\d+") == []


# --- SIGHUP -------------------------------------------------------------------------------------


def _leaf_der(chain: Path) -> bytes:
    pem = chain.read_text()
    return ssl.PEM_cert_to_DER_cert(pem[: pem.index("-----END CERTIFICATE-----") + 25])


def _replace(target: Path, source: Path) -> None:
    # What an operator's renewal does: write beside, then rename over (never a torn file).
    scratch = target.with_suffix(".new")
    scratch.write_bytes(source.read_bytes())
    os.replace(scratch, target)


class Client:
    """http.client over TLS trusting the test CAs, for reading the certificate a server sends."""

    def __init__(self, server: RegistryServer, *authorities: Authority) -> None:
        self.port = server.port
        self.context = ssl.create_default_context()
        for authority in authorities:
            self.context.load_verify_locations(cafile=authority.cert)

    def connect(self) -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=10)
        conn.connect()
        return conn

    def get(self, conn: http.client.HTTPSConnection) -> int:
        conn.request("GET", "/-/readiness")
        response = conn.getresponse()
        response.read()
        return response.status

    def new_connection_cert(self) -> bytes:
        conn = self.connect()
        try:
            assert conn.sock is not None
            cert = conn.sock.getpeercert(binary_form=True)
            assert cert is not None
            return cert
        finally:
            conn.close()

    def wait_for_cert(self, expected: bytes) -> None:
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        while self.new_connection_cert() != expected:
            assert time.monotonic() < deadline, "the server never presented the new certificate"
            time.sleep(0.05)


def test_sighup_serves_the_new_certificate_and_keeps_open_connections(
    start_server: StartServer, tmp_path: Path, root_ca: Authority
) -> None:
    first = issue_server_cert(tmp_path / "pki", root_ca, label="first")
    other_ca = make_authority(tmp_path / "pki", "other-ca")
    second = issue_server_cert(tmp_path / "pki", other_ca, label="second")
    live = ServerCert(tmp_path / "live-chain.pem", tmp_path / "live.key", root_ca, first.serial)
    _replace(live.chain, first.chain)
    _replace(live.key, first.key)
    server = start_server(tls=live)
    client = Client(server, root_ca, other_ca)
    open_conn = client.connect()
    assert client.get(open_conn) == 200
    open_sock = open_conn.sock
    assert open_sock is not None and open_sock.getpeercert(True) == _leaf_der(first.chain)

    _replace(live.chain, second.chain)
    _replace(live.key, second.key)
    server.signal(signal.SIGHUP)
    client.wait_for_cert(_leaf_der(second.chain))

    # The connection opened before the reload is still the same one, still answering.
    assert client.get(open_conn) == 200
    assert open_conn.sock is open_sock and open_sock.getpeercert(True) == _leaf_der(first.chain)
    open_conn.close()
    assert server.running
    assert f"TLS certificate reloaded from {live.chain}" in server.stderr


def test_a_reload_that_fails_keeps_the_old_certificate_and_warns(
    start_server: StartServer, tmp_path: Path, root_ca: Authority
) -> None:
    first = issue_server_cert(tmp_path / "pki", root_ca, label="first")
    second = issue_server_cert(tmp_path / "pki", root_ca, label="second")
    live = ServerCert(tmp_path / "live-chain.pem", tmp_path / "live.key", root_ca, first.serial)
    _replace(live.chain, first.chain)
    _replace(live.key, first.key)
    server = start_server(tls=live)
    client = Client(server, root_ca)

    # The new certificate without its key: OpenSSL would take the certificate and drop the
    # old key, leaving a context that cannot finish any handshake.
    _replace(live.chain, second.chain)
    server.signal(signal.SIGHUP)
    _wait_for_log(server, f"server.tls_key: {live.key}")
    assert client.new_connection_cert() == _leaf_der(first.chain)

    live.chain.write_text("not a certificate\n")
    server.signal(signal.SIGHUP)
    _wait_for_log(server, f"server.tls_cert: {live.chain}")
    assert client.new_connection_cert() == _leaf_der(first.chain)

    warnings = [line for line in server.stderr.splitlines() if "not reloaded" in line]
    assert len(warnings) == 2 and all(" WARNING " in line for line in warnings), warnings
    for key in (first.key, second.key):
        body = "".join(key.read_text().splitlines()[1:-1])
        assert body[:32] not in server.stderr

    # Fixed files are picked up by the next SIGHUP.
    _replace(live.chain, second.chain)
    _replace(live.key, second.key)
    server.signal(signal.SIGHUP)
    client.wait_for_cert(_leaf_der(second.chain))


def _wait_for_log(server: RegistryServer, text: str) -> None:
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    while text not in server.stderr:
        assert time.monotonic() < deadline, f"no log line with {text!r}\n{server.stderr}"
        time.sleep(0.05)


# --- start-up ---------------------------------------------------------------------------------


def test_serve_refuses_tls_files_it_cannot_use_naming_the_file(
    tmp_path: Path, root_ca: Authority
) -> None:
    cert = issue_server_cert(tmp_path / "pki", root_ca)
    missing = tmp_path / "missing.key"
    env = {
        "REGISTRY_SERVICE_DATA_DIR": str(tmp_path / "data"),
        "REGISTRY_SERVICE_LISTEN": "127.0.0.1:0",
        "REGISTRY_SERVICE_SERVER_TLS_CERT": str(cert.chain),
        "REGISTRY_SERVICE_SERVER_TLS_KEY": str(missing),
    }

    result = run_cli(["serve"], env)

    assert result.returncode == 2
    assert f"server.tls_key: cannot read {missing}: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_fixture_mode_serves_https_too(
    start_server: StartServer, tmp_path: Path, root_ca: Authority
) -> None:
    server = start_server(tls=issue_server_cert(tmp_path / "pki", root_ca), args=["--fixture"])
    conn = Client(server, root_ca).connect()

    conn.request("GET", "/-/fixture/clock", headers={"PRIVATE-TOKEN": str(server.admin_token)})
    answer = conn.getresponse()

    assert answer.status == 200 and "offset_seconds" in json.loads(answer.read())
    conn.close()
