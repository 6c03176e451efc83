"""Online garbage collection: what goes, what stays, when, and the race with pushes.

Images are pushed through /v2 as a client would; the clock is moved past grace periods and a
collection is run on the same catalog and data directory the server uses.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from jobs.gc import (
    Collected,
    _unlink_unless_cataloged,
    collect_garbage,
    schedule_collection,
    submit_collection,
)
from registry_service.catalog import garbage
from registry_service.catalog.db import Catalog, fetch_all
from registry_service.clock import SettableClock
from registry_service.digests import parse_digest
from registry_service.keys import storage_key
from registry_service.services.jobs import NO_RUNNER, JobKind
from registry_service.settings import GcSettings, Settings
from registry_service.storage import layout
from registry_service.storage.filesystem import FilesystemBlobStore
from tests import oci_content as oc
from tests.factories import Factory
from tests.jobs.conftest import RunnerHandle
from tests.unit.storage.streams import stream

NAME = "group/app"
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
GRACE = GcSettings()  # 24 h for manifests and blobs


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The runners would otherwise start collections of their own at the default interval.
    return settings.replace("gc", interval_seconds=0)


@pytest.fixture
async def registry(client: TestClient, factory: Factory) -> oc.Registry:
    await factory.project(NAME)
    admin = await factory.user("root-ish", admin=True)
    return oc.Registry(client, oc.basic("root-ish", admin.token))


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[FilesystemBlobStore]:
    opened = FilesystemBlobStore(settings.data_path)
    yield opened
    await opened.aclose()


async def collect(
    catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock, **kwargs: object
) -> Collected:
    return await collect_garbage(catalog, store, GRACE, clock.now(), **kwargs)  # type: ignore[arg-type]


async def manifest_status(registry: oc.Registry, img: oc.Image) -> int:
    response = await registry.call(
        "GET", f"/v2/{NAME}/manifests/{img.digest}", headers={"Accept": img.media_type}
    )
    return response.status


async def pulls_completely(registry: oc.Registry, img: oc.Image) -> bool:
    """The manifest and every blob below it come back with the pushed bytes."""
    for manifest in img.walk():
        response = await registry.call(
            "GET", f"/v2/{NAME}/manifests/{manifest.digest}",
            headers={"Accept": manifest.media_type},
        )
        if response.status != 200 or await response.read() != manifest.manifest:
            return False
    for blob in img.all_blobs():
        response = await registry.call("GET", f"/v2/{NAME}/blobs/{blob.digest}")
        if response.status != 200 or await response.read() != blob.data:
            return False
    return True


def file_exists(settings: Settings, digest: str) -> bool:
    return layout.blob_path(settings.data_path, parse_digest(digest)).exists()


async def blob_row_count(catalog: Catalog) -> int:
    return (await fetch_all(catalog.reader, "SELECT COUNT(*) FROM blobs"))[0][0]


async def test_an_untagged_manifest_and_its_own_blobs_go_once_the_grace_period_has_passed(
    registry: oc.Registry,
    catalog: Catalog,
    store: FilesystemBlobStore,
    clock: SettableClock,
    settings: Settings,
) -> None:
    base = oc.random_blob(2048)
    kept = oc.image(shared_layers=(base,))
    dropped = oc.image(shared_layers=(base,))
    await registry.push_image(NAME, kept, "stable")
    await registry.push_image(NAME, dropped, "edge")
    # "edge" moves to the kept image: the other manifest loses its last tag now.
    clock.advance(HOUR)
    assert (await registry.put_manifest(NAME, kept, "edge")).status == 201

    clock.advance(23 * HOUR)
    assert (await collect(catalog, store, clock)).counts()["manifests"] == 0
    assert await pulls_completely(registry, dropped)

    clock.advance(2 * HOUR)
    done = await collect(catalog, store, clock)

    still_used = {b.digest for b in kept.blobs}  # the base layer, and the identical config
    own = [b for b in dropped.blobs if b.digest not in still_used]
    assert len(own) == 2
    assert (done.manifests, done.blobs) == (1, len(own))
    assert done.bytes_freed == sum(len(b.data) for b in own)
    assert await manifest_status(registry, dropped) == 404
    for blob in own:
        assert (await registry.call("HEAD", f"/v2/{NAME}/blobs/{blob.digest}")).status == 404
        assert not file_exists(settings, blob.digest)
    assert await pulls_completely(registry, kept)
    # Nothing left to do: a second run is a no-op.
    assert (await collect(catalog, store, clock)).counts() == Collected().counts()


async def test_index_children_outlive_their_index_by_a_grace_period_of_their_own(
    registry: oc.Registry, catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock
) -> None:
    multi = oc.index([oc.image(), oc.image(architecture="arm64")])
    await registry.push_image(NAME, multi, "multi")
    clock.advance(3 * DAY)
    # Untagged children are kept while the tagged index lists them.
    assert (await collect(catalog, store, clock)).manifests == 0

    response = await registry.call("DELETE", f"/v2/{NAME}/manifests/multi")
    assert response.status == 202
    clock.advance(DAY + HOUR)
    assert (await collect(catalog, store, clock)).manifests == 1
    assert await manifest_status(registry, multi) == 404
    for child in multi.children:
        assert await manifest_status(registry, child) == 200

    clock.advance(DAY + HOUR)
    assert (await collect(catalog, store, clock)).manifests == 2
    for child in multi.children:
        assert await manifest_status(registry, child) == 404


async def test_a_tagged_child_gets_its_grace_from_losing_its_tag_not_its_index(
    registry: oc.Registry, catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock
) -> None:
    multi = oc.index([oc.image(), oc.image(architecture="arm64")])
    plain, tagged = multi.children
    await registry.push_image(NAME, multi, "multi")
    assert (await registry.put_manifest(NAME, tagged, "arm")).status == 201
    clock.advance(3 * DAY)
    assert (await registry.call("DELETE", f"/v2/{NAME}/manifests/multi")).status == 202
    clock.advance(DAY + HOUR)
    assert (await collect(catalog, store, clock)).manifests == 1  # the index
    clock.advance(HOUR)
    assert (await registry.call("DELETE", f"/v2/{NAME}/manifests/arm")).status == 202

    # A day after the index went (and less than a day after "arm" did): only the child that
    # had no tag goes. Stamped when the index went, the other would go too.
    clock.advance(DAY - 30 * MINUTE)
    assert (await collect(catalog, store, clock)).manifests == 1
    assert await manifest_status(registry, plain) == 404
    assert await manifest_status(registry, tagged) == 200
    clock.advance(HOUR)
    assert (await collect(catalog, store, clock)).manifests == 1
    assert await manifest_status(registry, tagged) == 404


async def test_a_referrer_stays_while_its_subject_is_in_the_repository(
    registry: oc.Registry, catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock
) -> None:
    subject = oc.image()
    sbom = oc.artifact(subject)
    await registry.push_image(NAME, subject, "v1")
    await registry.push_image(NAME, sbom)
    clock.advance(3 * DAY)
    assert (await collect(catalog, store, clock)).manifests == 0
    assert await manifest_status(registry, sbom) == 200

    assert (await registry.call("DELETE", f"/v2/{NAME}/manifests/v1")).status == 202
    clock.advance(DAY + HOUR)
    assert (await collect(catalog, store, clock)).manifests == 1
    assert await manifest_status(registry, subject) == 404
    assert await manifest_status(registry, sbom) == 200
    clock.advance(DAY + HOUR)
    assert (await collect(catalog, store, clock)).manifests == 1
    assert await manifest_status(registry, sbom) == 404


async def test_a_blob_no_manifest_uses_goes_a_grace_period_after_its_last_link(
    registry: oc.Registry,
    catalog: Catalog,
    store: FilesystemBlobStore,
    clock: SettableClock,
    settings: Settings,
) -> None:
    loose = oc.random_blob(4096)
    await registry.push_blob(NAME, loose)
    clock.advance(20 * HOUR)
    # Pushed again (a client retrying): its grace period starts over.
    await registry.push_blob(NAME, loose)
    clock.advance(20 * HOUR)
    assert (await collect(catalog, store, clock)).blobs == 0
    assert file_exists(settings, loose.digest)

    clock.advance(5 * HOUR)
    done = await collect(catalog, store, clock)
    assert (done.blobs, done.blob_bytes) == (1, 4096)
    assert not file_exists(settings, loose.digest)
    assert await blob_row_count(catalog) == 0
    links = await fetch_all(catalog.reader, "SELECT COUNT(*) FROM repository_blobs")
    assert links[0][0] == 0


async def test_a_file_without_a_catalog_row_goes_once_it_is_older_than_the_blob_grace(
    catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock, settings: Settings
) -> None:
    # What a crash between a blob's rename and its row leaves behind.
    old = await store.ingest(stream(b"left by a crash"))
    young = await store.ingest(stream(b"just written"))
    path = layout.blob_path(settings.data_path, old.digest)
    stamp = (clock.now() - 2 * DAY).timestamp()
    os.utime(path, (stamp, stamp))
    os.utime(layout.blob_path(settings.data_path, young.digest), (clock.now().timestamp(),) * 2)

    done = await collect(catalog, store, clock)

    assert (done.orphan_files, done.orphan_bytes) == (1, old.size_bytes)
    assert not path.exists()
    assert file_exists(settings, str(young.digest))


async def test_a_dry_run_counts_exactly_what_the_run_then_deletes_and_changes_nothing(
    registry: oc.Registry,
    catalog: Catalog,
    store: FilesystemBlobStore,
    clock: SettableClock,
    settings: Settings,
) -> None:
    shared = oc.random_blob(1000)
    images = [oc.image(shared_layers=(shared,)) for _ in range(4)]
    for n, img in enumerate(images):
        await registry.push_image(NAME, img, f"t{n}")
    await registry.push_blob(NAME, oc.random_blob(777))
    for n in (0, 1, 2):
        assert (await registry.call("DELETE", f"/v2/{NAME}/manifests/t{n}")).status == 202
    clock.advance(2 * DAY)

    def snapshot() -> list[Path]:
        return sorted(layout.blobs_dir(settings.data_path).rglob("*"))

    files_before = snapshot()
    rows_before = await blob_row_count(catalog)
    preview = await collect(catalog, store, clock, dry_run=True)
    assert snapshot() == files_before
    assert await blob_row_count(catalog) == rows_before

    done = await collect(catalog, store, clock)

    assert preview.counts() == done.counts()
    # Three manifests, their own layers (2 each; the config is the same in all four) and the
    # loose blob.
    assert (done.manifests, done.blobs) == (3, 3 * 2 + 1)
    assert await pulls_completely(registry, images[3])


async def test_gc_never_unlinks_a_file_that_a_push_cataloged_after_the_row_was_deleted(
    registry: oc.Registry,
    catalog: Catalog,
    store: FilesystemBlobStore,
    clock: SettableClock,
    settings: Settings,
) -> None:
    """The interleaving the design exists for: GC deletes the row, a push of the same bytes
    finds the file still there and keeps it, and only then GC gets to the file."""
    layer = oc.random_blob(5000)
    await registry.push_blob(NAME, layer)
    clock.advance(2 * DAY)
    cutoff = clock.now() - DAY
    async with catalog.transaction() as tx:
        deleted = await garbage.delete_garbage_blobs(tx, [layer.digest], cutoff)
    assert [d for d, _ in deleted] == [layer.digest]

    await registry.push_blob(NAME, layer)  # finds the file in place, writes the row
    assert await _unlink_unless_cataloged(catalog, store, [layer.digest]) == []

    img = oc.image(shared_layers=(layer,), layers=0)
    await registry.push_image(NAME, img, "v1")
    assert await pulls_completely(registry, img)


async def test_a_push_after_gc_unlinked_the_file_puts_its_own_copy_in_place(
    registry: oc.Registry,
    catalog: Catalog,
    store: FilesystemBlobStore,
    clock: SettableClock,
    settings: Settings,
) -> None:
    layer = oc.random_blob(5000)
    await registry.push_blob(NAME, layer)
    clock.advance(2 * DAY)
    assert (await collect(catalog, store, clock)).blobs == 1
    assert not file_exists(settings, layer.digest)

    await registry.push_blob_chunked(NAME, layer)

    assert file_exists(settings, layer.digest)
    img = oc.image(shared_layers=(layer,), layers=0)
    await registry.push_image(NAME, img, "v1")
    assert await pulls_completely(registry, img)


async def test_a_manifest_push_is_refused_rather_than_stored_without_its_blobs(
    registry: oc.Registry, catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock
) -> None:
    img = oc.image()
    for blob in img.blobs:
        await registry.push_blob(NAME, blob)
    clock.advance(2 * DAY)
    await collect(catalog, store, clock)

    response = await registry.put_manifest(NAME, img, "late")

    await oc.expect_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    await registry.push_image(NAME, img, "late")  # the client pushes the blobs again
    assert await pulls_completely(registry, img)


async def test_collections_are_scheduled_once_per_interval(
    catalog: Catalog, clock: SettableClock
) -> None:
    hourly = GcSettings(interval_seconds=3600)
    assert await schedule_collection(catalog, NO_RUNNER, GcSettings(interval_seconds=0),
                                     clock.now()) is None
    first = await schedule_collection(catalog, NO_RUNNER, hourly, clock.now())
    assert first is not None
    # Still queued: nothing new, however much time passes.
    clock.advance(2 * HOUR)
    assert await schedule_collection(catalog, NO_RUNNER, hourly, clock.now()) is None
    async with catalog.transaction() as tx:
        await tx.execute("UPDATE jobs SET state = 'done' WHERE id = ?", (first,))
    second = await schedule_collection(catalog, NO_RUNNER, hourly, clock.now())
    assert second is not None and second != first
    async with catalog.transaction() as tx:
        await tx.execute("UPDATE jobs SET state = 'done' WHERE id = ?", (second,))
    clock.advance(30 * timedelta(minutes=1))
    assert await schedule_collection(catalog, NO_RUNNER, hourly, clock.now()) is None
    rows = await fetch_all(catalog.reader, "SELECT kind FROM jobs")
    assert [r[0] for r in rows] == [JobKind.COLLECT_GARBAGE] * 2


async def test_a_collection_runs_as_a_job_under_each_runner(
    runner: RunnerHandle, registry: oc.Registry, catalog: Catalog, clock: SettableClock
) -> None:
    img = oc.image()
    await registry.push_image(NAME, img)  # by digest: never tagged
    clock.advance(2 * DAY)

    job_id = await submit_collection(catalog, runner.queue, clock.now())
    await runner.drain()

    rows = await fetch_all(catalog.reader, "SELECT state, counts FROM jobs WHERE id = ?",
                           (job_id,))
    assert rows[0][0] == "done"
    counts = json.loads(rows[0][1])
    assert counts["manifests"] == 1
    assert counts["blobs"] == len(img.blobs)
    assert counts["bytes_freed"] == sum(len(b.data) for b in img.blobs)
    assert await manifest_status(registry, img) == 404


async def test_a_config_collected_while_the_manifest_push_reads_it_is_manifest_blob_unknown(
    registry: oc.Registry,
    client: TestClient,
    catalog: Catalog,
    store: FilesystemBlobStore,
    clock: SettableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GC removes the config between the push's look at the store and its read of the
    config's bytes: the push must be refused as a client expects, not fail with BLOB_UNKNOWN."""
    # A config no other test pushed: the push path caches config dates by digest.
    img = oc.image(created=f"2026-01-02T03:04:05.{os.getpid() % 1000:03d}{id(clock) % 997:03d}Z")
    for blob in img.blobs:
        await registry.push_blob(NAME, blob)
    clock.advance(2 * DAY)
    config = img.blobs[0]
    app_store = client.app[storage_key].store
    original = app_store.open_range

    async def collected_first(digest: object, *args: object, **kwargs: object) -> object:
        if str(digest) == config.digest:
            async with catalog.transaction() as tx:
                await garbage.delete_garbage_blobs(tx, [config.digest], clock.now() - DAY)
            await _unlink_unless_cataloged(catalog, store, [config.digest])
        return await original(digest, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(app_store, "open_range", collected_first)

    response = await registry.put_manifest(NAME, img, "v1")

    await oc.expect_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
