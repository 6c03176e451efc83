"""Seeded images pull through /v2 completely and byte-identically: the manifest by tag, every
blob it names, an index's children; the layers are gzipped tars."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.image_seeding import plan_images
from registry_service.services.image_specs import parse_image_specs
from registry_service.services.seeding import apply_seed
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests import oci_content as oc

TOKEN = "glpat-puller-fixture-token-01"
IMAGES: list[dict[str, Any]] = [
    {"repository": "acme/web", "tags": ["v1", "latest"], "layers": 3, "layer_size": "5KiB",
     "created": "2026-01-01T00:00:00Z"},
    {"repository": "acme/web/multi", "tags": ["v2"], "layers": 2, "format": "docker",
     "platforms": ["linux/amd64", "linux/arm64", "linux/arm/v7"]},
    {"repository": "acme/web/builds", "tag_pattern": "build-{n}", "count": 5,
     "created": "2026-01-01T00:00:00Z", "created_every": "1h"},
]
SEED: dict[str, Any] = {
    "users": [{"username": "puller", "tokens": [{"value": TOKEN, "scopes": ["read_registry"]}]}],
    "groups": [{"path": "acme"}],
    "projects": [
        {"path": "acme/web", "members": [{"user": "puller", "access_level": "reporter"}]}
    ],
    "images": IMAGES,
}


@pytest.fixture
async def registry(
    client: TestClient, catalog: Catalog, settings: Settings, clock: SettableClock
) -> AsyncIterator[oc.Registry]:
    store = FilesystemBlobStore(settings.data_path)
    try:
        await apply_seed(catalog, SEED, clock.now(), store=store)
    finally:
        await store.aclose()
    yield oc.Registry(client, oc.basic("puller", TOKEN))


async def pull(registry: oc.Registry, name: str, reference: str) -> tuple[bytes, str]:
    response = await registry.call("GET", f"/v2/{name}/manifests/{reference}")
    assert response.status == 200, await response.text()
    body = await response.read()
    digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
    assert response.headers["Docker-Content-Digest"] == digest
    return body, response.headers["Content-Type"]


async def pull_blob(registry: oc.Registry, name: str, descriptor: dict[str, Any]) -> bytes:
    response = await registry.call("GET", f"/v2/{name}/blobs/{descriptor['digest']}")
    assert response.status == 200, await response.text()
    data = await response.read()
    assert len(data) == descriptor["size"]
    assert f"sha256:{hashlib.sha256(data).hexdigest()}" == descriptor["digest"]
    return data


async def pull_image(registry: oc.Registry, name: str, manifest: bytes) -> dict[str, Any]:
    """Every blob of an image manifest; returns its config."""
    document = json.loads(manifest)
    config = json.loads(await pull_blob(registry, name, document["config"]))
    diff_ids = []
    for layer in document["layers"]:
        tar = gzip.decompress(await pull_blob(registry, name, layer))
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            assert len(archive.getmembers()) == 1
        diff_ids.append(f"sha256:{hashlib.sha256(tar).hexdigest()}")
    assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
    return config


def expected_payloads() -> dict[tuple[str, str], bytes]:
    """What the generator makes for each (repository, tag), independently of the store."""
    plan = plan_images(parse_image_specs(IMAGES))
    return {
        (path, tag): planned.manifests[digest].payload
        for path, planned in plan.repositories.items()
        for tag, (digest, _) in planned.tags.items()
    }


async def test_every_seeded_tag_pulls_byte_identically_with_all_its_blobs(
    registry: oc.Registry,
) -> None:
    for (name, tag), payload in expected_payloads().items():
        manifest, media_type = await pull(registry, name, tag)
        assert manifest == payload
        if media_type == oc.DOCKER_LIST:
            continue
        assert media_type == oc.OCI_MANIFEST
        config = await pull_image(registry, name, manifest)
        assert config["architecture"] == "amd64" and config["os"] == "linux"


async def test_a_seeded_index_pulls_with_every_child(registry: oc.Registry) -> None:
    index, media_type = await pull(registry, "acme/web/multi", "v2")

    assert media_type == oc.DOCKER_LIST
    platforms = []
    for child in json.loads(index)["manifests"]:
        manifest, child_type = await pull(registry, "acme/web/multi", child["digest"])
        assert child_type == child["mediaType"] == oc.DOCKER_MANIFEST
        assert len(manifest) == child["size"]
        config = await pull_image(registry, "acme/web/multi", manifest)
        assert {k: config[k] for k in child["platform"]} == child["platform"]
        platforms.append(child["platform"])
    assert platforms == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux"},
        {"architecture": "arm", "os": "linux", "variant": "v7"},
    ]


async def test_seeded_tags_are_listed(registry: oc.Registry) -> None:
    response = await registry.call("GET", "/v2/acme/web/builds/tags/list")
    assert response.status == 200, await response.text()
    assert (await response.json())["tags"] == [f"build-{n}" for n in range(1, 6)]
