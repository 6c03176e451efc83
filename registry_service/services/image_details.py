"""One tag as the web interface's tag page shows it: the manifest or index it points at, its
layers or children, a summary of the image config, its annotations and its referrers
(signatures, SBOMs, … pushed with a ``subject``).

The repository has already been found within a project the actor may read. A fixed handful of
catalog statements per tag, whatever the repository's size; the image config is read from the
blob store (and skipped if large or gone: the page still shows everything else).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry_service.catalog import manifests as manifest_rows
from registry_service.catalog import tag_pages as tag_page_rows
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Repository
from registry_service.digests import parse_digest
from registry_service.errors import BlobUnknown, RegistryError, TagNotFound
from registry_service.manifests.media_types import IMAGE_CONFIG_TYPES, INDEX_TYPES
from registry_service.manifests.parse import Index, Manifest, parse_manifest
from registry_service.services.blobs import Storage
from registry_service.services.tag_pages import platform_label

# Larger configs are not read for the summary (a usual one is a few kilobytes).
MAX_CONFIG_BYTES = 1024 * 1024


@dataclass(frozen=True)
class BlobEntry:
    digest: str
    size_bytes: int
    media_type: str


@dataclass(frozen=True)
class ChildEntry:
    digest: str
    platform: str
    media_type: str | None
    size_bytes: int | None


@dataclass(frozen=True)
class ConfigSummary:
    created: str | None
    platform: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    working_dir: str | None
    user: str | None
    exposed_ports: tuple[str, ...]
    labels: Mapping[str, str]
    history_steps: int


@dataclass(frozen=True)
class ReferrerEntry:
    digest: str
    artifact_type: str | None
    media_type: str
    pushed_at: datetime
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class ImageDetails:
    tag: str
    digest: str
    media_type: str
    manifest_size_bytes: int
    total_size_bytes: int | None
    built_at: datetime | None
    pushed_at: datetime
    artifact_type: str | None
    subject_digest: str | None
    annotations: Mapping[str, str]
    config: BlobEntry | None
    config_summary: ConfigSummary | None
    layers: tuple[BlobEntry, ...] = ()
    children: tuple[ChildEntry, ...] = ()
    referrers: tuple[ReferrerEntry, ...] = field(default=())

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


async def get_image_details(
    catalog: CatalogBackend, storage: Storage, repository: Repository, tag_name: str
) -> ImageDetails:
    """The details of tag ``tag_name``; TagNotFound if the repository has no such tag."""
    tag = await tag_rows.select_tag(catalog.reader, repository.id, tag_name)
    found = (
        await manifest_rows.select_manifest_with_payload(
            catalog.reader, repository.id, digest=tag.manifest_digest
        )
        if tag is not None
        else None
    )
    if tag is None or found is None:
        raise TagNotFound()
    stored, payload = found
    # It was validated when pushed; parsed again only to be shown.
    parsed = parse_manifest(payload, stored.media_type)
    config: BlobEntry | None = None
    summary: ConfigSummary | None = None
    layers: tuple[BlobEntry, ...] = ()
    children: tuple[ChildEntry, ...] = ()
    if isinstance(parsed, Manifest):
        refs = await manifest_rows.select_blob_refs(catalog.reader, stored.id)
        entries = {pos: BlobEntry(digest, size, media) for pos, digest, size, media in refs}
        config = entries.get(-1)
        layers = tuple(entry for pos, entry in sorted(entries.items()) if pos >= 0)
        if config is not None and config.media_type in IMAGE_CONFIG_TYPES:
            summary = await _config_summary(storage, config)
    elif isinstance(parsed, Index):
        listed = await tag_page_rows.select_children(catalog.reader, stored.id)
        known = await manifest_rows.select_manifests_by_digests(
            catalog.reader, repository.id, [digest for digest, _ in listed]
        )
        children = tuple(
            ChildEntry(
                digest=digest,
                platform=platform_label(platform),
                media_type=known[digest].media_type if digest in known else None,
                size_bytes=known[digest].total_size_bytes if digest in known else None,
            )
            for digest, platform in listed
        )
    referrers = await manifest_rows.select_referrers(catalog.reader, repository.id, stored.digest)
    return ImageDetails(
        tag=tag.name,
        digest=stored.digest,
        media_type=stored.media_type,
        manifest_size_bytes=stored.size_bytes,
        total_size_bytes=stored.total_size_bytes,
        built_at=stored.image_created_at,
        pushed_at=tag.pushed_at,
        artifact_type=stored.artifact_type,
        subject_digest=stored.subject_digest,
        annotations=dict(parsed.annotations),
        config=config,
        config_summary=summary,
        layers=layers,
        children=children,
        referrers=tuple(
            ReferrerEntry(
                digest=r.digest,
                artifact_type=r.artifact_type,
                media_type=r.media_type,
                pushed_at=r.created_at,
                annotations=_json_strings(r.annotations),
            )
            for r in referrers
        ),
    )


def _json_strings(text: str | None) -> dict[str, str]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        return (value,)
    return ()


async def _config_summary(storage: Storage, config: BlobEntry) -> ConfigSummary | None:
    if config.size_bytes > MAX_CONFIG_BYTES:
        return None
    try:
        pieces = [piece async for piece in await storage.store.open_range(
            parse_digest(config.digest)
        )]
        document = json.loads(b"".join(pieces))
    except (BlobUnknown, ValueError, RegistryError):
        # Collected since, or not JSON: the rest of the page does without it.
        return None
    if not isinstance(document, dict):
        return None
    runtime = document.get("config") if isinstance(document.get("config"), dict) else {}
    assert isinstance(runtime, dict)
    labels = runtime.get("Labels") if isinstance(runtime.get("Labels"), dict) else {}
    assert isinstance(labels, dict)
    ports = runtime.get("ExposedPorts") if isinstance(runtime.get("ExposedPorts"), dict) else {}
    assert isinstance(ports, dict)
    history = document.get("history")
    platform = {
        "os": document.get("os"),
        "architecture": document.get("architecture"),
        "variant": document.get("variant"),
    }
    return ConfigSummary(
        created=str(document["created"]) if document.get("created") else None,
        platform=platform_label(json.dumps(platform)),
        entrypoint=_strings(runtime.get("Entrypoint")),
        cmd=_strings(runtime.get("Cmd")),
        working_dir=str(runtime["WorkingDir"]) if runtime.get("WorkingDir") else None,
        user=str(runtime["User"]) if runtime.get("User") else None,
        exposed_ports=tuple(sorted(str(p) for p in ports)),
        labels={str(k): str(v) for k, v in labels.items()},
        history_steps=len(history) if isinstance(history, list) else 0,
    )
