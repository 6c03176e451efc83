"""Manifests and tags of a repository: push, pull, delete, list, referrers.

A pushed manifest is stored byte-exact; its identity is the digest of those bytes. On push it
is parsed (``manifests.parse``), every blob it needs must already be readable by the repository
and every child of an index must already be in it, and the facts the GitLab API and the cleanup
read later are recorded beside it: config digest, the image's ``created`` date, sizes, subject.
The checks and the insert run in one catalog transaction, which first locks the blob and child
rows it checks (on PostgreSQL; SQLite has one writer), so garbage collection cannot delete one
between "it is there" and "the manifest references it".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from registry_service.catalog import blobs as blob_rows
from registry_service.catalog import manifests as manifest_rows
from registry_service.catalog import pulls as pull_rows
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.manifests import NewManifest
from registry_service.catalog.protocols import CatalogBackend, Writer
from registry_service.catalog.rows import Repository, StoredManifest
from registry_service.digests import Digest, digest_of, parse_digest
from registry_service.errors import (
    BadRequest,
    BlobUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    PayloadTooLarge,
)
from registry_service.manifests.media_types import (
    IMAGE_CONFIG_TYPES,
    NONDISTRIBUTABLE_LAYER_TYPES,
    OCI_INDEX,
)
from registry_service.manifests.parse import (
    Descriptor,
    Index,
    Manifest,
    annotation_created,
    parse_image_config_created,
    parse_manifest,
)
from registry_service.names import is_digest_reference, project_path_candidates, validate_tag
from registry_service.services import images
from registry_service.services.blobs import Storage
from registry_service.services.images import Action, Image
from registry_service.services.permissions import AccessLevel, Actor
from registry_service.services.projects import ProjectAccess
from registry_service.services.protection_rules import Guard

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# An image config larger than this is not read for its ``created`` date (it would be odd).
MAX_CONFIG_READ_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Pushed:
    digest: Digest
    tags: tuple[str, ...]
    subject: Digest | None


@dataclass(frozen=True)
class Pulled:
    manifest: StoredManifest
    payload: bytes


def parse_reference(reference: str) -> Digest | str:
    """A manifest reference: a digest (DIGEST_INVALID if malformed) or a tag (TAG_INVALID)."""
    if is_digest_reference(reference):
        return parse_digest(reference)
    return validate_tag(reference)


def lookup_reference(reference: str) -> Digest | str:
    """A reference to look up (GET, HEAD, DELETE): one that is neither a valid digest nor a
    valid tag names nothing that can exist, so it is MANIFEST_UNKNOWN (404), as CNCF
    distribution answers, not a 400 — only a PUT, which would create it, is refused as invalid.
    """
    try:
        return parse_reference(reference)
    except BadRequest:
        raise ManifestUnknown(detail={"reference": reference[:140]}) from None


async def pull_manifest(catalog: CatalogBackend, image: Image, reference: str) -> Pulled:
    """The manifest ``reference`` names in the image's repository (the caller's right to pull
    it already decided, by a registry token): NAME_UNKNOWN without the repository, else
    MANIFEST_UNKNOWN without the manifest. Both rows come in one statement."""
    ref = await _pullable_reference(catalog, image, reference)
    found = await pull_rows.select_repository_with_manifest(
        catalog.reader, image.project_id, image.name, str(ref), by_tag=isinstance(ref, str)
    )
    repository, manifest = found if found is not None else (None, None)
    return _pulled(image, repository, manifest, reference)


async def pull_manifest_as(
    catalog: CatalogBackend, actor: Actor, image_path: str, reference: str
) -> Pulled:
    """The manifest ``reference`` names at ``image_path`` if ``actor`` may pull it, with the
    errors of ``images.resolve`` then those of ``pull_manifest``, in that order. The project,
    the caller's level, the repository and the manifest come in one statement; nothing of it
    is answered before the caller is let in."""
    try:
        ref = lookup_reference(reference)
    except ManifestUnknown:
        # No manifest can have this name: the caller's rights and the repository come first.
        image = await images.resolve(catalog, actor, image_path, Action.PULL)
        return await pull_manifest(catalog, image, reference)
    found = await pull_rows.select_pull(
        catalog.reader,
        project_path_candidates(image_path),
        image_path,
        actor.user_id,
        str(ref),
        by_tag=isinstance(ref, str),
    )
    access = None if found is None else ProjectAccess(found.project, AccessLevel(found.level))
    image = await images.admit(catalog, actor, image_path, Action.PULL, access)
    assert found is not None  # admit refuses a path no project owns
    return _pulled(image, found.repository, found.manifest, reference)


async def _pullable_reference(
    catalog: CatalogBackend, image: Image, reference: str
) -> Digest | str:
    try:
        return lookup_reference(reference)
    except ManifestUnknown:
        # No manifest can have this name; the repository's absence still comes first.
        await images.find_repository(catalog, image)
        raise


def _pulled(
    image: Image,
    repository: Repository | None,
    manifest: tuple[StoredManifest, bytes] | None,
    reference: str,
) -> Pulled:
    images.require_repository(image, repository)
    if manifest is None:
        raise ManifestUnknown(detail={"reference": reference[:140]})
    return Pulled(*manifest)


async def push_manifest(
    catalog: CatalogBackend,
    storage: Storage,
    repository: Repository,
    reference: str,
    payload: bytes,
    content_type: str | None,
    extra_tags: Sequence[str],
    now: datetime,
    guard: Guard | None = None,
) -> Pushed:
    """Validate and store a manifest, pointing ``reference`` (if a tag) and ``extra_tags`` at it;
    ``guard`` refuses a tag its protection rules keep from the pusher (403)."""
    if len(payload) > MAX_MANIFEST_BYTES:
        raise PayloadTooLarge(
            f"manifest is {len(payload)} bytes; at most {MAX_MANIFEST_BYTES} are accepted",
            detail={"limit_bytes": MAX_MANIFEST_BYTES},
        )
    ref = parse_reference(reference)
    tags = [validate_tag(tag) for tag in extra_tags]
    if isinstance(ref, Digest):
        digest = digest_of(payload, ref.algorithm)
        if digest != ref:
            raise DigestInvalid(
                f"manifest digest is {digest}, not {ref}",
                detail={"expected": str(ref), "computed": str(digest)},
            )
    else:
        digest = digest_of(payload)
        tags.insert(0, ref)
    parsed = parse_manifest(payload, content_type)
    created = await _created_of(storage, parsed)
    async with catalog.transaction() as tx:
        if guard is not None and any(guard.tags.is_immutable(tag) for tag in tags):
            # "Not there yet, so it may be created" has no tag row to lock: two pushes of one
            # new immutable tag take the repository's row in turn instead (PostgreSQL).
            await repository_rows.lock_repository(tx, repository.id)
        if guard is not None and guard.tags:
            for tag in dict.fromkeys(tags):
                await _check_tag_push(tx, guard, repository, tag, digest)
        if isinstance(parsed, Manifest):
            new = await _image_record(tx, repository, parsed, digest, payload, created)
        else:
            new = await _index_record(tx, repository, parsed, digest, payload)
        manifest_id, _ = await manifest_rows.insert_manifest(tx, repository.id, new, now)
        for tag in dict.fromkeys(tags):
            await tag_rows.upsert_tag(tx, repository.id, tag, manifest_id, now)
    subject = parsed.subject.digest if parsed.subject else None
    return Pushed(digest, tuple(dict.fromkeys(tags)), subject)


async def _check_tag_push(
    tx: Writer, guard: Guard, repository: Repository, tag: str, digest: Digest
) -> None:
    # Where the tag points now matters only to an immutable rule: read it for those alone,
    # inside the transaction, so a concurrent push cannot slip between check and write.
    current = None
    if guard.tags.is_immutable(tag):
        row = await tag_rows.select_tag(tx, repository.id, tag)
        current = row.manifest_digest if row is not None else None
    guard.require_tag_push(tag, current=current, pushed=str(digest))


async def _created_of(storage: Storage, parsed: Manifest | Index) -> datetime | None:
    """The image's build date (Decision 4): the config's ``created``, else the annotation."""
    if isinstance(parsed, Manifest) and parsed.config.media_type in IMAGE_CONFIG_TYPES:
        config = parsed.config
        if config.data is not None:
            return parse_image_config_created(config.data)
        known = storage.config_dates
        if config.digest in known:
            created = known.get(config.digest)
        elif config.size <= MAX_CONFIG_READ_BYTES:
            raw = await _read_small_blob(storage, config.digest)
            created = None if raw is None else parse_image_config_created(raw)
            if raw is not None:
                known.remember(config.digest, created)
        else:
            created = None
        if created is not None:
            return created
    return annotation_created(parsed.annotations)


async def _read_small_blob(storage: Storage, digest: Digest) -> bytes | None:
    """The blob's bytes, or None if it is not in the store — the blob check inside the
    transaction then reports MANIFEST_BLOB_UNKNOWN. Garbage collection may remove it between
    any two steps here, so a vanished file is an answer, not an error."""
    try:
        pieces = [piece async for piece in await storage.store.open_range(digest)]
    except BlobUnknown:
        return None
    return b"".join(pieces)


def _needs_blob(descriptor: Descriptor) -> bool:
    # Non-distributable layers live elsewhere (``urls``); a push legitimately omits them.
    return descriptor.media_type not in NONDISTRIBUTABLE_LAYER_TYPES


async def _image_record(
    tx: Writer,
    repository: Repository,
    manifest: Manifest,
    digest: Digest,
    payload: bytes,
    created: datetime | None,
) -> NewManifest:
    # Before the checks, so garbage collection cannot delete a checked blob before the
    # manifest that references it commits (catalog/garbage.py).
    await blob_rows.lock_blob_rows(
        tx, [str(d.digest) for d in manifest.blobs if _needs_blob(d)]
    )
    for descriptor in manifest.blobs:
        if not _needs_blob(descriptor):
            continue
        linked = await blob_rows.select_linked_blob_size(tx, repository.id, str(descriptor.digest))
        if linked is None:
            raise ManifestBlobUnknown(
                f"blob {descriptor.digest} is not in repository; push it first",
                detail={"digest": str(descriptor.digest)},
            )
        _check_size(descriptor, linked, "blob")
    return image_record(manifest, digest, payload, created)


def _check_size(descriptor: Descriptor, stored_size: int, what: str) -> None:
    """MANIFEST_INVALID unless the descriptor declares the stored content's size: a client
    pulling the manifest would read exactly ``size`` bytes and fail."""
    if descriptor.size != stored_size:
        raise ManifestInvalid(
            f"descriptor of {what} {descriptor.digest} declares size {descriptor.size}, but the"
            f" stored {what} is {stored_size} bytes",
            detail={
                "digest": str(descriptor.digest),
                "declared_size": descriptor.size,
                "stored_size": stored_size,
            },
        )


def image_record(
    manifest: Manifest, digest: Digest, payload: bytes, created: datetime | None
) -> NewManifest:
    """What the catalog records for an image manifest (its blobs were checked by the caller)."""
    return NewManifest(
        digest=str(digest),
        media_type=manifest.media_type,
        payload=payload,
        config_digest=str(manifest.config.digest),
        config_media_type=manifest.config.media_type,
        artifact_type=manifest.artifact_type,
        subject_digest=str(manifest.subject.digest) if manifest.subject else None,
        image_created_at=created,
        total_size_bytes=sum(layer.size for layer in manifest.layers),
        annotations=_annotations_json(manifest.annotations),
        blobs=[(str(d.digest), d.size, d.media_type) for d in manifest.blobs],
        has_config=True,
        children=[],
    )


async def _index_record(
    tx: Writer,
    repository: Repository,
    index: Index,
    digest: Digest,
    payload: bytes,
) -> NewManifest:
    wanted = [str(child.digest) for child in index.manifests]
    await manifest_rows.lock_manifest_rows(tx, repository.id, wanted)
    present = await manifest_rows.select_manifests_by_digests(tx, repository.id, wanted)
    missing = [d for d in wanted if d not in present]
    if missing:
        raise ManifestBlobUnknown(
            f"index lists manifest {missing[0]}, which is not in repository; push it first",
            detail={"digest": missing[0]},
        )
    for child in index.manifests:
        _check_size(child, present[str(child.digest)].size_bytes, "manifest")
    return index_record(index, digest, payload, present)


class ChildFacts(Protocol):
    """What an index's record takes from each child (a stored row or one about to be)."""

    @property
    def image_created_at(self) -> datetime | None: ...

    @property
    def total_size_bytes(self) -> int | None: ...


