"""skopeo against the real server: OCI layouts pushed and pulled back byte-identical.

Each test writes an OCI image layout (a three-layer image and a three-platform index), copies it
to the registry with ``skopeo copy --preserve-digests`` (skopeo refuses rather than rewrite a
manifest), copies it back into a fresh layout and compares every manifest and blob. With a
token on a private project, and anonymously from a public one; an anonymous pull from a private
project and a push with a read-only token must fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.e2e.accounts import DEV, DEV_READ_ONLY, PRIVATE_PROJECT, PUBLIC_PROJECT, Credentials
from tests.e2e.oci_layout import (
    assert_same_content,
    build_image,
    build_index,
    read_layout,
    write_layout,
)
from tests.e2e.server import RegistryServer
from tests.e2e.skopeo import Skopeo, ok
from tests.oci_content import Image

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 30


def push_and_pull_back(
    skopeo: Skopeo,
    server: RegistryServer,
    tmp_path: Path,
    image_path: str,
    pull_creds: Credentials | None,
    seed: int,
) -> dict[str, Image]:
    """Push an image (``:v1``) and an index (``:multi``) with ``DEV``, pull both back with
    ``pull_creds`` and check that they are byte-identical; return them by tag."""
    images = {"v1": build_image(seed), "multi": build_index(seed + 1)}
    source = write_layout(tmp_path / "source", images)
    pulled_dir = tmp_path / "pulled"
    for tag, image in images.items():
        many = bool(image.children)
        reference = f"{server.host}/{image_path}:{tag}"
        ok(skopeo.push(source, tag, reference, DEV, all_images=many))
        ok(skopeo.pull(reference, pulled_dir, tag, pull_creds, all_images=many))
        assert skopeo.inspect_raw(reference, pull_creds) == image.manifest
    pulled = read_layout(pulled_dir)
    for tag, image in images.items():
        assert_same_content(pulled, image, tag)
    return images


def test_private_image_and_index_round_trip_with_a_token(
    seeded_registry: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    image_path = f"{PRIVATE_PROJECT}/skopeo"
    images = push_and_pull_back(skopeo, seeded_registry, tmp_path, image_path, DEV, seed=10)

    # Each platform's image is addressable by digest, exactly as the index lists it.
    for child in images["multi"].children:
        served = skopeo.inspect_raw(f"{seeded_registry.host}/{image_path}@{child.digest}", DEV)
        assert served == child.manifest
    tags = requests.get(
        f"{seeded_registry.url}/v2/{image_path}/tags/list",
        auth=(DEV.username, DEV.token),
        timeout=HTTP_TIMEOUT_S,
    )
    assert tags.json() == {"name": image_path, "tags": ["multi", "v1"]}

    # Registry to registry: skopeo remembers where it pushed the layers and mounts them (it
    # always uploads configs).
    copy_path = f"{PRIVATE_PROJECT}/skopeo-copy"
    ok(
        skopeo.run(
            [
                "copy", "--preserve-digests", "--all", "--src-tls-verify=false",
                "--dest-tls-verify=false", "--src-creds", DEV.userpass,
                "--dest-creds", DEV.userpass,
                f"docker://{seeded_registry.host}/{image_path}:multi",
                f"docker://{seeded_registry.host}/{copy_path}:multi",
            ]
        )
    )
    copied = skopeo.inspect_raw(f"{seeded_registry.host}/{copy_path}:multi", DEV)
    assert copied == images["multi"].manifest
    mounted = seeded_registry.logged_requests(
        "POST", rf"/v2/{re.escape(copy_path)}/blobs/uploads/\?from=\S+&mount=\S+", "201"
    )
    layers = [blob for child in images["multi"].children for blob in child.blobs[1:]]
    assert len(mounted) == len(layers)


def test_public_image_and_index_pull_anonymously(
    seeded_registry: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    push_and_pull_back(
        skopeo, seeded_registry, tmp_path, f"{PUBLIC_PROJECT}/skopeo", None, seed=20
    )


def test_anonymous_pull_from_a_private_project_is_refused(
    seeded_registry: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    image_path = f"{PRIVATE_PROJECT}/secret"
    source = write_layout(tmp_path / "source", {"v1": build_image(30, layers=1)})
    reference = f"{seeded_registry.host}/{image_path}:v1"
    ok(skopeo.push(source, "v1", reference, DEV))

    refused = skopeo.pull(reference, tmp_path / "pulled", "v1", None)

    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower(), refused.stderr
    assert not (tmp_path / "pulled" / "index.json").exists()
    anonymous = requests.get(
        f"{seeded_registry.url}/v2/{image_path}/manifests/v1", timeout=HTTP_TIMEOUT_S
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith(
        f'Bearer realm="{seeded_registry.url}/jwt/auth",service="container_registry"'
    )
    # The read-only token may pull what it may not push.
    ok(skopeo.pull(reference, tmp_path / "pulled", "v1", DEV_READ_ONLY))


def test_push_with_a_read_only_token_is_denied(
    seeded_registry: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    image_path = f"{PRIVATE_PROJECT}/read-only"
    source = write_layout(tmp_path / "source", {"v1": build_image(40, layers=1)})

    denied = skopeo.push(source, "v1", f"{seeded_registry.host}/{image_path}:v1", DEV_READ_ONLY)

    assert denied.returncode != 0
    assert "denied" in denied.stderr.lower(), denied.stderr
    # Nothing was created: the repository is still unknown.
    after = requests.get(
        f"{seeded_registry.url}/v2/{image_path}/tags/list",
        auth=(DEV.username, DEV.token),
        timeout=HTTP_TIMEOUT_S,
    )
    assert after.status_code == 404
    assert after.json()["errors"][0]["code"] == "NAME_UNKNOWN"
