"""Real image content for tests: blobs, image configs, manifests and indexes as exact bytes,
and a small client that pushes them through /v2 the way registry clients do.

Besides plain images and indexes this holds the data sets of the OCI conformance suite (main
branch, ``conformance/run.go``): nested and sparse indexes, artifacts with and without a subject,
descriptors with a ``data`` field, non-distributable layers, unknown JSON fields, no layers, the
empty blob and sha512 content. ``Image.blobs`` lists only what a client pushes; a manifest may
name more (a sparse image's missing layer, a non-distributable layer).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"
# The artifact types of the conformance suite's artifacts.
EXAMPLE_TYPE_1 = "application/vnd.example.oci.conformance.v1"
EXAMPLE_TYPE_2 = "application/vnd.example.oci.conformance.v2"

API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")
EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def sha256(data: bytes) -> str:
    return digest_of(data)


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Blob:
    data: bytes
    media_type: str = OCI_LAYER
    algorithm: str = "sha256"

    @property
    def digest(self) -> str:
        return digest_of(self.data, self.algorithm)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        size = len(self.data)
        return {"mediaType": self.media_type, "digest": self.digest, "size": size, **extra}


@dataclass(frozen=True)
class Image:
    """A manifest (image, artifact or index) with the blobs a client pushes before it (config
    first) and, for an index, the manifests it lists."""

    manifest: bytes
    media_type: str
    blobs: tuple[Blob, ...] = ()
    children: tuple[Image, ...] = field(default=())
    algorithm: str = "sha256"

    @property
    def digest(self) -> str:
        return digest_of(self.manifest, self.algorithm)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.manifest),
            **extra,
        }

    def walk(self) -> list[Image]:
        """This manifest and every one below it, children first (the order a client pushes)."""
        return [*(m for child in self.children for m in child.walk()), self]

    def all_blobs(self) -> list[Blob]:
        """Every blob pushed for this manifest and the ones below it, without repeats."""
        found = {blob.digest: blob for m in self.walk() for blob in m.blobs}
        return list(found.values())


def random_blob(size: int, media_type: str = OCI_LAYER, algorithm: str = "sha256") -> Blob:
    return Blob(os.urandom(size), media_type, algorithm)


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
    algorithm: str = "sha256",
    layer_media_type: str | None = None,
    with_data: bool = False,
    shared_layers: tuple[Blob, ...] = (),
) -> Image:
    """A valid image (or artifact) whose layers are random bytes.

    ``with_data`` puts each blob's bytes into its descriptor as base64 ``data`` (the blobs are
    still pushed, as the conformance suite's "data field" set does). ``shared_layers`` come
    first, before the ``layers`` random ones (images sharing a base).
    """
    docker = media_type == DOCKER_MANIFEST
    if config is None:
        config_doc: dict[str, Any] = {
            "architecture": architecture,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
        }
        if created is not None:
            config_doc["created"] = created
        config = Blob(canonical(config_doc), DOCKER_CONFIG if docker else OCI_CONFIG, algorithm)
    layer_type = layer_media_type or (DOCKER_LAYER if docker else OCI_LAYER)
    layer_blobs = shared_layers + tuple(
        random_blob(layer_size, layer_type, algorithm) for _ in range(layers)
    )

    def describe(blob: Blob) -> dict[str, Any]:
        if with_data:
            return blob.descriptor(data=base64.b64encode(blob.data).decode())
        return blob.descriptor()

    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": describe(config),
        "layers": [describe(blob) for blob in layer_blobs],
    }
    if subject is not None:
        document["subject"] = subject.descriptor()
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    if annotations:
        document["annotations"] = annotations
    return Image(canonical(document), media_type, (config, *layer_blobs), algorithm=algorithm)


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


def index(
    children: list[Image],
    media_type: str = OCI_INDEX,
    *,
    platforms: bool = True,
    subject: Image | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
    algorithm: str = "sha256",
) -> Image:
    architectures = ["amd64", "arm64", "ppc64le", "s390x", "riscv64"]
    descriptors = [
        child.descriptor(platform={"architecture": architectures[i % 5], "os": "linux"})
        if platforms
        else child.descriptor()
        for i, child in enumerate(children)
    ]
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": descriptors,
    }
    if subject is not None:
        document["subject"] = subject.descriptor()
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    if annotations:
        document["annotations"] = annotations
    return Image(canonical(document), media_type, children=tuple(children), algorithm=algorithm)


# --- the conformance suite's data sets -----------------------------------------------------


def nested_index() -> Image:
    """An index listing two multi-platform indexes (children without ``platform``)."""
    return index([index([image(), image()]), index([image(), image()])], platforms=False)


def sparse_image() -> Image:
    """An image whose client never pushes its first layer."""
    full = image()
    return dataclasses.replace(full, blobs=(full.blobs[0], *full.blobs[2:]))


def sparse_index() -> Image:
    """An index listing one pushed image and one manifest nobody pushed."""
    present = image()
    absent = {"mediaType": OCI_MANIFEST, "digest": sha256(os.urandom(1024)), "size": 1024}
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            present.descriptor(platform={"architecture": "amd64", "os": "linux"}),
            {**absent, "platform": {"architecture": "arm64", "os": "linux"}},
        ],
    }
    return Image(canonical(document), OCI_INDEX, children=(present,))


def nondistributable_image() -> Image:
    """Two non-distributable layers (bytes elsewhere, ``urls``) and one normal layer; only the
    config and the normal layer are pushed."""
    foreign = [
        {
            "mediaType": media_type,
            "digest": (digest := sha256(os.urandom(256))),
            "size": size,
            "urls": ["https://store.example.com/blobs/sha256/" + digest.split(":")[1]],
        }
        for media_type, size in (
            (OCI_LAYER_NONDISTRIBUTABLE_GZIP, 123456),
            (OCI_LAYER_NONDISTRIBUTABLE, 12345),
        )
    ]
    layer = random_blob(512, OCI_LAYER_GZIP)
    config = Blob(canonical({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}}), OCI_CONFIG)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [*foreign, layer.descriptor()],
    }
    return Image(canonical(document), OCI_MANIFEST, (config, layer))


def custom_fields_image() -> Image:
    """An index and its images whose JSON carries unknown fields, odd key order and
    whitespace: the registry must hand back these exact bytes."""

    def odd(document: dict[str, Any]) -> bytes:
        extra = {"org.example.unknown": {"nested": [1, 2.5, None, True], "z": "é"}}
        return json.dumps({**extra, **document}, indent=3, ensure_ascii=False).encode() + b"\n"

    children = []
    for architecture in ("amd64", "arm64"):
        config = Blob(odd({"architecture": architecture, "os": "linux",
                           "rootfs": {"type": "layers", "diff_ids": []}}), OCI_CONFIG)
        layer = random_blob(300)
        manifest = odd({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": config.descriptor(), "layers": [layer.descriptor()]})
        children.append(Image(manifest, OCI_MANIFEST, (config, layer)))
    top = odd({"schemaVersion": 2, "mediaType": OCI_INDEX,
               "manifests": [child.descriptor() for child in children]})
    return Image(top, OCI_INDEX, children=tuple(children))


def missing_subject_artifact() -> tuple[Image, str]:
    """An artifact whose subject was never pushed, and that subject's digest."""
    ghost = Image(b"missing content", OCI_MANIFEST)
    return artifact(subject=ghost, artifact_type=EXAMPLE_TYPE_1), ghost.digest


