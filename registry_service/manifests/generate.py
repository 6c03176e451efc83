"""Generated image content: layers, image configs, image manifests and indexes as exact bytes.

This module owns what a seeded image *is*. It is pure — no I/O, no clock — and deterministic:
the same spec gives the same bytes, so seeding again finds the same digests. It does not know
about seed files, the catalog or the blob store.

A layer of ``size_bytes`` is a gzip stream of exactly that many bytes holding a tar archive with
one file of pseudo-random bytes (SHAKE-256 of the layer's seed, in counter mode). The gzip uses
stored (uncompressed) deflate blocks, so its size is known before a byte is produced and any
size from ``MIN_LAYER_BYTES`` up can be hit exactly; the tar ends with its two zero blocks plus
up to 511 zero bytes of padding, which tar readers ignore. A ``LayerStream`` yields the layer in
chunks of about ``CHUNK_BYTES`` and computes its digest and diff_id (the tar's digest) while it
streams, so a large layer is never held whole.

An image's config carries ``architecture``, ``os``, ``variant``, ``created`` and
``rootfs.diff_ids``; the manifest and index are compact JSON in the OCI or the Docker media
types. Each generated document comes with the ``parse.Manifest`` / ``parse.Index`` that
``parse_manifest`` reads from its bytes.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from registry_service.digests import Digest
from registry_service.manifests import media_types as mt
from registry_service.manifests.parse import Descriptor, Index, Manifest, Platform

Flavour = Literal["oci", "docker"]
FLAVOURS: tuple[Flavour, ...] = ("oci", "docker")

CHUNK_BYTES = 1 << 20
_TAR_BLOCK = 512
_TAR_END = 2 * _TAR_BLOCK
# gzip: 10-byte header (no name, mtime 0, OS unknown) and an 8-byte trailer (CRC-32, size).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_GZIP_OVERHEAD = len(_GZIP_HEADER) + 8
# A stored deflate block: 1 header byte (BFINAL, BTYPE=00), LEN, NLEN; at most 65535 bytes.
_STORED_OVERHEAD = 5
_STORED_MAX = 0xFFFF
# The smallest layer: a gzip of one stored block of a tar with one (empty) file.
MIN_LAYER_BYTES = _GZIP_OVERHEAD + _STORED_OVERHEAD + _TAR_BLOCK + _TAR_END
# One encoder for every document (json.dumps with options would build one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class MediaTypes:
    manifest: str
    index: str
    config: str
    layer: str


MEDIA_TYPES: dict[Flavour, MediaTypes] = {
    "oci": MediaTypes(mt.OCI_MANIFEST, mt.OCI_INDEX, mt.OCI_IMAGE_CONFIG, mt.OCI_LAYER_GZIP),
    "docker": MediaTypes(
        mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_CONTAINER_CONFIG, mt.DOCKER_LAYER
    ),
}


# --- layers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LayerSpec:
    """A layer to generate: its content follows from ``seed`` and ``size_bytes`` alone."""

    seed: str
    size_bytes: int

    def __post_init__(self) -> None:
        if self.size_bytes < MIN_LAYER_BYTES:
            raise ValueError(
                f"a layer is at least {MIN_LAYER_BYTES} bytes (a gzip of a tar with one file)"
            )


@dataclass(frozen=True, slots=True)
class LayerFacts:
    """What a manifest and a config say about a layer."""

    digest: Digest
    diff_id: Digest
    size_bytes: int


class LayerStream:
    """The bytes of one layer, chunk by chunk; ``facts`` is known once iteration has ended."""

    def __init__(self, spec: LayerSpec, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.spec = spec
        self._chunk_bytes = chunk_bytes
        self._facts: LayerFacts | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self._generate()

    @property
    def facts(self) -> LayerFacts:
        if self._facts is None:
            raise RuntimeError("the layer's digests are known only after iterating it to the end")
        return self._facts

    def _generate(self) -> Iterator[bytes]:
        size = self.spec.size_bytes
        blocks = _stored_block_sizes(size)
        tar_bytes = sum(blocks)
        tar_hasher = hashlib.sha256()
        layer_hasher = hashlib.sha256()
        crc = 0
        parts: list[bytes | memoryview] = [_GZIP_HEADER]
        buffered = len(_GZIP_HEADER)
        for piece in _deflate_stored(_tar_pieces(self.spec, tar_bytes), blocks):
            if isinstance(piece, memoryview):
                tar_hasher.update(piece)
                crc = zlib.crc32(piece, crc)
            parts.append(piece)
            buffered += len(piece)
            if buffered >= self._chunk_bytes:
                chunk = b"".join(parts)
                parts, buffered = [], 0
                layer_hasher.update(chunk)
                yield chunk
        parts.append(struct.pack("<II", crc, tar_bytes & 0xFFFFFFFF))
        chunk = b"".join(parts)
        layer_hasher.update(chunk)
        yield chunk
        self._facts = LayerFacts(
            digest=Digest("sha256", layer_hasher.hexdigest()),
            diff_id=Digest("sha256", tar_hasher.hexdigest()),
            size_bytes=size,
        )


def layer_bytes(spec: LayerSpec) -> tuple[bytes, LayerFacts]:
    """A whole layer in memory (for small ones) and its facts."""
    stream = LayerStream(spec)
    data = b"".join(stream)
    return data, stream.facts


def measure_layer(spec: LayerSpec) -> LayerFacts:
    """A layer's facts, computed by streaming it without keeping the bytes."""
    stream = LayerStream(spec)
    for _ in stream:
        pass
    return stream.facts


