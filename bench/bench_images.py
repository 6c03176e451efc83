"""OCI images for the benchmark: layouts on disk (for skopeo), a small in-memory image (for tags).

Layers are tar archives of random bytes wrapped in gzip *stored* blocks (deflate level 0), with
media type ``tar+gzip``. Why not plain ``tar``: for a ``docker://`` destination skopeo gzips
uncompressed layers on the fly and rewrites the manifest, so the push would measure gzip on two
cores rather than the registry, and the pulled digests could not be compared with ours. Stored
blocks cost 5 bytes per 64 KiB, so the bytes stay incompressible and the sizes what was asked.
Nothing here starts processes or talks HTTP.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MiB = 1 << 20
TAR_BLOCK_BYTES = 512
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size_bytes: int

    def to_json(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size_bytes}


@dataclass(frozen=True)
class ImageLayout:
    """An OCI image layout directory holding one tagged image."""

    path: Path
    tag: str
    manifest: Descriptor
    layers: tuple[Descriptor, ...]

    @property
    def total_layer_bytes(self) -> int:
        return sum(layer.size_bytes for layer in self.layers)

    @property
    def largest_layer(self) -> Descriptor:
        return max(self.layers, key=lambda layer: layer.size_bytes)

    def blob_path(self, digest: str) -> Path:
        return blob_path(self.path, digest)


@dataclass(frozen=True)
class SmallImage:
    """An image small enough to hold in memory: its blobs by digest and its manifest bytes."""

    blobs: dict[str, bytes]
    manifest: bytes


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_path(layout: Path, digest: str) -> Path:
    """Where an OCI layout keeps the blob with ``digest``."""
    return layout / "blobs" / "sha256" / digest.removeprefix("sha256:")


def random_chunks(total_bytes: int, chunk_bytes: int = MiB) -> Iterator[bytes]:
    """Fresh random bytes, ``chunk_bytes`` at a time (the last chunk may be shorter)."""
    for offset in range(0, total_bytes, chunk_bytes):
        yield os.urandom(min(chunk_bytes, total_bytes - offset))


def repeating_random_chunks(total_bytes: int, chunk_bytes: int = MiB) -> Iterator[bytes]:
    """``total_bytes`` cycled from 16 random chunks: cheap enough for GiBs, still incompressible."""
    pool = [os.urandom(chunk_bytes) for _ in range(16)]
    for offset, chunk in zip(range(0, total_bytes, chunk_bytes), itertools.cycle(pool)):
        yield chunk[: total_bytes - offset]


def write_layout(path: Path, tag: str, layer_sizes: Sequence[int]) -> ImageLayout:
    """Write an OCI layout with one random layer per size (in bytes of payload) and tag it."""
    blobs_dir = path / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True)
    written = [_write_layer(blobs_dir, size, f"layer-{i}") for i, size in enumerate(layer_sizes)]
    layers = tuple(layer for layer, _ in written)
    config = _config_json([diff_id for _, diff_id in written])
    config_digest = _write_blob(blobs_dir, config)
    manifest = _manifest_json(Descriptor(CONFIG_MEDIA_TYPE, config_digest, len(config)), layers)
    manifest_desc = Descriptor(MANIFEST_MEDIA_TYPE, _write_blob(blobs_dir, manifest), len(manifest))
    index = {
        "schemaVersion": 2,
        "manifests": [{**manifest_desc.to_json(), "annotations": {REF_NAME_ANNOTATION: tag}}],
    }
    (path / "index.json").write_text(json.dumps(index))
    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return ImageLayout(path, tag, manifest_desc, layers)


def read_manifest_digest(path: Path, tag: str) -> str:
    """The manifest digest an OCI layout's index.json records for ``tag``."""
    index = json.loads((path / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get(REF_NAME_ANNOTATION) == tag:
            return str(entry["digest"])
    raise LookupError(f"{path}: no manifest tagged {tag!r} in index.json")


def small_image(layer_bytes: int = 4096) -> SmallImage:
    """A one-layer image whose manifest can be PUT under many tags."""
    payload = os.urandom(layer_bytes)
    layer = _gzip_stored(payload)
    config = _config_json([sha256_digest(payload)])
    layer_desc = Descriptor(LAYER_MEDIA_TYPE, sha256_digest(layer), len(layer))
    config_desc = Descriptor(CONFIG_MEDIA_TYPE, sha256_digest(config), len(config))
    blobs = {layer_desc.digest: layer, config_desc.digest: config}
    return SmallImage(blobs, _manifest_json(config_desc, (layer_desc,)))


def _write_layer(blobs_dir: Path, payload_bytes: int, member_name: str) -> tuple[Descriptor, str]:
    """Stream one gzip-stored tar layer to disk, hashing both forms; return it and its diff ID."""
    compressor = zlib.compressobj(0, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    compressed, uncompressed = hashlib.sha256(), hashlib.sha256()
    size_bytes = 0
    partial = blobs_dir / "partial"
    with partial.open("wb") as out:
        for piece in _tar_pieces(member_name, payload_bytes):
            uncompressed.update(piece)
            size_bytes += _write_hashed(out, compressed, compressor.compress(piece))
        size_bytes += _write_hashed(out, compressed, compressor.flush())
    partial.rename(blobs_dir / compressed.hexdigest())
    digest = "sha256:" + compressed.hexdigest()
    return Descriptor(LAYER_MEDIA_TYPE, digest, size_bytes), "sha256:" + uncompressed.hexdigest()


def _write_hashed(out: BinaryIO, digest: hashlib._Hash, data: bytes) -> int:
    digest.update(data)
    out.write(data)
    return len(data)


def _tar_pieces(member_name: str, payload_bytes: int) -> Iterator[bytes]:
    """A tar archive of one regular file of random bytes, as a stream of pieces."""
    info = tarfile.TarInfo(member_name)
    info.size = payload_bytes
    info.mode = 0o644
    yield info.tobuf(format=tarfile.USTAR_FORMAT)
    yield from random_chunks(payload_bytes)
    yield b"\0" * (-payload_bytes % TAR_BLOCK_BYTES)
    yield b"\0" * (2 * TAR_BLOCK_BYTES)


def _gzip_stored(data: bytes) -> bytes:
    compressor = zlib.compressobj(0, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _write_blob(blobs_dir: Path, data: bytes) -> str:
    digest = sha256_digest(data)
    (blobs_dir / digest.removeprefix("sha256:")).write_bytes(data)
    return digest


def _config_json(diff_ids: Sequence[str]) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
    }
    return json.dumps(config).encode()


def _manifest_json(config: Descriptor, layers: Sequence[Descriptor]) -> bytes:
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    return json.dumps(manifest).encode()