def sha512_index() -> Image:
    """A multi-platform index where every digest, blob and manifest, is sha512."""
    return index([image(algorithm="sha512"), image(algorithm="sha512")], algorithm="sha512")


def empty_layer_image() -> Image:
    """An image whose one layer is the empty blob (sha256 of no bytes)."""
    base = image(layers=0)
    empty = Blob(b"", OCI_LAYER)
    document = json.loads(base.manifest)
    document["layers"] = [empty.descriptor()]
    return Image(canonical(document), OCI_MANIFEST, (base.blobs[0], empty))


def with_subject() -> tuple[Image, ...]:
    """An image, then an image and two artifacts (types 1 and 2) that refer to it."""
    subject = image()
    return (
        subject,
        image(subject=subject),
        artifact(subject, EXAMPLE_TYPE_1, {"org.opencontainers.conformance": "hello"}),
        artifact(subject, EXAMPLE_TYPE_2, {"org.opencontainers.conformance": "hello"}),
    )


# Each data set is the manifests a client pushes, in order; the last is the one to tag.
DATA_SETS: dict[str, Callable[[], tuple[Image, ...]]] = {
    "image": lambda: (image(),),
    "docker-image": lambda: (image(media_type=DOCKER_MANIFEST),),
    "index": lambda: (index([image(), image(architecture="arm64")]),),
    "docker-list": lambda: (
        index([image(media_type=DOCKER_MANIFEST)], media_type=DOCKER_LIST),
    ),
    "nested-index": lambda: (nested_index(),),
    "empty-index": lambda: (index([]),),
    "artifact": lambda: (artifact(artifact_type=EXAMPLE_TYPE_1),),
    "artifact-without-layers": lambda: (
        image(layers=0, config=Blob(b"{}", EMPTY_JSON), artifact_type=EXAMPLE_TYPE_1),
    ),
    "subject": with_subject,
    "missing-subject": lambda: (missing_subject_artifact()[0],),
    "data-field": lambda: (image(with_data=True),),
    "nondistributable": lambda: (nondistributable_image(),),
    "custom-fields": lambda: (custom_fields_image(),),
    "no-layers": lambda: (image(layers=0),),
    "empty-blob-layer": lambda: (empty_layer_image(),),
    "sha512": lambda: (sha512_index(),),
}