def index_record(
    index: Index, digest: Digest, payload: bytes, present: Mapping[str, ChildFacts]
) -> NewManifest:
    """What the catalog records for an index; ``present`` has every child, by digest."""
    wanted = [str(child.digest) for child in index.manifests]
    children = [present[d] for d in dict.fromkeys(wanted)]
    dates = [c.image_created_at for c in children if c.image_created_at is not None]
    return NewManifest(
        digest=str(digest),
        media_type=index.media_type,
        payload=payload,
        config_digest=None,
        config_media_type=None,
        artifact_type=index.artifact_type,
        subject_digest=str(index.subject.digest) if index.subject else None,
        image_created_at=max(dates) if dates else annotation_created(index.annotations),
        total_size_bytes=sum(c.total_size_bytes or 0 for c in children),
        annotations=_annotations_json(index.annotations),
        blobs=[],
        has_config=False,
        children=[
            (str(child.digest), _platform_json(child)) for child in index.manifests
        ],
    )


def _annotations_json(annotations: Any) -> str | None:
    return json.dumps(dict(annotations), sort_keys=True) if annotations else None


def _platform_json(child: Descriptor) -> str | None:
    platform = child.platform
    if platform is None:
        return None
    fields = {
        "architecture": platform.architecture,
        "os": platform.os,
        "os.version": platform.os_version,
        "variant": platform.variant,
    }
    return json.dumps({k: v for k, v in fields.items() if v is not None}, sort_keys=True)


