"""oras-py against the real server: artifacts pushed (one PUT, or PATCH chunks) and pulled back,
and referrers found through ``GET /v2/<name>/referrers/<digest>``.

oras-py talks plain HTTP here (``insecure=True``) and logs in with HTTP Basic through its
``basic`` auth backend (``set_basic_auth``): each call is first sent without credentials, gets
the 401 challenge and is retried with them, as a client that was never told to log in does.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import oras.client
import oras.defaults
import oras.oci
import pytest
import requests

from tests.e2e.accounts import DEV, PRIVATE_PROJECT
from tests.e2e.server import RegistryServer
from tests.oci_content import EMPTY_JSON, OCI_INDEX, OCI_MANIFEST, sha256

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 30
SBOM_CONFIG = "application/vnd.example.sbom.config.v1+json"
SIGNATURE = "application/vnd.example.signature.v1"


@pytest.fixture
def oras_client(
    seeded_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> oras.client.OrasClient:
    # oras-py reads ~/.docker/config.json for credentials: keep the developer's out.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    client = oras.client.OrasClient(
        hostname=seeded_registry.host, insecure=True, auth_backend="basic"
    )
    client.auth.set_basic_auth(DEV.username, DEV.token)
    return client


def random_file(path: Path, size_bytes: int, seed: int) -> bytes:
    data = random.Random(seed).randbytes(size_bytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def v2_get(server: RegistryServer, path: str, **params: str) -> requests.Response:
    return requests.get(
        f"{server.url}/v2/{path}",
        params=params,
        auth=(DEV.username, DEV.token),
        timeout=HTTP_TIMEOUT_S,
    )


def count_answered(server: RegistryServer, method: str, path_prefix: str) -> int:
    """How many ``METHOD /v2/<path_prefix>…`` requests the server answered with 2xx."""
    return len(server.logged_requests(method, rf"/v2/{re.escape(path_prefix)}\S*", r"2\d\d"))


def push_and_pull(
    client: oras.client.OrasClient,
    server: RegistryServer,
    tmp_path: Path,
    image_path: str,
    data: bytes,
    **push_options: Any,
) -> None:
    source = tmp_path / "source" / "artifact.bin"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    target = f"{server.host}/{image_path}:v1"

    pushed = client.push(
        target=target, files=[str(source)], disable_path_validation=True, quiet=True,
        **push_options,
    )
    assert pushed.status_code == 201, pushed.text
    pulled = client.pull(target=target, outdir=str(tmp_path / "pulled"))

    assert [Path(p).name for p in pulled] == ["artifact.bin"]
    assert Path(pulled[0]).read_bytes() == data
    manifest = v2_get(server, f"{image_path}/manifests/v1")
    assert manifest.headers["Docker-Content-Digest"] == pushed.headers["Docker-Content-Digest"]
    assert sha256(manifest.content) == pushed.headers["Docker-Content-Digest"]
    layer = manifest.json()["layers"][0]
    assert (layer["digest"], layer["size"]) == (sha256(data), len(data))
    assert layer["annotations"] == {oras.defaults.annotation_title: "artifact.bin"}


def test_artifact_push_in_one_put_and_pull(
    oras_client: oras.client.OrasClient, seeded_registry: RegistryServer, tmp_path: Path
) -> None:
    image_path = f"{PRIVATE_PROJECT}/oras-whole"
    data = random.Random(50).randbytes(512 * 1024)
    push_and_pull(oras_client, seeded_registry, tmp_path, image_path, data)
    assert count_answered(seeded_registry, "PATCH", image_path + "/") == 0


def test_artifact_push_in_chunks_and_pull(
    oras_client: oras.client.OrasClient, seeded_registry: RegistryServer, tmp_path: Path
) -> None:
    image_path = f"{PRIVATE_PROJECT}/oras-chunked"
    chunk_bytes = 256 * 1024
    data = random.Random(60).randbytes(4 * chunk_bytes + 1)
    push_and_pull(
        oras_client, seeded_registry, tmp_path, image_path, data,
        do_chunked=True, chunk_size=chunk_bytes,
    )
    # The file took five PATCHes (the last one byte); the empty config was one PUT.
    assert count_answered(seeded_registry, "PATCH", image_path + "/blobs/uploads/") == 5


def test_referrers_list_artifacts_pushed_with_a_subject(
    oras_client: oras.client.OrasClient, seeded_registry: RegistryServer, tmp_path: Path
) -> None:
    image_path = f"{PRIVATE_PROJECT}/oras-referrers"
    repo = f"{seeded_registry.host}/{image_path}"
    files = tmp_path / "files"

    # The subject: an image pushed with oras.
    random_file(files / "app.bin", 64 * 1024, seed=70)
    pushed = oras_client.push(
        target=f"{repo}:v1", files=[str(files / "app.bin")], disable_path_validation=True,
        quiet=True,
    )
    assert pushed.status_code == 201, pushed.text
    subject_digest = pushed.headers["Docker-Content-Digest"]
    subject_size = len(v2_get(seeded_registry, f"{image_path}/manifests/v1").content)
    subject = oras.oci.Subject(OCI_MANIFEST, subject_digest, subject_size)

    # Referrer 1, oras's own push: no artifactType, so the config's media type stands for it.
    random_file(files / "sbom.json", 4 * 1024, seed=71)
    (files / "sbom-config.json").write_text('{"format": "example"}')
    sbom = oras_client.push(
        target=f"{repo}:sbom",
        files=[str(files / "sbom.json")],
        manifest_config=f"{files / 'sbom-config.json'}:{SBOM_CONFIG}",
        manifest_annotations={"org.example.kind": "sbom"},
        subject=subject,
        disable_path_validation=True,
        quiet=True,
    )
    assert sbom.status_code == 201, sbom.text
    assert sbom.headers["OCI-Subject"] == subject_digest

    # Referrer 2, through oras's lower-level calls: an explicit artifactType, empty config.
    container = oras_client.get_container(f"{repo}:signature")
    signature_file = files / "signature.bin"
    random_file(signature_file, 512, seed=72)
    layer = oras.oci.NewLayer(str(signature_file), media_type="application/octet-stream")
    assert oras_client.upload_blob(str(signature_file), container, layer).status_code in (
        200, 201,
    )
    (files / "empty.json").write_bytes(b"{}")
    empty = {"mediaType": EMPTY_JSON, "digest": oras.defaults.blank_config_hash, "size": 2}
    assert oras_client.upload_blob(str(files / "empty.json"), container, empty).status_code in (
        200, 201,
    )
    signature = oras_client.upload_manifest(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE,
            "config": empty,
            "layers": [layer],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size},
        },
        container,
    )
    assert signature.status_code == 201, signature.text
    assert signature.headers["OCI-Subject"] == subject_digest

    listed = v2_get(seeded_registry, f"{image_path}/referrers/{subject_digest}")
    assert listed.status_code == 200, listed.text
    index = listed.json()
    assert (index["schemaVersion"], index["mediaType"]) == (2, OCI_INDEX)
    by_type = {d["artifactType"]: d for d in index["manifests"]}
    assert sorted(by_type) == sorted([SBOM_CONFIG, SIGNATURE])
    assert by_type[SBOM_CONFIG]["digest"] == sbom.headers["Docker-Content-Digest"]
    assert by_type[SBOM_CONFIG]["annotations"] == {"org.example.kind": "sbom"}
    assert by_type[SIGNATURE]["digest"] == signature.headers["Docker-Content-Digest"]
    for descriptor in index["manifests"]:
        served = v2_get(seeded_registry, f"{image_path}/manifests/{descriptor['digest']}")
        assert descriptor["mediaType"] == OCI_MANIFEST
        assert descriptor["size"] == len(served.content)
        assert served.json()["subject"]["digest"] == subject_digest

    filtered = v2_get(
        seeded_registry, f"{image_path}/referrers/{subject_digest}", artifactType=SIGNATURE
    )
    assert filtered.status_code == 200, filtered.text
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in filtered.json()["manifests"]] == [
        signature.headers["Docker-Content-Digest"]
    ]

    # Nothing refers to the signature itself: an empty index, not a 404.
    none = v2_get(
        seeded_registry,
        f"{image_path}/referrers/{signature.headers['Docker-Content-Digest']}",
    )
    assert none.status_code == 200
    assert none.json()["manifests"] == []

    # Exactly the index media type, no parameters (the conformance suite compares the string).
    content_types = {r.headers["Content-Type"] for r in (listed, filtered, none)}
    assert content_types == {OCI_INDEX}
