"""The registry tables' query functions against a real catalog file: the invariants the OCI
handlers will lean on (idempotent puts, tag moves, delete-one-tag-only, cascades)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from registry_service.catalog import blobs, manifests, repositories, tags, uploads
from registry_service.catalog.db import Catalog
from registry_service.catalog.manifests import NewManifest
from tests.factories import Factory

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LAYER = "sha256:" + "1" * 64
CONFIG = "sha256:" + "2" * 64


def image(digest: str) -> NewManifest:
    return NewManifest(
        digest=digest,
        media_type="application/vnd.oci.image.manifest.v1+json",
        payload=b'{"schemaVersion":2}' + digest.encode(),
        config_digest=CONFIG,
        config_media_type="application/vnd.oci.image.config.v1+json",
        artifact_type=None,
        subject_digest=None,
        image_created_at=NOW - timedelta(days=3),
        total_size_bytes=10,
        annotations=None,
        blobs=[(CONFIG, 5, "application/vnd.oci.image.config.v1+json"),
               (LAYER, 10, "application/vnd.oci.image.layer.v1.tar+gzip")],
        has_config=True,
        children=[],
    )


async def test_manifest_put_is_idempotent_and_tags_move(catalog: Catalog, factory: Factory) -> None:
    project = await factory.project("acme/web")
    first, second = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    async with catalog.transaction() as tx:
        repo = await repositories.ensure_repository(tx, project.id, "", NOW)
        assert (await repositories.ensure_repository(tx, project.id, "", NOW)).id == repo.id
        for digest, size in ((CONFIG, 5), (LAYER, 10)):
            await blobs.insert_blob(tx, digest, size, NOW)
            await blobs.insert_blob(tx, digest, size, NOW)  # a second push of the same bytes
            await blobs.link_blob(tx, repo.id, digest, NOW)
        id1, created = await manifests.insert_manifest(tx, repo.id, image(first), NOW)
        again, created_again = await manifests.insert_manifest(tx, repo.id, image(first), NOW)
        id2, _ = await manifests.insert_manifest(tx, repo.id, image(second), NOW)
        await tags.upsert_tag(tx, repo.id, "v1", id1, NOW)
        await tags.upsert_tag(tx, repo.id, "latest", id1, NOW)
        # Re-pushing the same manifest keeps the push time; moving the tag updates it.
        await tags.upsert_tag(tx, repo.id, "v1", id1, NOW + timedelta(hours=1))
        await tags.upsert_tag(tx, repo.id, "latest", id2, NOW + timedelta(hours=2))
    assert created and not created_again and again == id1
    reader = catalog.reader
    assert await blobs.select_linked_blob_size(reader, repo.id, LAYER) == 10
    v1 = await tags.select_tag(reader, repo.id, "v1")
    latest = await tags.select_tag(reader, repo.id, "latest")
    assert v1 is not None and v1.pushed_at == NOW and v1.manifest_digest == first
    assert latest is not None and latest.manifest_digest == second
    assert latest.pushed_at == NOW + timedelta(hours=2)
    refs = await manifests.select_blob_refs(reader, id1)
    assert [(pos, digest) for pos, digest, _, _ in refs] == [(-1, CONFIG), (0, LAYER)]
    pulled = await manifests.select_manifest_with_payload(reader, repo.id, tag="v1")
    assert pulled is not None and pulled[1] == image(first).payload


async def test_deleting_a_tag_keeps_other_tags_on_its_manifest(
    catalog: Catalog, factory: Factory
) -> None:
    project = await factory.project("acme/web")
    digest = "sha256:" + "c" * 64
    async with catalog.transaction() as tx:
        repo = await repositories.ensure_repository(tx, project.id, "api", NOW)
        manifest_id, _ = await manifests.insert_manifest(tx, repo.id, _bare(digest), NOW)
        for name in ("a", "b", "c"):
            await tags.upsert_tag(tx, repo.id, name, manifest_id, NOW)
        assert await tags.delete_tag(tx, repo.id, "b", NOW)
        assert not await tags.delete_tag(tx, repo.id, "b", NOW)
    assert await tags.select_tag_names(catalog.reader, repo.id, after=None, limit=-1) == ["a", "c"]
    assert await tags.select_tag_names(catalog.reader, repo.id, after="a", limit=1) == ["c"]
    async with catalog.transaction() as tx:
        await manifests.delete_manifest(tx, manifest_id)
    assert await tags.count_tags(catalog.reader, repo.id) == 0
    assert await manifests.select_manifest(catalog.reader, repo.id, digest) is None


async def test_upload_rows_follow_their_repository(catalog: Catalog, factory: Factory) -> None:
    project = await factory.project("acme/web")
    async with catalog.transaction() as tx:
        repo = await repositories.ensure_repository(tx, project.id, "", NOW)
        await uploads.insert_upload(tx, "u1", repo.id, "sha256", NOW)
        await uploads.update_upload_offset(tx, "u1", 4096, NOW + timedelta(seconds=5))
    found = await uploads.select_upload(catalog.reader, "u1")
    assert found is not None and found.offset_bytes == 4096 and found.started_at == NOW
    async with catalog.transaction() as tx:
        assert await uploads.delete_upload(tx, "u1")
    assert await uploads.select_upload(catalog.reader, "u1") is None


def _bare(digest: str) -> NewManifest:
    """A manifest needing no blobs (an artifact with the empty config left out)."""
    return dataclasses.replace(image(digest), blobs=[], has_config=False)
