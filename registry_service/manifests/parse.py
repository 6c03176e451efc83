"""Manifest bytes → ``Manifest`` or ``Index``; image config and annotation creation times.

This module owns what a pushed manifest must look like to be accepted: one JSON object,
``schemaVersion`` 2, an unambiguous media type, and well-formed descriptors. Anything else is
``ManifestInvalid`` — including a malformed or unsupported digest *inside* a manifest, which is a
property of the document, not of the request (DIGEST_INVALID is kept for digests the client
sends in URLs and query strings). It does not check that referenced blobs exist, does not hash
the payload, and does not enforce a size limit; callers do.

Rules the specs leave open, decided here:

- ``mediaType`` field and ``Content-Type`` must agree when both are given; a generic
  Content-Type (``application/json``) counts as not given; with neither, a body with
  ``manifests`` is an OCI index and one with ``config`` and ``layers`` an OCI image manifest.
- An image manifest carrying ``manifests``, or an index carrying ``config``/``layers``, is
  refused as ambiguous (the CVE-2021-41190 content-confusion fix).
- Duplicate JSON keys, ``NaN``/``Infinity`` and lone surrogates are refused: another parser
  could read the same bytes differently.
- An optional field set to ``null`` counts as absent, as Go clients' decoders treat it.
- A descriptor's ``data`` must be base64 whose decoded bytes match its ``size`` and ``digest``.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NoReturn

from registry_service.digests import Digest, digest_of, parse_digest
from registry_service.errors import DigestInvalid, ManifestInvalid
from registry_service.manifests.media_types import (
    IMAGE_CONFIG_TYPES,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    is_valid_media_type,
    normalize_content_type,
)

ANNOTATION_CREATED = "org.opencontainers.image.created"
SCHEMA_VERSION = 2
_MAX_SIZE = 2**63 - 1  # descriptor sizes are int64

_RFC3339_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


@dataclass(frozen=True, slots=True)
class Platform:
    """Where an index child runs (``platform`` of an index's descriptor)."""

    architecture: str
    os: str
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    variant: str | None = None
    features: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A reference to content by media type, digest and size."""

    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    artifact_type: str | None = None
    platform: Platform | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest (Docker schema2 or OCI), including artifacts."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    # ``artifactType``, else the config media type unless that is a plain image config.
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Every blob the manifest references: config first, then layers."""
        return (self.config, *self.layers)

    @property
    def referrer_artifact_type(self) -> str:
        """The ``artifactType`` a referrers response lists: falls back to the config type."""
        return self.artifact_type or self.config.media_type


@dataclass(frozen=True, slots=True)
class Index:
    """An image index (OCI) or manifest list (Docker)."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def referrer_artifact_type(self) -> str | None:
        """The ``artifactType`` a referrers response lists: an index has no fallback."""
        return self.artifact_type


def parse_manifest(payload: bytes, content_type: str | None) -> Manifest | Index:
    """Validate a pushed manifest; raise ``ManifestInvalid`` saying what is wrong."""
    document = _load_object(payload)
    version = document.get("schemaVersion")
    if type(version) is not int or version != SCHEMA_VERSION:
        _invalid(f"schemaVersion must be {SCHEMA_VERSION}, got {json.dumps(version)[:20]}")
    media_type = _resolve_media_type(document, content_type)
    if media_type in INDEX_TYPES:
        return _parse_index(document, media_type)
    return _parse_image_manifest(document, media_type)


def parse_image_config_created(config_bytes: bytes) -> datetime | None:
    """The image config's ``created`` time in UTC; ``None`` if missing or unparseable."""
    try:
        document = json.loads(config_bytes)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    created = document.get("created")
    return parse_rfc3339(created) if isinstance(created, str) else None


def annotation_created(annotations: Mapping[str, str] | None) -> datetime | None:
    """The ``org.opencontainers.image.created`` annotation in UTC; ``None`` if absent or bad."""
    created = (annotations or {}).get(ANNOTATION_CREATED)
    return parse_rfc3339(created) if isinstance(created, str) else None


def parse_rfc3339(text: str) -> datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime; ``None`` if it is not one.

    Fractions beyond microseconds (Go writes nanoseconds) are truncated; a leap second
    ``:60`` becomes the last microsecond of ``:59``.
    """
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    microsecond = int((match.group(7) or "")[:6].ljust(6, "0"))
    if second == 60:
        second, microsecond = 59, 999_999
    offset = match.group(8)
    tz = UTC
    if offset not in ("Z", "z"):
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        delta = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-delta if offset[0] == "-" else delta)
    try:
        return datetime(year, month, day, hour, minute, second, microsecond, tz).astimezone(UTC)
    except (ValueError, OverflowError):
        # Out-of-range fields (month 13), or year 1 / 9999 pushed past the edge by the offset.
        return None


# --- the document ---------------------------------------------------------------------------


def _load_object(payload: bytes) -> dict[str, Any]:
    try:
        document = json.loads(
            payload.decode("utf-8"),
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError as err:
        raise ManifestInvalid("manifest is not UTF-8") from err
    except RecursionError as err:
        raise ManifestInvalid("manifest JSON is nested too deeply") from err
    except ValueError as err:  # JSONDecodeError, or an integer too long to convert
        raise ManifestInvalid(f"manifest is not valid JSON: {err}") from err
    if not isinstance(document, dict):
        _invalid("manifest must be a JSON object")
    return document


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            _invalid(f"duplicate JSON key {key[:80]!r}")
        result[key] = value
    return result


def _refuse_constant(name: str) -> NoReturn:
    _invalid(f"{name} is not valid JSON")


def _resolve_media_type(document: dict[str, Any], content_type: str | None) -> str:
    header = normalize_content_type(content_type)
    # An empty mediaType is no mediaType, as Go's decoders see it.
    declared = _optional_str(document, "mediaType", "mediaType") or None
    if declared is not None and header is not None and declared != header:
        _invalid(f"mediaType {declared!r} does not match Content-Type {header!r}")
    media_type = declared or header
    if media_type is None:
        if _present(document, "manifests"):
            return OCI_INDEX
        if _present(document, "config") and _present(document, "layers"):
            return OCI_MANIFEST
        _invalid("cannot tell the manifest's media type: set mediaType or Content-Type")
    if media_type not in MANIFEST_TYPES:
        _invalid(f"unsupported manifest media type {media_type[:100]!r}")
    return media_type


def _parse_image_manifest(document: dict[str, Any], media_type: str) -> Manifest:
    if _present(document, "manifests"):
        _invalid("an image manifest must not have 'manifests'")
    config = _descriptor(_required(document, "config", "config"), "config")
    layers = _list(_required(document, "layers", "layers"), "layers")
    artifact_type = _optional_media_type(document, "artifactType", "artifactType")
    if artifact_type is None and config.media_type not in IMAGE_CONFIG_TYPES:
        artifact_type = config.media_type
    return Manifest(
        media_type=media_type,
        config=config,
        layers=tuple(_descriptor(item, f"layers[{i}]") for i, item in enumerate(layers)),
        subject=_optional_descriptor(document, "subject"),
        artifact_type=artifact_type,
        annotations=_annotations(document, "annotations"),
    )


def _parse_index(document: dict[str, Any], media_type: str) -> Index:
    for key in ("config", "layers"):
        if _present(document, key):
            _invalid(f"an index must not have {key!r}")
    children = _list(_required(document, "manifests", "manifests"), "manifests")
    return Index(
        media_type=media_type,
        manifests=tuple(
            _descriptor(item, f"manifests[{i}]", with_platform=True)
            for i, item in enumerate(children)
        ),
        subject=_optional_descriptor(document, "subject"),
        artifact_type=_optional_media_type(document, "artifactType", "artifactType"),
        annotations=_annotations(document, "annotations"),
    )


# --- descriptors ----------------------------------------------------------------------------


def _descriptor(value: Any, where: str, *, with_platform: bool = False) -> Descriptor:
    obj = _object(value, where)
    digest_text = _str(_required(obj, "digest", f"{where}.digest"), f"{where}.digest")
    try:
        digest = parse_digest(digest_text)
    except DigestInvalid as err:
        raise ManifestInvalid(f"{where}.digest: {err.message}") from err
    size = _required(obj, "size", f"{where}.size")
    if type(size) is not int or not 0 <= size <= _MAX_SIZE:
        _invalid(f"{where}.size must be a non-negative integer")
    platform = None
    if with_platform and _present(obj, "platform"):
        platform = _platform(obj["platform"], f"{where}.platform")
    return Descriptor(
        media_type=_media_type(
            _required(obj, "mediaType", f"{where}.mediaType"), f"{where}.mediaType"
        ),
        digest=digest,
        size=size,
        urls=_optional_strs(obj, "urls", f"{where}.urls"),
        annotations=_annotations(obj, f"{where}.annotations"),
        artifact_type=_optional_media_type(obj, "artifactType", f"{where}.artifactType"),
        platform=platform,
        data=_data(obj, digest, size, f"{where}.data"),
    )


def _optional_descriptor(obj: dict[str, Any], key: str) -> Descriptor | None:
    return _descriptor(obj[key], key) if _present(obj, key) else None


def _platform(value: Any, where: str) -> Platform:
    obj = _object(value, where)
    return Platform(
        architecture=_str(
            _required(obj, "architecture", f"{where}.architecture"), f"{where}.architecture"
        ),
        os=_str(_required(obj, "os", f"{where}.os"), f"{where}.os"),
        os_version=_optional_str(obj, "os.version", f"{where}.os.version"),
        os_features=_optional_strs(obj, "os.features", f"{where}.os.features"),
        variant=_optional_str(obj, "variant", f"{where}.variant"),
        features=_optional_strs(obj, "features", f"{where}.features"),
    )


def _data(obj: dict[str, Any], digest: Digest, size: int, where: str) -> bytes | None:
    if not _present(obj, "data"):
        return None
    try:
        data = binascii.a2b_base64(_str(obj["data"], where).encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as err:
        raise ManifestInvalid(f"{where} is not base64") from err
    if len(data) != size or digest_of(data, digest.algorithm) != digest:
        _invalid(f"{where} does not match the descriptor's size and digest")
    return data


# --- JSON values ----------------------------------------------------------------------------


def _invalid(message: str) -> NoReturn:
    raise ManifestInvalid(message)


def _present(obj: dict[str, Any], key: str) -> bool:
    """Whether an optional field is set (``null`` counts as unset)."""
    return obj.get(key) is not None


def _required(obj: dict[str, Any], key: str, where: str) -> Any:
    if obj.get(key) is None:
        _invalid(f"{where} is required")
    return obj[key]


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _invalid(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        _invalid(f"{where} must be an array")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _invalid(f"{where} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate escape such as "\ud800"
        raise ManifestInvalid(f"{where} is not valid Unicode") from err
    return value


def _optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    return _str(obj[key], where) if _present(obj, key) else None


def _optional_strs(obj: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    if not _present(obj, key):
        return ()
    return tuple(_str(item, f"{where}[{i}]") for i, item in enumerate(_list(obj[key], where)))


def _media_type(value: Any, where: str) -> str:
    text = _str(value, where)
    if not is_valid_media_type(text):
        _invalid(f"{where}: {text[:100]!r} is not a valid media type")
    return text


def _optional_media_type(obj: dict[str, Any], key: str, where: str) -> str | None:
    return _media_type(obj[key], where) if _present(obj, key) else None


def _annotations(obj: dict[str, Any], where: str) -> dict[str, str]:
    key = "annotations"
    if not _present(obj, key):
        return {}
    annotations = _object(obj[key], where)
    for name, value in annotations.items():
        _str(name, f"{where} key")
        _str(value, f"{where}[{name[:80]!r}]")
    return annotations
