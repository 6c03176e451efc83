"""The docker token flow with real clients: challenged by /v2, they fetch a token from
``/jwt/auth`` with their credentials and go on with ``Authorization: Bearer``.

oras-py with its default ``token`` auth backend could not push here before: it read the old
``Basic realm="registry-service"`` challenge as a token URL. skopeo (containers/image) follows
the Bearer challenge on its own when given ``--creds``.
"""

from __future__ import annotations

import random
from pathlib import Path

import oras.client
import pytest
import requests

from tests.e2e.accounts import DEV, DEV_READ_ONLY, PRIVATE_PROJECT, PUBLIC_PROJECT, Credentials
from tests.e2e.oci_layout import assert_same_content, build_image, read_layout, write_layout
from tests.e2e.server import RegistryServer, run_cli
from tests.e2e.skopeo import Skopeo, ok

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 30
TOKEN_REQUESTS = r"/jwt/auth\?\S*"


def oras_client(server: RegistryServer, home: Path, creds: Credentials | None
                ) -> oras.client.OrasClient:
    client = oras.client.OrasClient(hostname=server.host, insecure=True)
    assert isinstance(client.auth, oras.auth.TokenAuth)  # the default backend
    if creds is not None:
        client.auth.set_basic_auth(creds.username, creds.token)
    return client


@pytest.fixture(autouse=True)
def _no_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # oras-py reads ~/.docker/config.json for credentials: keep the developer's out.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def token_requests(server: RegistryServer, status: str) -> int:
    return len(server.logged_requests("GET", TOKEN_REQUESTS, status))


def test_oras_with_its_default_auth_pushes_and_pulls_through_tokens(
    seeded_registry: RegistryServer, tmp_path: Path
) -> None:
    client = oras_client(seeded_registry, tmp_path, DEV)
    image_path = f"{PRIVATE_PROJECT}/oras-token"
    data = random.Random(90).randbytes(300 * 1024)
    source = tmp_path / "source" / "artifact.bin"
    source.parent.mkdir(parents=True)
    source.write_bytes(data)
    target = f"{seeded_registry.host}/{image_path}:v1"
    issued_before = token_requests(seeded_registry, "200")

    pushed = client.push(target=target, files=[str(source)], disable_path_validation=True,
                         quiet=True)
    assert pushed.status_code == 201, pushed.text
    pulled = client.pull(target=target, outdir=str(tmp_path / "pulled"))

    assert [Path(p).read_bytes() for p in pulled] == [data]
    assert token_requests(seeded_registry, "200") > issued_before
    # The manifest it pushed is there for anyone with the rights, Basic up front included.
    manifest = requests.get(f"{seeded_registry.url}/v2/{image_path}/manifests/v1",
                            auth=(DEV.username, DEV.token), timeout=HTTP_TIMEOUT_S)
    assert manifest.headers["Docker-Content-Digest"] == pushed.headers["Docker-Content-Digest"]


def test_oras_pulls_a_public_artifact_with_an_anonymous_token(
    seeded_registry: RegistryServer, tmp_path: Path
) -> None:
    image_path = f"{PUBLIC_PROJECT}/oras-anonymous"
    source = tmp_path / "artifact.bin"
    source.write_bytes(b"public bytes")
    target = f"{seeded_registry.host}/{image_path}:v1"
    pushed = oras_client(seeded_registry, tmp_path, DEV).push(
        target=target, files=[str(source)], disable_path_validation=True, quiet=True)
    assert pushed.status_code == 201, pushed.text

    anonymous = oras_client(seeded_registry, tmp_path, None)
    pulled = anonymous.pull(target=target, outdir=str(tmp_path / "pulled"))

    assert [Path(p).read_bytes() for p in pulled] == [b"public bytes"]


def test_oras_with_a_read_only_token_is_denied_the_push(
    seeded_registry: RegistryServer, tmp_path: Path
) -> None:
    source = tmp_path / "artifact.bin"
    source.write_bytes(b"read only")
    target = f"{seeded_registry.host}/{PRIVATE_PROJECT}/oras-read-only:v1"
    client = oras_client(seeded_registry, tmp_path, DEV_READ_ONLY)
    # The token it is given grants pull only; it asks again after the 403 and still gets no
    # push, so the push stops with the registry's DENIED.
    with pytest.raises(ValueError, match="DENIED"):
        client.push(target=target, files=[str(source)], disable_path_validation=True,
                    quiet=True)


def test_skopeo_round_trip_goes_through_the_token_endpoint(
    skopeo: Skopeo, seeded_registry: RegistryServer, tmp_path: Path
) -> None:
    image = build_image(95)
    source = write_layout(tmp_path / "source", {"v1": image})
    reference = f"{seeded_registry.host}/{PRIVATE_PROJECT}/skopeo-token:v1"
    issued_before = token_requests(seeded_registry, "200")

    ok(skopeo.push(source, "v1", reference, DEV))
    ok(skopeo.pull(reference, tmp_path / "pulled", "v1", DEV))

    assert_same_content(read_layout(tmp_path / "pulled"), image, "v1")
    assert token_requests(seeded_registry, "200") > issued_before


def test_skopeo_with_a_wrong_token_is_turned_away_by_the_token_endpoint(
    skopeo: Skopeo, seeded_registry: RegistryServer, tmp_path: Path
) -> None:
    refused_before = token_requests(seeded_registry, "401")
    wrong = Credentials(DEV.username, "glpat-e2e-not-a-token-000000")
    result = skopeo.pull(f"{seeded_registry.host}/{PUBLIC_PROJECT}/anything:v1",
                         tmp_path / "pulled", "v1", wrong)
    assert result.returncode != 0
    assert token_requests(seeded_registry, "401") > refused_before
    assert wrong.token not in seeded_registry.stderr


def test_skopeo_login_checks_the_credentials_at_the_token_endpoint(
    skopeo: Skopeo, seeded_registry: RegistryServer
) -> None:
    """``login`` asks /jwt/auth for a token with no scope, as docker and podman do."""
    host = seeded_registry.host
    ok(skopeo.run(["login", "--tls-verify=false", "-u", DEV.username, "-p", DEV.token, host]))
    wrong = skopeo.run(["login", "--tls-verify=false", "-u", DEV.username, "-p",
                        "glpat-e2e-not-a-token-000000", host])
    assert wrong.returncode != 0
    assert "invalid username/password" in wrong.stderr, wrong.stderr
    assert len(seeded_registry.logged_requests("GET", r"/jwt/auth\?\S*", "401")) >= 1


def test_serve_refuses_a_configured_key_it_cannot_use_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "token-key.pem"
    bad.write_text("not a key")
    result = run_cli(["serve"], {
        "REGISTRY_SERVICE_DATA_DIR": str(tmp_path / "data"),
        "REGISTRY_SERVICE_LISTEN": "127.0.0.1:0",
        "REGISTRY_SERVICE_AUTH_REGISTRY_TOKEN_KEY": str(bad),
    })
    assert result.returncode == 2, result.stderr
    assert f"auth.registry_token_key: {bad}" in result.stderr
