"""Manifest parsing, media types and creation times (registry_service/manifests/)."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_service.digests import digest_of
from registry_service.errors import ManifestInvalid
from registry_service.manifests import media_types as mt
from registry_service.manifests.parse import (
    Index,
    Manifest,
    Platform,
    annotation_created,
    parse_image_config_created,
    parse_manifest,
    parse_rfc3339,
)

SHA256_DIGEST = str(digest_of(b"layer"))


def descriptor(media_type: str, content: bytes = b"blob", **extra: Any) -> dict[str, Any]:
    """A descriptor of ``content`` with its real digest and size."""
    return {
        "mediaType": media_type,
        "digest": str(digest_of(content)),
        "size": len(content),
        **extra,
    }


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def docker_manifest(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": descriptor(mt.DOCKER_CONTAINER_CONFIG, b"config"),
        "layers": [descriptor(mt.DOCKER_LAYER, b"l1"), descriptor(mt.DOCKER_LAYER, b"l2")],
        **extra,
    }


def oci_manifest(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "config": descriptor(mt.OCI_IMAGE_CONFIG, b"config"),
        "layers": [descriptor(mt.OCI_LAYER_GZIP, b"l1")],
        **extra,
    }


def oci_index(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "manifests": [
            descriptor(
                mt.OCI_MANIFEST,
                b"amd64",
                platform={"architecture": "amd64", "os": "linux"},
            ),
            descriptor(
                mt.OCI_MANIFEST,
                b"arm64",
                platform={
                    "architecture": "arm64",
                    "os": "linux",
                    "variant": "v8",
                    "os.version": "10.0",
                    "os.features": ["win32k"],
                    "features": ["sse4"],
                },
            ),
            descriptor(mt.OCI_INDEX, b"nested"),
        ],
        **extra,
    }


def artifact(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom.v1+json",
        "config": descriptor(mt.OCI_EMPTY, b"{}", data="e30="),
        "layers": [descriptor("application/spdx+json", b"sbom")],
        "subject": descriptor(mt.OCI_MANIFEST, b"subject-manifest"),
        "annotations": {"org.opencontainers.image.created": "2024-05-06T07:08:09Z"},
        **extra,
    }


# --- accepted manifests ---------------------------------------------------------------------


def test_docker_schema2_manifest() -> None:
    parsed = parse_manifest(encode(docker_manifest()), mt.DOCKER_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert parsed.media_type == mt.DOCKER_MANIFEST
    assert parsed.config.media_type == mt.DOCKER_CONTAINER_CONFIG
    assert parsed.config.digest == digest_of(b"config")
    assert parsed.config.size == len(b"config")
    assert [layer.digest for layer in parsed.layers] == [digest_of(b"l1"), digest_of(b"l2")]
    assert parsed.blobs == (parsed.config, *parsed.layers)
    assert parsed.subject is None
    assert parsed.artifact_type is None
    assert parsed.referrer_artifact_type == mt.DOCKER_CONTAINER_CONFIG
    assert parsed.annotations == {}


def test_docker_manifest_list_with_platforms() -> None:
    document = oci_index(mediaType=mt.DOCKER_MANIFEST_LIST)
    parsed = parse_manifest(encode(document), mt.DOCKER_MANIFEST_LIST)
    assert isinstance(parsed, Index)
    assert parsed.media_type == mt.DOCKER_MANIFEST_LIST
    assert [child.platform for child in parsed.manifests] == [
        Platform("amd64", "linux"),
        Platform("arm64", "linux", "10.0", ("win32k",), "v8", ("sse4",)),
        None,
    ]


def test_oci_index_by_content_type_with_nested_index() -> None:
    parsed = parse_manifest(encode(oci_index()), mt.OCI_INDEX)
    assert isinstance(parsed, Index)
    assert parsed.media_type == mt.OCI_INDEX
    assert parsed.manifests[2].media_type == mt.OCI_INDEX
    assert parsed.artifact_type is None
    assert parsed.referrer_artifact_type is None


def test_oci_index_with_subject_artifact_type_and_annotations() -> None:
    document = oci_index(
        mediaType=mt.OCI_INDEX,
        artifactType="application/vnd.example.bundle",
        subject=descriptor(mt.OCI_MANIFEST, b"s"),
        annotations={"a": "b"},
    )
    parsed = parse_manifest(encode(document), None)
    assert isinstance(parsed, Index)
    assert parsed.subject is not None and parsed.subject.digest == digest_of(b"s")
    assert parsed.artifact_type == "application/vnd.example.bundle"
    assert parsed.referrer_artifact_type == "application/vnd.example.bundle"
    assert parsed.annotations == {"a": "b"}


def test_empty_index_is_accepted() -> None:
    parsed = parse_manifest(encode({"schemaVersion": 2, "manifests": []}), mt.OCI_INDEX)
    assert isinstance(parsed, Index)
    assert parsed.manifests == ()


def test_oci_manifest_by_content_type_without_media_type_field() -> None:
    parsed = parse_manifest(encode(oci_manifest()), mt.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert parsed.media_type == mt.OCI_MANIFEST
    assert parsed.artifact_type is None


def test_artifact_with_empty_config_and_subject() -> None:
    parsed = parse_manifest(encode(artifact()), mt.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert parsed.artifact_type == "application/vnd.example.sbom.v1+json"
    assert parsed.referrer_artifact_type == "application/vnd.example.sbom.v1+json"
    assert parsed.config.media_type == mt.OCI_EMPTY
    assert parsed.config.data == b"{}"
    assert parsed.subject is not None
    assert parsed.subject.digest == digest_of(b"subject-manifest")
    assert parsed.subject.media_type == mt.OCI_MANIFEST
    assert parsed.annotations == {"org.opencontainers.image.created": "2024-05-06T07:08:09Z"}


@pytest.mark.parametrize(
    ("config_type", "expected"),
    [
        pytest.param(mt.OCI_EMPTY, mt.OCI_EMPTY, id="empty-config"),
        pytest.param(
            "application/vnd.cncf.helm.config.v1+json",
            "application/vnd.cncf.helm.config.v1+json",
            id="helm-chart",
        ),
        pytest.param(mt.OCI_IMAGE_CONFIG, None, id="oci-image"),
        pytest.param(mt.DOCKER_CONTAINER_CONFIG, None, id="docker-image"),
    ],
)
def test_artifact_type_falls_back_to_a_non_image_config_type(
    config_type: str, expected: str | None
) -> None:
    document = oci_manifest(config=descriptor(config_type, b"c"))
    parsed = parse_manifest(encode(document), mt.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert parsed.artifact_type == expected
    assert parsed.referrer_artifact_type == config_type


def test_manifest_without_layers_is_accepted() -> None:
    parsed = parse_manifest(encode(oci_manifest(layers=[])), mt.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert parsed.layers == ()


@pytest.mark.parametrize(
    "layer_type",
    [
        mt.OCI_LAYER_NONDISTRIBUTABLE,
        mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
        mt.DOCKER_FOREIGN_LAYER,
    ],
)
def test_nondistributable_layers_are_just_layers(layer_type: str) -> None:
    layer = descriptor(layer_type, b"windows", urls=["https://example.com/layer.tar"])
    parsed = parse_manifest(encode(oci_manifest(layers=[layer])), mt.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert parsed.layers[0].media_type == layer_type
    assert parsed.layers[0].urls == ("https://example.com/layer.tar",)
    assert layer_type in mt.NONDISTRIBUTABLE_LAYER_TYPES


def test_sha512_descriptors_are_accepted() -> None:
    layer = {
        "mediaType": mt.OCI_LAYER,
        "digest": str(digest_of(b"l", "sha512")),
        "size": 1,
    }
    parsed = parse_manifest(encode(oci_manifest(layers=[layer])), mt.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert parsed.layers[0].digest.algorithm == "sha512"


def test_descriptor_fields_are_kept() -> None:
    layer = descriptor(
        mt.OCI_LAYER_ZSTD,
        b"z",
        annotations={"org.opencontainers.image.title": "z.tar"},
        artifactType="application/vnd.example.thing",
        unknownField={"kept": "in the bytes only"},
    )
    parsed = parse_manifest(encode(oci_manifest(layers=[layer])), mt.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert parsed.layers[0].annotations == {"org.opencontainers.image.title": "z.tar"}
    assert parsed.layers[0].artifact_type == "application/vnd.example.thing"


def test_null_optional_fields_count_as_absent() -> None:
    document = oci_manifest(
        annotations=None, subject=None, artifactType=None, mediaType=None, manifests=None
    )
    document["layers"][0].update(urls=None, annotations=None, data=None)
    parsed = parse_manifest(encode(document), mt.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert parsed.subject is None
    assert parsed.layers[0].urls == ()


def test_descriptors_hash_and_compare() -> None:
    first = parse_manifest(encode(artifact()), None)
    second = parse_manifest(encode(artifact()), None)
    assert first == second
    assert isinstance(first, Manifest)
    assert len({first.config, first.layers[0]}) == 2


# --- media type resolution ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "content_type", "expected"),
    [
        pytest.param(oci_manifest(), None, mt.OCI_MANIFEST, id="infer-manifest"),
        pytest.param(oci_index(), None, mt.OCI_INDEX, id="infer-index"),
        pytest.param(oci_manifest(), "application/json", mt.OCI_MANIFEST, id="generic-header"),
        pytest.param(
            docker_manifest(), "application/json", mt.DOCKER_MANIFEST, id="field-generic-header"
        ),
        pytest.param(docker_manifest(), None, mt.DOCKER_MANIFEST, id="field-only"),
        pytest.param(
            oci_manifest(),
            "Application/Vnd.OCI.Image.Manifest.v1+JSON ; charset=utf-8",
            mt.OCI_MANIFEST,
            id="header-case-and-parameters",
        ),
        pytest.param(
            oci_manifest(mediaType=""), mt.OCI_MANIFEST, mt.OCI_MANIFEST, id="empty-field"
        ),
        pytest.param(oci_manifest(), "", mt.OCI_MANIFEST, id="empty-header"),
    ],
)
def test_media_type_resolution(
    document: dict[str, Any], content_type: str | None, expected: str
) -> None:
    assert parse_manifest(encode(document), content_type).media_type == expected


@pytest.mark.parametrize(
    ("document", "content_type", "message"),
    [
        pytest.param(docker_manifest(), mt.OCI_MANIFEST, "does not match", id="field-vs-header"),
        pytest.param(
            oci_manifest(mediaType=mt.OCI_MANIFEST), mt.OCI_INDEX, "does not match", id="kind"
        ),
        pytest.param(
            oci_manifest(mediaType=mt.OCI_MANIFEST),
            mt.OCI_MANIFEST.upper(),
            None,
            id="header-is-case-insensitive",
        ),
        pytest.param(oci_manifest(), mt.OCI_IMAGE_CONFIG, "unsupported", id="config-as-header"),
        pytest.param(
            oci_manifest(mediaType="application/vnd.oci.artifact.manifest.v1+json"),
            None,
            "unsupported",
            id="withdrawn-artifact-manifest",
        ),
        pytest.param(
            oci_manifest(mediaType="application/vnd.docker.distribution.manifest.v1+json"),
            None,
            "unsupported",
            id="schema1-type",
        ),
        pytest.param({"schemaVersion": 2}, None, "cannot tell", id="nothing-to-infer-from"),
        pytest.param(
            {"schemaVersion": 2, "config": descriptor(mt.OCI_IMAGE_CONFIG)},
            None,
            "cannot tell",
            id="config-without-layers",
        ),
        pytest.param(oci_manifest(mediaType=7), None, "mediaType", id="field-not-a-string"),
    ],
)
def test_media_type_conflicts_are_manifest_invalid(
    document: dict[str, Any], content_type: str | None, message: str | None
) -> None:
    if message is None:
        parse_manifest(encode(document), content_type)
        return
    with pytest.raises(ManifestInvalid, match=message):
        parse_manifest(encode(document), content_type)


@pytest.mark.parametrize(
    ("document", "content_type"),
    [
        pytest.param(
            oci_manifest(manifests=[descriptor(mt.OCI_MANIFEST)]), mt.OCI_MANIFEST, id="manifest"
        ),
        pytest.param(oci_index(layers=[]), mt.OCI_INDEX, id="index-with-layers"),
        pytest.param(
            oci_index(config=descriptor(mt.OCI_IMAGE_CONFIG)), mt.OCI_INDEX, id="index-with-config"
        ),
        pytest.param(
            {**oci_manifest(), "manifests": [descriptor(mt.OCI_MANIFEST)]}, None, id="inferred"
        ),
    ],
)
def test_ambiguous_documents_are_manifest_invalid(
    document: dict[str, Any], content_type: str | None
) -> None:
    with pytest.raises(ManifestInvalid, match="must not have"):
        parse_manifest(encode(document), content_type)


# --- refused documents ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"manifest"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"\xef\xbb\xbf" + encode(oci_manifest()), id="utf8-bom"),
        pytest.param(encode(oci_manifest()) + b"{}", id="trailing-data"),
        pytest.param(b'{"schemaVersion": 2, "schemaVersion": 2}', id="duplicate-key"),
        pytest.param(b'{"schemaVersion": 2, "x": NaN}', id="nan"),
        pytest.param(b'{"schemaVersion": 2, "x": -Infinity}', id="infinity"),
        pytest.param(b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="deep-nesting"),
        pytest.param(b'{"x": ' + b"9" * 5000 + b"}", id="huge-integer"),
    ],
)
def test_payloads_that_are_not_a_json_object_are_manifest_invalid(payload: bytes) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(payload, mt.OCI_MANIFEST)


def test_duplicate_keys_in_nested_objects_are_refused() -> None:
    payload = encode(oci_manifest()).replace(b'"size": ', b'"size": 1, "size": ', 1)
    with pytest.raises(ManifestInvalid, match="duplicate JSON key 'size'"):
        parse_manifest(payload, mt.OCI_MANIFEST)


@pytest.mark.parametrize(
    "version",
    [1, 3, 0, "2", 2.0, True, None, [2]],
    ids=["1", "3", "0", "string", "float", "bool", "null", "list"],
)
def test_schema_version_other_than_2_is_refused(version: Any) -> None:
    document = oci_manifest(schemaVersion=version)
    with pytest.raises(ManifestInvalid, match="schemaVersion"):
        parse_manifest(encode(document), mt.OCI_MANIFEST)


def test_missing_schema_version_is_refused() -> None:
    document = oci_manifest()
    del document["schemaVersion"]
    with pytest.raises(ManifestInvalid, match="schemaVersion"):
        parse_manifest(encode(document), mt.OCI_MANIFEST)


def test_schema1_manifest_is_refused() -> None:
    schema1 = {
        "schemaVersion": 1,
        "name": "library/ubuntu",
        "tag": "latest",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": SHA256_DIGEST}],
        "history": [{"v1Compatibility": "{}"}],
    }
    with pytest.raises(ManifestInvalid, match="schemaVersion"):
        parse_manifest(encode(schema1), "application/vnd.docker.distribution.manifest.v1+prettyjws")


def set_in(document: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param(("config",), DELETE, "config is required", id="no-config"),
        pytest.param(("config",), [], "config must be an object", id="config-list"),
        pytest.param(("layers",), DELETE, "layers is required", id="no-layers-key"),
        pytest.param(("layers",), {}, "layers must be an array", id="layers-object"),
        pytest.param(("layers", 0), "sha256:abc", "layers\\[0\\] must be an object", id="str"),
        pytest.param(("layers", 0, "digest"), DELETE, "digest is required", id="no-digest"),
        pytest.param(("layers", 0, "digest"), 5, "digest must be a string", id="digest-int"),
        pytest.param(("layers", 0, "digest"), "sha256:abc", "invalid", id="short-digest"),
        pytest.param(
            ("layers", 0, "digest"), "sha256:" + "A" * 64, "invalid", id="uppercase-digest"
        ),
        pytest.param(("layers", 0, "digest"), "sha256:", "invalid digest", id="empty-digest"),
        pytest.param(
            ("layers", 0, "digest"),
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "unsupported",
            id="md5-digest",
        ),
        pytest.param(("layers", 0, "size"), DELETE, "size is required", id="no-size"),
        pytest.param(("layers", 0, "size"), -1, "size", id="negative-size"),
        pytest.param(("layers", 0, "size"), 1.5, "size", id="float-size"),
        pytest.param(("layers", 0, "size"), 2.0, "size", id="integral-float-size"),
        pytest.param(("layers", 0, "size"), True, "size", id="bool-size"),
        pytest.param(("layers", 0, "size"), "2", "size", id="string-size"),
        pytest.param(("layers", 0, "size"), 2**63, "size", id="beyond-int64"),
        pytest.param(("layers", 0, "mediaType"), DELETE, "mediaType is required", id="no-type"),
        pytest.param(("layers", 0, "mediaType"), "", "not a valid media type", id="empty-type"),
        pytest.param(("layers", 0, "mediaType"), "tar", "not a valid media type", id="no-slash"),
        pytest.param(
            ("layers", 0, "mediaType"),
            "application/x; charset=utf-8",
            "not a valid media type",
            id="type-with-parameters",
        ),
        pytest.param(("layers", 0, "urls"), "https://x", "urls must be an array", id="urls-str"),
        pytest.param(("layers", 0, "urls"), [1], "urls\\[0\\] must be a string", id="urls-int"),
        pytest.param(
            ("layers", 0, "annotations"), {"a": 1}, "must be a string", id="annotation-int"
        ),
        pytest.param(("layers", 0, "annotations"), ["a"], "must be an object", id="annots-list"),
        pytest.param(("layers", 0, "artifactType"), "nope", "media type", id="artifact-type"),
        pytest.param(("annotations",), {"k": None}, "must be a string", id="annotation-null"),
        pytest.param(("artifactType",), 3, "must be a string", id="artifact-type-int"),
        pytest.param(("subject",), "sha256:abc", "subject must be an object", id="subject-str"),
        pytest.param(("subject", "digest"), "sha256:abc", "subject.digest", id="subject-digest"),
        pytest.param(("subject", "size"), DELETE, "subject.size is required", id="subject-size"),
    ],
)
def test_malformed_manifest_fields_are_manifest_invalid(
    path: tuple[str | int, ...], value: Any, message: str
) -> None:
    document = set_in(artifact(), path, value)
    with pytest.raises(ManifestInvalid, match=message):
        parse_manifest(encode(document), mt.OCI_MANIFEST)


def test_bad_digest_inside_a_manifest_is_manifest_invalid_not_digest_invalid() -> None:
    document = set_in(oci_manifest(), ("config", "digest"), "sha256:nothex")
    with pytest.raises(ManifestInvalid) as caught:
        parse_manifest(encode(document), mt.OCI_MANIFEST)
    assert caught.value.oci_code == "MANIFEST_INVALID"
    assert "config.digest" in str(caught.value)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param(("manifests",), DELETE, "cannot tell", id="no-manifests"),
        pytest.param(("manifests",), {}, "manifests must be an array", id="manifests-object"),
        pytest.param(("manifests", 0, "platform"), "linux", "must be an object", id="platform"),
        pytest.param(
            ("manifests", 0, "platform", "os"), DELETE, "platform.os is required", id="no-os"
        ),
        pytest.param(
            ("manifests", 0, "platform", "architecture"), 64, "must be a string", id="arch-int"
        ),
        pytest.param(
            ("manifests", 1, "platform", "os.features"), "win32k", "must be an array", id="feat"
        ),
        pytest.param(("manifests", 2, "size"), -5, "manifests\\[2\\].size", id="child-size"),
    ],
)
def test_malformed_index_fields_are_manifest_invalid(
    path: tuple[str | int, ...], value: Any, message: str
) -> None:
    document = set_in(oci_index(), path, value)
    with pytest.raises(ManifestInvalid, match=message):
        parse_manifest(encode(document), None)


def test_lone_surrogates_in_kept_strings_are_refused() -> None:
    payload = encode(oci_manifest(annotations={"k": "v"})).replace(b'"v"', b'"\\ud800"')
    with pytest.raises(ManifestInvalid, match="not valid Unicode"):
        parse_manifest(payload, mt.OCI_MANIFEST)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param("e30", "not base64", id="bad-padding"),
        pytest.param("e3 0=", "not base64", id="whitespace"),
        pytest.param("é", "not base64", id="non-ascii"),
        pytest.param(base64.b64encode(b"[]").decode(), "does not match", id="other-content"),
        pytest.param(base64.b64encode(b"{} ").decode(), "does not match", id="other-size"),
    ],
)
def test_embedded_data_must_be_base64_of_the_described_content(data: str, message: str) -> None:
    document = set_in(artifact(), ("config", "data"), data)
    with pytest.raises(ManifestInvalid, match=message):
        parse_manifest(encode(document), mt.OCI_MANIFEST)


# --- media types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("application/json", None),
        ("application/json; charset=utf-8", None),
        ("application/octet-stream", None),
        (mt.OCI_MANIFEST, mt.OCI_MANIFEST),
        (f" {mt.DOCKER_MANIFEST} ;charset=utf-8", mt.DOCKER_MANIFEST),
        ("Application/Vnd.Example+JSON", "application/vnd.example+json"),
    ],
)
def test_normalize_content_type(header: str | None, expected: str | None) -> None:
    assert mt.normalize_content_type(header) == expected


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (mt.OCI_LAYER_GZIP, True),
        ("application/vnd.cncf.helm.chart.content.v1.tar+gzip", True),
        ("text/plain", True),
        ("a/b", True),
        ("", False),
        ("application", False),
        ("application/", False),
        ("/json", False),
        ("application/json; charset=utf-8", False),
        ("application/json/x", False),
        ("application/.json", False),
        ("application/" + "x" * 128, False),
    ],
)
def test_is_valid_media_type_follows_rfc6838_names(text: str, valid: bool) -> None:
    assert mt.is_valid_media_type(text) is valid


@pytest.mark.parametrize("stored", [mt.DOCKER_MANIFEST, mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST])
def test_manifests_are_served_with_their_stored_media_type(stored: str) -> None:
    assert mt.content_type_to_serve(stored) == stored


def test_media_type_sets_partition_manifest_kinds() -> None:
    assert mt.MANIFEST_TYPES == mt.IMAGE_MANIFEST_TYPES | mt.INDEX_TYPES
    assert not mt.IMAGE_MANIFEST_TYPES & mt.INDEX_TYPES
    assert mt.OCI_EMPTY == "application/vnd.oci.empty.v1+json"
    assert {mt.OCI_IMAGE_CONFIG, mt.DOCKER_CONTAINER_CONFIG} == mt.IMAGE_CONFIG_TYPES


# --- creation times -------------------------------------------------------------------------


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2023-01-02T03:04:05Z", utc(2023, 1, 2, 3, 4, 5)),
        ("2023-01-02T03:04:05.123456789Z", utc(2023, 1, 2, 3, 4, 5, 123456)),
        ("2023-01-02T03:04:05.999999999Z", utc(2023, 1, 2, 3, 4, 5, 999999)),
        ("2023-01-02T03:04:05.1Z", utc(2023, 1, 2, 3, 4, 5, 100000)),
        ("2023-01-02T03:04:05+02:00", utc(2023, 1, 2, 1, 4, 5)),
        ("2023-01-02T03:04:05.5-05:30", utc(2023, 1, 2, 8, 34, 5, 500000)),
        ("2023-01-02t03:04:05z", utc(2023, 1, 2, 3, 4, 5)),
        ("2023-01-02 03:04:05Z", utc(2023, 1, 2, 3, 4, 5)),
        ("2016-12-31T23:59:60Z", utc(2016, 12, 31, 23, 59, 59, 999999)),
        ("1970-01-01T00:00:00Z", utc(1970, 1, 1)),
        ("0001-01-01T00:00:00Z", utc(1, 1, 1)),
    ],
)
def test_image_config_created_is_parsed_as_rfc3339(created: str, expected: datetime) -> None:
    parsed = parse_image_config_created(encode({"created": created, "architecture": "amd64"}))
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(b"{}", id="missing"),
        pytest.param(b'{"created": null}', id="null"),
        pytest.param(b'{"created": 1700000000}', id="number"),
        pytest.param(b'{"created": ""}', id="empty"),
        pytest.param(b'{"created": "2023-01-02T03:04:05"}', id="no-offset"),
        pytest.param(b'{"created": "2023-01-02"}', id="date-only"),
        pytest.param(b'{"created": "2023-13-02T03:04:05Z"}', id="month-13"),
        pytest.param(b'{"created": "2023-02-30T03:04:05Z"}', id="february-30"),
        pytest.param(b'{"created": "2023-01-02T24:00:00Z"}', id="hour-24"),
        pytest.param(b'{"created": "2023-01-02T03:04:05+24:00"}', id="offset-24h"),
        pytest.param(b'{"created": "0001-01-01T00:00:00+01:00"}', id="before-year-1"),
        pytest.param(b'{"created": "9999-12-31T23:59:59-01:00"}', id="after-year-9999"),
        pytest.param(b'{"created": "2023-01-02T03:04:05.Z"}', id="empty-fraction"),
        pytest.param('{"created": "٢٠٢٣-01-02T03:04:05Z"}'.encode(), id="non-ascii-digits"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(b"\xff", id="not-utf8"),
        pytest.param(b"[" * 100_000, id="deep-nesting"),
    ],
)
def test_image_config_created_is_none_when_missing_or_unparseable(config: bytes) -> None:
    assert parse_image_config_created(config) is None


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"org.opencontainers.image.created": "2024-05-06T07:08:09Z"}, utc(2024, 5, 6, 7, 8, 9)),
        ({"org.opencontainers.image.created": "yesterday"}, None),
        ({"other": "2024-05-06T07:08:09Z"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_annotation_created(annotations: dict[str, str] | None, expected: datetime | None) -> None:
    assert annotation_created(annotations) == expected


def test_annotation_created_of_a_parsed_artifact() -> None:
    parsed = parse_manifest(encode(artifact()), mt.OCI_MANIFEST)
    assert annotation_created(parsed.annotations) == utc(2024, 5, 6, 7, 8, 9)


# --- properties -----------------------------------------------------------------------------

MANIFEST_KEYS = [
    "schemaVersion",
    "mediaType",
    "config",
    "layers",
    "manifests",
    "subject",
    "digest",
    "size",
    "annotations",
    "urls",
    "platform",
    "data",
    "artifactType",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(MANIFEST_KEYS) | st.text(max_size=5),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@given(st.binary(), st.none() | st.sampled_from(sorted(mt.MANIFEST_TYPES)) | st.text())
def test_random_bytes_only_raise_manifest_invalid(payload: bytes, content_type: str | None) -> None:
    with contextlib.suppress(ManifestInvalid):
        parse_manifest(payload, content_type)


@given(json_values, st.none() | st.sampled_from(sorted(mt.MANIFEST_TYPES)))
def test_random_json_only_raises_manifest_invalid(value: Any, content_type: str | None) -> None:
    if isinstance(value, dict):
        value.setdefault("schemaVersion", 2)
    with contextlib.suppress(ManifestInvalid):
        parse_manifest(json.dumps(value).encode(), content_type)


layer_descriptors = st.builds(
    lambda content, media_type, annotations: descriptor(
        media_type, content, **({"annotations": annotations} if annotations else {})
    ),
    st.binary(max_size=8),
    st.sampled_from([mt.OCI_LAYER, mt.OCI_LAYER_GZIP, mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD]),
    st.dictionaries(st.text(), st.text(), max_size=3),
)


@given(st.lists(layer_descriptors, max_size=5))
def test_generated_manifests_keep_their_layers(layers: list[dict[str, Any]]) -> None:
    parsed = parse_manifest(encode(oci_manifest(layers=layers)), mt.OCI_MANIFEST)
    assert isinstance(parsed, Manifest)
    assert [
        (str(layer.digest), layer.size, layer.media_type, dict(layer.annotations))
        for layer in parsed.layers
    ] == [
        (layer["digest"], layer["size"], layer["mediaType"], layer.get("annotations", {}))
        for layer in layers
    ]


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
    st.integers(min_value=0, max_value=999),
)
def test_rfc3339_round_trips_with_offsets_and_nanoseconds(
    moment: datetime, offset_minutes: int, nanoseconds: int
) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    # strftime's %Y does not pad years below 1000, so spell the fields out.
    text = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
        f".{local.microsecond:06d}{nanoseconds:03d}"
    )
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text += f"{sign}{hours:02d}:{minutes:02d}"
    assert parse_rfc3339(text) == moment


@given(st.text())
def test_parse_rfc3339_never_raises(text: str) -> None:
    parsed = parse_rfc3339(text)
    assert parsed is None or parsed.tzinfo is UTC


@given(st.binary())
def test_parse_image_config_created_never_raises(config: bytes) -> None:
    parse_image_config_created(config)
