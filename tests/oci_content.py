"""Real image content for tests: blobs, image configs, manifests and indexes as exact bytes,
and a small client that pushes them through /v2 the way registry clients do."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Blob:
    data: bytes
    media_type: str = OCI_LAYER

    @property
    def digest(self) -> str:
        return sha256(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        size = len(self.data)
        return {"mediaType": self.media_type, "digest": self.digest, "size": size, **extra}


@dataclass(frozen=True)
class Image:
    """An image manifest with the blobs it references (config first)."""

    manifest: bytes
    media_type: str
    blobs: tuple[Blob, ...] = ()
    children: tuple[Image, ...] = field(default=())

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.manifest),
            **extra,
        }


def random_blob(size: int, media_type: str = OCI_LAYER) -> Blob:
    return Blob(os.urandom(size), media_type)


def image(
    *,
    layers: int = 2,
    layer_size: int = 1024,
    created: str | None = "2026-01-02T03:04:05Z",
    media_type: str = OCI_MANIFEST,
    subject: Image | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
    config: Blob | None = None,
    architecture: str = "amd64",
) -> Image:
    """A valid image (or artifact) whose layers are random bytes."""
    docker = media_type == DOCKER_MANIFEST
    if config is None:
        config_doc: dict[str, Any] = {
            "architecture": architecture,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
        }
        if created is not None:
            config_doc["created"] = created
        config = Blob(canonical(config_doc), DOCKER_CONFIG if docker else OCI_CONFIG)
    layer_type = DOCKER_LAYER if docker else OCI_LAYER
    layer_blobs = tuple(random_blob(layer_size, layer_type) for _ in range(layers))
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [blob.descriptor() for blob in layer_blobs],
    }
    if subject is not None:
        document["subject"] = subject.descriptor()
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    if annotations:
        document["annotations"] = annotations
    return Image(canonical(document), media_type, (config, *layer_blobs))


def artifact(
    subject: Image | None = None,
    artifact_type: str = "application/vnd.example.sbom+json",
    annotations: dict[str, str] | None = None,
) -> Image:
    """An OCI artifact: empty config, one file layer, optional subject."""
    empty = Blob(b"{}", EMPTY_JSON)
    return image(
        layers=1,
        config=empty,
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
    )


def index(children: list[Image], media_type: str = OCI_INDEX) -> Image:
    architectures = ["amd64", "arm64", "ppc64le", "s390x", "riscv64"]
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            child.descriptor(platform={"architecture": architectures[i % 5], "os": "linux"})
            for i, child in enumerate(children)
        ],
    }
    return Image(canonical(document), media_type, children=tuple(children))


def basic(username: str, token: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{token}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


class Registry:
    """/v2 calls as a client makes them, over an aiohttp test client."""

    def __init__(self, client: TestClient, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers or {}

    def _h(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**self.headers, **(extra or {})}

    async def push_blob(self, name: str, blob: Blob) -> None:
        response = await self.client.post(
            f"/v2/{name}/blobs/uploads/", params={"digest": blob.digest}, data=blob.data,
            headers=self._h({"Content-Type": "application/octet-stream"}),
        )
        assert response.status == 201, await response.text()

    async def push_blob_chunked(self, name: str, blob: Blob, chunk: int = 1000) -> None:
        response = await self.client.post(f"/v2/{name}/blobs/uploads/", headers=self._h())
        assert response.status == 202, await response.text()
        location = response.headers["Location"]
        for start in range(0, len(blob.data), chunk):
            piece = blob.data[start : start + chunk]
            response = await self.client.patch(
                location,
                data=piece,
                headers=self._h(
                    {
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{start}-{start + len(piece) - 1}",
                    }
                ),
            )
            assert response.status == 202, await response.text()
            location = response.headers["Location"]
        response = await self.client.put(
            location, params={"digest": blob.digest}, headers=self._h()
        )
        assert response.status == 201, await response.text()

    async def push_image(self, name: str, img: Image, reference: str | None = None) -> None:
        for child in img.children:
            await self.push_image(name, child)
        for blob in img.blobs:
            await self.push_blob(name, blob)
        response = await self.client.put(
            f"/v2/{name}/manifests/{reference or img.digest}",
            data=img.manifest,
            headers=self._h({"Content-Type": img.media_type}),
        )
        assert response.status == 201, await response.text()