async def delete_manifest(
    catalog: CatalogBackend,
    repository: Repository,
    reference: str,
    now: datetime,
    guard: Guard | None = None,
) -> None:
    """By tag: remove only that tag. By digest: remove the manifest and every tag on it.

    ``guard`` refuses a protected or immutable tag; by digest, every tag the manifest would
    take along must be deletable (Decision: a digest is no way around a tag rule)."""
    ref = lookup_reference(reference)
    async with catalog.transaction() as tx:
        if isinstance(ref, Digest):
            found = await manifest_rows.select_manifest(tx, repository.id, str(ref))
            if found is None:
                raise ManifestUnknown(detail={"reference": reference[:140]})
            if guard is not None and guard.tags:
                for tag in await tag_rows.select_tag_names_of_manifest(tx, found.id):
                    guard.require_tag_delete(tag)
            await manifest_rows.delete_manifest(tx, found.id)
        else:
            # A missing tag is MANIFEST_UNKNOWN whatever rule would match it.
            if guard is not None and guard.tags.matching(ref):
                if await tag_rows.select_tag(tx, repository.id, ref) is None:
                    raise ManifestUnknown(detail={"reference": reference[:140]})
                guard.require_tag_delete(ref)
            if not await tag_rows.delete_tag(tx, repository.id, ref, now):
                raise ManifestUnknown(detail={"reference": reference[:140]})