# --- talking to /v2 ------------------------------------------------------------------------


def basic(username: str, token: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{token}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def expect_error(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """Assert an OCI error answer (status, ``{"errors":[{code, message…}]}``, API version
    header) and return its one error."""
    text = await response.text()
    assert response.status == status, text
    assert response.headers.get(API_VERSION[0]) == API_VERSION[1]
    assert response.content_type == "application/json"
    body = json.loads(text)
    assert set(body) == {"errors"}, body
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"], body
    assert set(error) <= {"code", "message", "detail"}, body
    return error


class Registry:
    """/v2 calls as a client makes them, over an aiohttp test client."""

    def __init__(self, client: TestClient, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers or {}

    def _h(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**self.headers, **(extra or {})}

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> ClientResponse:
        """One request as this client (its credentials plus ``headers``)."""
        return await self.client.request(method, path, headers=self._h(headers), **kwargs)

    async def push_blob(self, name: str, blob: Blob) -> None:
        response = await self.client.post(
            f"/v2/{name}/blobs/uploads/", params={"digest": blob.digest}, data=blob.data,
            headers=self._h({"Content-Type": "application/octet-stream"}),
        )
        assert response.status == 201, await response.text()

    async def start_upload(self, name: str, **params: str) -> str:
        """POST a new upload session; its ``Location``."""
        response = await self.client.post(
            f"/v2/{name}/blobs/uploads/", params=params, headers=self._h()
        )
        assert response.status == 202, await response.text()
        return response.headers["Location"]

    async def push_blob_chunked(self, name: str, blob: Blob, chunk: int = 1000) -> None:
        params = {} if blob.algorithm == "sha256" else {"digest-algorithm": blob.algorithm}
        location = await self.start_upload(name, **params)
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

    async def put_manifest(
        self, name: str, img: Image, reference: str | None = None, tags: tuple[str, ...] = ()
    ) -> ClientResponse:
        """PUT the manifest alone (by digest unless ``reference``), with ``?tag=`` per tag."""
        # aiohttp warns about raw bytes over 1 MiB (and warnings are errors here).
        body = io.BytesIO(img.manifest) if len(img.manifest) > 1 << 20 else img.manifest
        return await self.client.put(
            f"/v2/{name}/manifests/{reference or img.digest}",
            params=[("tag", tag) for tag in tags],
            data=body,
            headers=self._h({"Content-Type": img.media_type}),
        )

    async def push_image(self, name: str, img: Image, reference: str | None = None) -> None:
        for child in img.children:
            await self.push_image(name, child)
        for blob in img.blobs:
            await self.push_blob(name, blob)
        response = await self.put_manifest(name, img, reference)
        assert response.status == 201, await response.text()
