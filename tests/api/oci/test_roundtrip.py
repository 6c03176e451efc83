"""A first end-to-end walk through /v2 over the test client: push, pull, list, delete."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests import oci_content as oc
from tests.factories import Factory


async def test_push_pull_roundtrip(client: TestClient, factory: Factory) -> None:
    await factory.project("group/app", visibility="private")
    admin = await factory.user("boss", admin=True)
    registry = oc.Registry(client, oc.basic("boss", admin.token))
    img = oc.image(layers=3)
    await registry.push_image("group/app", img, "v1")
    response = await client.get("/v2/group/app/manifests/v1", headers=registry.headers)
    assert response.status == 200
    assert await response.read() == img.manifest
    assert response.headers["Docker-Content-Digest"] == img.digest
    assert response.headers["Content-Type"] == oc.OCI_MANIFEST
    blob = img.blobs[1]
    response = await client.get(f"/v2/group/app/blobs/{blob.digest}", headers=registry.headers)
    assert response.status == 200
    assert await response.read() == blob.data
    response = await client.get(
        f"/v2/group/app/blobs/{blob.digest}", headers={**registry.headers, "Range": "bytes=10-19"}
    )
    assert response.status == 206
    assert await response.read() == blob.data[10:20]
    response = await client.get("/v2/group/app/tags/list", headers=registry.headers)
    assert await response.json() == {"name": "group/app", "tags": ["v1"]}
    big = oc.random_blob(5000)
    await registry.push_blob_chunked("group/app", big)
    response = await client.get("/v2/group/app/blobs/" + big.digest, headers=registry.headers)
    assert await response.read() == big.data
    anonymous = await client.get("/v2/group/app/manifests/v1")
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"].startswith('Bearer realm="')


async def test_empty_basic_credentials_count_as_anonymous(
    client: TestClient, factory: Factory
) -> None:
    """skopeo and podman send ``Basic Og==`` (":") when pulling without credentials."""
    await factory.project("open/app", visibility="public")
    admin = await factory.user("boss2", admin=True)
    img = oc.image(layers=1)
    await oc.Registry(client, oc.basic("boss2", admin.token)).push_image("open/app", img, "v1")

    response = await client.get(
        "/v2/open/app/manifests/v1", headers={"Authorization": "Basic Og=="}
    )

    assert response.status == 200
    assert await response.read() == img.manifest