async def list_tag_names(
    catalog: CatalogBackend, repository: Repository, *, limit: int | None, after: str | None
) -> tuple[list[str], bool]:
    """Tag names in lexical order after ``after``; and whether more follow."""
    if limit is None:
        # Every tag, maybe 100,000: read off the event loop.
        return await tag_rows.select_tag_names(
            catalog.scan_reader, repository.id, after=after, limit=-1
        ), False
    names = await tag_rows.select_tag_names(
        catalog.reader, repository.id, after=after, limit=limit + 1
    )
    return names[:limit], len(names) > limit


async def referrers_index(
    catalog: CatalogBackend, repository: Repository, subject: Digest, artifact_type: str | None
) -> dict[str, Any]:
    """The image index listing the manifests whose ``subject`` is ``subject``."""
    descriptors: list[dict[str, Any]] = []
    for found in await manifest_rows.select_referrers(catalog.reader, repository.id, str(subject)):
        kind = found.artifact_type or found.config_media_type
        if artifact_type is not None and kind != artifact_type:
            continue
        descriptor: dict[str, Any] = {
            "mediaType": found.media_type,
            "digest": found.digest,
            "size": found.size_bytes,
        }
        if kind is not None:
            descriptor["artifactType"] = kind
        if found.annotations:
            descriptor["annotations"] = json.loads(found.annotations)
        descriptors.append(descriptor)
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
