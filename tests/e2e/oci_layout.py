"""Real images on disk for the real clients: OCI image layouts (image-spec ``image-layout.md``).

``build_image`` makes a valid image whose layers are gzipped tar files of seeded random bytes
(the config lists their ``diff_ids``, has a ``created`` date and a history), ``build_index`` a
multi-platform index over such images; both return ``tests.oci_content.Image``, so the same
values can be pushed over HTTP too. The manifests are indented JSON, not canonical, so a
registry that re-serialises them changes their digest. ``write_layout`` lays images out as
skopeo's ``oci:<dir>:<tag>`` reads them and ``read_layout`` reads a layout skopeo wrote.
Everything is deterministic for a given seed. No registry and no subprocess here.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.oci_content import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Blob,
    Image,
    sha256,
)

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = "1.0.0"
CREATED = "2026-01-02T03:04:05Z"
# (architecture, variant) of the images in an index, in order.
PLATFORMS: tuple[tuple[str, str | None], ...] = (
    ("amd64", None),
    ("arm64", "v8"),
    ("ppc64le", None),
)


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=2).encode() + b"\n"


def tar_layer(rng: random.Random, size_bytes: int, name: str) -> tuple[Blob, str]:
    """A gzipped tar holding one file of ``size_bytes`` random bytes, and its diff_id."""
    content = rng.randbytes(size_bytes)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = size_bytes
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    tarball = raw.getvalue()
    return Blob(gzip.compress(tarball, mtime=0), OCI_LAYER_GZIP), sha256(tarball)


def build_image(
    seed: int,
    *,
    layers: int = 3,
    layer_size_bytes: int = 256 * 1024,
    architecture: str = "amd64",
    variant: str | None = None,
    created: str = CREATED,
) -> Image:
    """An OCI image of ``layers`` tar layers; the same seed gives the same bytes."""
    rng = random.Random(seed)
    built = [tar_layer(rng, layer_size_bytes, f"layer-{n}.bin") for n in range(layers)]
    platform: dict[str, Any] = {"architecture": architecture, "os": "linux"}
    if variant is not None:
        platform["variant"] = variant
    config = Blob(
        _json(
            {
                "created": created,
                **platform,
                "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"]},
                "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in built]},
                "history": [
                    {"created": created, "created_by": f"COPY layer-{n}.bin /"}
                    for n in range(layers)
                ],
            }
        ),
        OCI_CONFIG,
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [blob.descriptor() for blob, _ in built],
            "annotations": {"org.opencontainers.image.created": created},
        }
    )
    return Image(manifest, OCI_MANIFEST, (config, *(blob for blob, _ in built)))


def build_index(seed: int, *, platforms: int = 3, layer_size_bytes: int = 64 * 1024) -> Image:
    """A multi-platform index over ``platforms`` images (two layers each)."""
    children = [
        build_image(
            seed * 100 + n,
            layers=2,
            layer_size_bytes=layer_size_bytes,
            architecture=architecture,
            variant=variant,
        )
        for n, (architecture, variant) in enumerate(PLATFORMS[:platforms])
    ]
    descriptors = []
    for child, (architecture, variant) in zip(children, PLATFORMS, strict=False):
        platform = {"architecture": architecture, "os": "linux"}
        if variant is not None:
            platform["variant"] = variant
        descriptors.append(child.descriptor(platform=platform))
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
    return Image(_json(document), OCI_INDEX, children=tuple(children))


def all_blobs(image: Image) -> Iterator[tuple[str, bytes]]:
    """(digest, bytes) of every manifest and blob reachable from ``image``, itself first."""
    yield image.digest, image.manifest
    for child in image.children:
        yield from all_blobs(child)
    for blob in image.blobs:
        yield blob.digest, blob.data


def write_layout(directory: Path, images: Mapping[str, Image]) -> Path:
    """Write ``images`` (by tag) as an OCI image layout at ``directory``; return it."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_bytes(_json({"imageLayoutVersion": LAYOUT_VERSION}))
    for image in images.values():
        for digest, data in all_blobs(image):
            (blobs / digest.removeprefix("sha256:")).write_bytes(data)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            image.descriptor(annotations={REF_NAME: tag}) for tag, image in images.items()
        ],
    }
    (directory / "index.json").write_bytes(_json(index))
    return directory


@dataclass(frozen=True)
class Layout:
    """An image layout read from disk: its ``index.json`` and every blob by digest."""

    index: dict[str, Any]
    blobs: dict[str, bytes]

    def descriptor(self, tag: str) -> dict[str, Any]:
        """The top-level descriptor tagged ``tag``."""
        found = [
            d for d in self.index["manifests"] if d.get("annotations", {}).get(REF_NAME) == tag
        ]
        assert len(found) == 1, f"{len(found)} descriptors tagged {tag!r} in {self.index}"
        return dict(found[0])


def read_layout(directory: Path) -> Layout:
    """Read a layout; every blob file's name must be the sha256 of its bytes."""
    index = json.loads((directory / "index.json").read_bytes())
    blobs: dict[str, bytes] = {}
    for path in (directory / "blobs" / "sha256").iterdir():
        data = path.read_bytes()
        digest = f"sha256:{path.name}"
        assert sha256(data) == digest, f"{path} does not hold what its name says"
        blobs[digest] = data
    return Layout(index, blobs)


def assert_same_content(pulled: Layout, image: Image, tag: str) -> None:
    """``pulled`` holds ``image`` under ``tag``, every manifest and blob byte-identical."""
    descriptor = pulled.descriptor(tag)
    assert (descriptor["digest"], descriptor["mediaType"]) == (image.digest, image.media_type)
    for digest, data in all_blobs(image):
        assert digest in pulled.blobs, f"{digest} missing from the pulled layout"
        assert pulled.blobs[digest] == data, f"{digest} differs"
