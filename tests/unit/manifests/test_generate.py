"""Generated image content (registry_service/manifests/generate.py): exact sizes, digests that
match the bytes, layers that are real gzipped tars, and documents that parse back."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime

import pytest

from registry_service.manifests import media_types as mt
from registry_service.manifests.generate import (
    MIN_LAYER_BYTES,
    Flavour,
    LayerSpec,
    LayerStream,
    format_created,
    generate_image,
    generate_index,
    layer_bytes,
    layer_set,
    measure_layer,
)
from registry_service.manifests.parse import (
    Platform,
    parse_image_config_created,
    parse_manifest,
)

AMD64 = Platform("amd64", "linux")
ARM_V7 = Platform("arm", "linux", variant="v7")
CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Around the smallest layer, a tar block, and the 65,535-byte stored-block boundaries.
@pytest.mark.parametrize(
    "size",
    [MIN_LAYER_BYTES, MIN_LAYER_BYTES + 1, 2048, 2560, 4096, 65_553, 65_558, 65_559, 65_563,
     65_564, 131_080, 131_081, (3 << 20) + 7],
)
def test_a_layer_is_exactly_its_size_and_a_gzipped_tar_of_one_file(size: int) -> None:
    data, facts = layer_bytes(LayerSpec("seed", size))

    assert len(data) == size == facts.size_bytes
    assert facts.digest.hex == sha256(data)
    tar = gzip.decompress(data)
    assert facts.diff_id.hex == sha256(tar)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        (member,) = archive.getmembers()
        content = archive.extractfile(member)
        assert content is not None
        assert len(content.read()) == member.size
    assert member.isfile() and member.name.startswith("seed/")
    # The file fills the archive but for its header, the end blocks and < 512 bytes padding.
    assert 0 <= len(tar) - 512 - 1024 - member.size < 512


def test_layers_are_deterministic_and_differ_by_seed_and_size() -> None:
    first = layer_bytes(LayerSpec("a", 10_000))
    assert layer_bytes(LayerSpec("a", 10_000)) == first
    assert layer_bytes(LayerSpec("b", 10_000))[1].digest != first[1].digest
    assert layer_bytes(LayerSpec("a", 10_001))[1].digest != first[1].digest


def test_a_large_layer_streams_in_bounded_chunks_with_the_same_digests() -> None:
    spec = LayerSpec("big", (5 << 20) + 12_345)
    stream = LayerStream(spec, chunk_bytes=1 << 20)
    hasher = hashlib.sha256()
    sizes = []
    for chunk in stream:
        hasher.update(chunk)
        sizes.append(len(chunk))

    assert sum(sizes) == spec.size_bytes
    assert max(sizes) < (1 << 20) + 65_536 + 5
    assert stream.facts.digest.hex == hasher.hexdigest()
    assert measure_layer(spec) == stream.facts


def test_facts_are_unknown_until_the_stream_has_ended() -> None:
    stream = LayerStream(LayerSpec("x", 4096))
    with pytest.raises(RuntimeError):
        _ = stream.facts


def test_a_layer_below_the_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match=str(MIN_LAYER_BYTES)):
        LayerSpec("x", MIN_LAYER_BYTES - 1)


@pytest.mark.parametrize(
    ("flavour", "manifest_type", "config_type", "layer_type"),
    [
        ("oci", mt.OCI_MANIFEST, mt.OCI_IMAGE_CONFIG, mt.OCI_LAYER_GZIP),
        ("docker", mt.DOCKER_MANIFEST, mt.DOCKER_CONTAINER_CONFIG, mt.DOCKER_LAYER),
    ],
)
def test_an_image_parses_back_to_the_manifest_it_comes_with(
    flavour: Flavour, manifest_type: str, config_type: str, layer_type: str
) -> None:
    layers = [layer_bytes(LayerSpec(f"l{i}", 3000))[1] for i in range(3)]
    image = generate_image(layer_set(layers, flavour), platform=ARM_V7, created=CREATED)

    assert parse_manifest(image.payload, manifest_type) == image.manifest
    assert image.digest.hex == sha256(image.payload)
    document = json.loads(image.payload)
    assert document["mediaType"] == manifest_type
    assert document["config"] == {
        "mediaType": config_type, "digest": f"sha256:{sha256(image.config)}",
        "size": len(image.config),
    }
    assert [layer["mediaType"] for layer in document["layers"]] == [layer_type] * 3
    assert [layer["size"] for layer in document["layers"]] == [3000] * 3
    config = json.loads(image.config)
    assert config == {
        "architecture": "arm",
        "os": "linux",
        "variant": "v7",
        "created": "2026-01-02T03:04:05Z",
        "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in layers]},
    }
    assert parse_image_config_created(image.config) == CREATED == image.created


def test_an_image_without_created_has_none_in_its_config() -> None:
    image = generate_image(layer_set([], "oci"), platform=AMD64, created=None)

    assert "created" not in json.loads(image.config)
    assert image.created is None
    assert image.manifest.layers == ()


def test_created_keeps_fractions_and_is_written_in_utc() -> None:
    assert format_created(datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)) == (
        "2026-01-01T12:00:00.250000Z"
    )
    image = generate_image(
        layer_set([], "oci"),
        platform=AMD64,
        created=datetime.fromisoformat("2026-01-01T14:00:00.5+02:00"),
    )
    assert json.loads(image.config)["created"] == "2026-01-01T12:00:00.500000Z"
    assert parse_image_config_created(image.config) == image.created


@pytest.mark.parametrize(
    ("flavour", "index_type"), [("oci", mt.OCI_INDEX), ("docker", mt.DOCKER_MANIFEST_LIST)]
)
def test_an_index_lists_its_children_with_their_platforms(
    flavour: Flavour, index_type: str
) -> None:
    layers = layer_set([layer_bytes(LayerSpec("l", 2000))[1]], flavour)
    children = [
        generate_image(layers, platform=platform, created=CREATED) for platform in (AMD64, ARM_V7)
    ]
    index = generate_index(children, flavour=flavour)

    assert parse_manifest(index.payload, None) == index.index
    assert index.digest.hex == sha256(index.payload)
    document = json.loads(index.payload)
    assert document["mediaType"] == index_type
    assert document["manifests"] == [
        {"mediaType": child.manifest.media_type, "digest": str(child.digest),
         "size": len(child.payload), "platform": platform}
        for child, platform in zip(
            children,
            [{"architecture": "amd64", "os": "linux"},
             {"architecture": "arm", "os": "linux", "variant": "v7"}],
            strict=True,
        )
    ]


def test_the_same_spec_generates_the_same_bytes() -> None:
    def make() -> bytes:
        layers = layer_set([layer_bytes(LayerSpec("s", 5000))[1]], "oci")
        children = [generate_image(layers, platform=p, created=CREATED) for p in (AMD64, ARM_V7)]
        return generate_index(children, flavour="oci").payload

    assert make() == make()