def _stored_block_sizes(layer_bytes: int) -> list[int]:
    """Sizes of the stored blocks, as even as possible, so the gzip is ``layer_bytes`` long.

    With b blocks the gzip is 18 + 5b + (tar length) bytes; the fewest blocks that can carry
    the rest is b = ceil((size - 18) / 65540).
    """
    payload = layer_bytes - _GZIP_OVERHEAD
    count = -(-payload // (_STORED_MAX + _STORED_OVERHEAD))
    tar_bytes = payload - _STORED_OVERHEAD * count
    base, extra = divmod(tar_bytes, count)
    return [base + 1] * extra + [base] * (count - extra)


def _deflate_stored(
    tar: Iterator[bytes], block_sizes: Sequence[int]
) -> Iterator[bytes | memoryview]:
    """The deflate stream of ``tar`` cut into stored blocks of ``block_sizes``: block headers
    as ``bytes``, the tar's own bytes as ``memoryview`` slices (nothing copied)."""
    last = len(block_sizes) - 1
    index = 0
    left = block_sizes[0]
    yield _stored_header(left, final=last == 0)
    for piece in tar:
        view = memoryview(piece)
        while view:
            if left == 0:
                index += 1
                left = block_sizes[index]
                yield _stored_header(left, final=index == last)
            take = min(left, len(view))
            yield view[:take]
            view = view[take:]
            left -= take
    assert index == last and left == 0, "block sizes must add up to the tar's length"


def _stored_header(length: int, *, final: bool) -> bytes:
    return struct.pack("<BHH", 1 if final else 0, length, length ^ 0xFFFF)


def _tar_pieces(spec: LayerSpec, tar_bytes: int) -> Iterator[bytes]:
    """A tar archive of exactly ``tar_bytes``: one file, its end blocks, zero padding."""
    key = hashlib.sha256(f"{spec.seed}\0{spec.size_bytes}".encode()).digest()
    room = tar_bytes - _TAR_BLOCK - _TAR_END
    file_bytes = room - room % _TAR_BLOCK
    info = tarfile.TarInfo(f"seed/{key.hex()[:16]}.bin")
    info.size = file_bytes
    info.mode = 0o644
    yield info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")
    counter = 0
    left = file_bytes
    while left:
        n = min(CHUNK_BYTES, left)
        yield hashlib.shake_256(key + counter.to_bytes(8, "big")).digest(n)
        counter += 1
        left -= n
    yield bytes(tar_bytes - _TAR_BLOCK - file_bytes)


# --- images and indexes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """An image manifest, its config, and what ``parse_manifest`` reads from it."""

    payload: bytes
    digest: Digest
    manifest: Manifest
    config: bytes
    platform: Platform
    created: datetime | None


@dataclass(frozen=True, slots=True)
class GeneratedIndex:
    """An image index (or Docker manifest list) over per-platform images."""

    payload: bytes
    digest: Digest
    index: Index
    children: tuple[GeneratedImage, ...]


@dataclass(frozen=True, slots=True)
class LayerSet:
    """The layers of an image in one flavour, with their JSON prepared once: images that share
    layers (the same content built at different times) only differ in their config."""

    flavour: Flavour
    layers: tuple[LayerFacts, ...]
    descriptors: tuple[Descriptor, ...]
    layers_json: str
    diff_ids_json: str


def layer_set(layers: Sequence[LayerFacts], flavour: Flavour) -> LayerSet:
    media_type = MEDIA_TYPES[flavour].layer
    descriptors = tuple(Descriptor(media_type, layer.digest, layer.size_bytes) for layer in layers)
    return LayerSet(
        flavour=flavour,
        layers=tuple(layers),
        descriptors=descriptors,
        layers_json=_json([_descriptor_doc(d) for d in descriptors]),
        diff_ids_json=_json([str(layer.diff_id) for layer in layers]),
    )


def generate_image(
    layers: LayerSet, *, platform: Platform, created: datetime | None
) -> GeneratedImage:
    """The config and manifest of an image of ``layers`` for ``platform``."""
    types = MEDIA_TYPES[layers.flavour]
    # The documents are assembled as text (the layers' part is shared): thousands of images
    # per seed, and json.dumps of each whole document would dominate the time.
    config_text = (
        f'{{"architecture":{_json(platform.architecture)},"os":{_json(platform.os)},'
        f'"rootfs":{{"type":"layers","diff_ids":{layers.diff_ids_json}}}'
    )
    if platform.variant is not None:
        config_text += f',"variant":{_json(platform.variant)}'
    if created is not None:
        created = created.astimezone(UTC)
        config_text += f',"created":"{format_created(created)}"'
    config = (config_text + "}").encode()
    config_descriptor = Descriptor(types.config, _sha256(config), len(config))
    payload = (
        f'{{"schemaVersion":2,"mediaType":"{types.manifest}","config":{{"mediaType":'
        f'"{types.config}","digest":"{config_descriptor.digest}","size":{len(config)}}},'
        f'"layers":{layers.layers_json}}}'
    ).encode()
    manifest = Manifest(types.manifest, config_descriptor, layers.descriptors)
    return GeneratedImage(payload, _sha256(payload), manifest, config, platform, created)


def generate_index(children: Sequence[GeneratedImage], *, flavour: Flavour) -> GeneratedIndex:
    """An index listing ``children`` with their platforms."""
    media_type = MEDIA_TYPES[flavour].index
    descriptors = tuple(
        Descriptor(
            child.manifest.media_type, child.digest, len(child.payload), platform=child.platform
        )
        for child in children
    )
    payload = _compact(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [_descriptor_doc(d) for d in descriptors],
        }
    )
    index = Index(media_type, descriptors)
    return GeneratedIndex(payload, _sha256(payload), index, tuple(children))


def format_created(created: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``; fractions only when there are some."""
    text = created.astimezone(UTC).isoformat()
    # isoformat drops a zero fraction itself; only the offset needs rewriting.
    return text.removesuffix("+00:00") + "Z"


def _descriptor_doc(descriptor: Descriptor) -> dict[str, object]:
    doc: dict[str, object] = {
        "mediaType": descriptor.media_type,
        "digest": str(descriptor.digest),
        "size": descriptor.size,
    }
    platform = descriptor.platform
    if platform is not None:
        fields = {"architecture": platform.architecture, "os": platform.os}
        if platform.variant is not None:
            fields["variant"] = platform.variant
        doc["platform"] = fields
    return doc


def _compact(document: dict[str, object]) -> bytes:
    return _json(document).encode()


def _json(value: object) -> str:
    return _ENCODER.encode(value)


def _sha256(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())
