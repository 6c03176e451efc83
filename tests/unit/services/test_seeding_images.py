"""Seeding ``[[images]]`` (services/seeding.py, image_seeding.py) against a real catalog and blob
store: the rows a push would leave, the blob files, dates, idempotency, and all-or-nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.db import Catalog, parse_time
from registry_service.clock import SettableClock
from registry_service.digests import parse_digest
from registry_service.services import blobs as blob_service
from registry_service.services import manifests as manifest_service
from registry_service.services.blobs import Storage
from registry_service.services.image_seeding import SMALL_LAYER_BYTES
from registry_service.services.seeding import SeedInvalid, apply_seed
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from registry_service.storage.layout import blob_path

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
REGISTRY_TABLES = (
    "repositories", "blobs", "repository_blobs", "manifests", "manifest_blobs",
    "manifest_children", "tags",
)
ACCOUNTS: dict[str, Any] = {
    "users": [
        {"username": "alice", "tokens": [{"name": "ci", "value": "glpat-alice-seed-token-0001"}]}
    ],
    "groups": [{"path": "acme"}],
    "projects": [{"path": "acme/web"}],
}


def seed(*images: dict[str, Any]) -> dict[str, Any]:
    return {**ACCOUNTS, "images": list(images)}


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[FilesystemBlobStore]:
    opened = FilesystemBlobStore(settings.data_path)
    yield opened
    await opened.aclose()


async def dump(
    catalog: Catalog, tables: tuple[str, ...] = REGISTRY_TABLES
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables``, in one order whatever the backend (some tables have no id)."""
    return {
        t: sorted((tuple(r) for r in await rows(catalog, f"SELECT * FROM {t}")), key=repr)
        for t in tables
    }


async def rows(catalog: Catalog, sql: str, *params: Any) -> list[Any]:
    return list(await catalog.reader.execute_fetchall(sql, params))


def blob_files(root: Path) -> set[Path]:
    return {p for p in (root / "blobs").rglob("*") if p.is_file()}


def stored(root: Path, digest: str) -> bytes:
    return blob_path(root, parse_digest(digest)).read_bytes()


async def test_an_image_is_recorded_as_a_push_of_the_same_bytes_records_it(
    catalog: Catalog, store: FilesystemBlobStore, settings: Settings, clock: SettableClock
) -> None:
    now = clock.now()
    report = await apply_seed(
        catalog,
        seed({"repository": "acme/web/seeded", "tags": ["v1", "latest"], "layers": 3,
              "layer_size": "3KiB", "created": CREATED}),
        now,
        store=store,
    )
    assert report.created == {
        "users": 1, "tokens": 1, "groups": 1, "projects": 1, "members": 0,
        "repositories": 1, "manifests": 1, "tags": 2, "blobs": 4,
    }
    (seeded,) = await rows(catalog, "SELECT * FROM manifests")
    payload = bytes(seeded["payload"])
    document = json.loads(payload)
    descriptors = [document["config"], *document["layers"]]

    # Push the very same bytes through the /v2 services into a sibling repository.
    project_id = (await rows(catalog, "SELECT id FROM projects WHERE full_path = 'acme/web'"))[0][0]
    async with catalog.transaction() as tx:
        pushed_repo = await repository_rows.ensure_repository(tx, project_id, "pushed", now)
    storage = Storage.on(store)
    for descriptor in descriptors:
        data = stored(settings.data_path, descriptor["digest"])

        async def body(data: bytes = data) -> AsyncIterator[bytes]:
            yield data

        await blob_service.ingest_blob(
            catalog, storage, pushed_repo, body(), parse_digest(descriptor["digest"]), now
        )
    await manifest_service.push_manifest(
        catalog, storage, pushed_repo, "v1", payload, document["mediaType"], ["latest"], now
    )

    (pushed,) = await rows(
        catalog, "SELECT * FROM manifests WHERE repository_id = ?", pushed_repo.id
    )
    ignore = {"id", "repository_id"}
    # (sqlite3.Row iterates over its values: .keys() is needed.)
    assert {k: seeded[k] for k in seeded.keys() if k not in ignore} == {  # noqa: SIM118
        k: pushed[k] for k in pushed.keys() if k not in ignore  # noqa: SIM118
    }
    assert parse_time(seeded["image_created_at"]) == CREATED
    assert seeded["total_size_bytes"] == 3 * 3072
    refs = (
        "SELECT position, digest, size_bytes, media_type FROM manifest_blobs"
        " WHERE manifest_id = ? ORDER BY position"
    )
    assert [tuple(r) for r in await rows(catalog, refs, seeded["id"])] == [
        tuple(r) for r in await rows(catalog, refs, pushed["id"])
    ]
    assert [r[1] for r in await rows(catalog, refs, seeded["id"])] == [
        d["digest"] for d in descriptors
    ]
    tags = "SELECT name, pushed_at FROM tags WHERE repository_id = ? ORDER BY name"
    assert [tuple(r) for r in await rows(catalog, tags, seeded["repository_id"])] == [
        tuple(r) for r in await rows(catalog, tags, pushed_repo.id)
    ]
    links = "SELECT digest FROM repository_blobs WHERE repository_id = ? ORDER BY digest"
    assert [tuple(r) for r in await rows(catalog, links, seeded["repository_id"])] == [
        tuple(r) for r in await rows(catalog, links, pushed_repo.id)
    ]
    for descriptor in descriptors:
        data = stored(settings.data_path, descriptor["digest"])
        assert len(data) == descriptor["size"]
        assert f"sha256:{hashlib.sha256(data).hexdigest()}" == descriptor["digest"]


async def test_a_multi_arch_index_records_its_children_platforms_and_newest_date(
    catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock
) -> None:
    await apply_seed(
        catalog,
        seed({"repository": "acme/web", "tags": ["v2"], "layers": 2, "created": CREATED,
              "platforms": ["linux/amd64", "linux/arm/v7"], "format": "docker"}),
        clock.now(),
        store=store,
    )

    manifests = {r["media_type"]: r for r in await rows(catalog, "SELECT * FROM manifests")}
    assert set(manifests) == {
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
    index = manifests["application/vnd.docker.distribution.manifest.list.v2+json"]
    children = await rows(
        catalog, "SELECT child_digest, platform FROM manifest_children WHERE parent_id = ?"
        " ORDER BY position", index["id"],
    )
    assert [json.loads(c["platform"]) for c in children] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm", "os": "linux", "variant": "v7"},
    ]
    images = await rows(catalog, "SELECT * FROM manifests WHERE digest IN (?, ?)",
                  *(c["child_digest"] for c in children))
    assert len(images) == 2
    assert parse_time(index["image_created_at"]) == CREATED
    assert index["total_size_bytes"] == sum(i["total_size_bytes"] for i in images) == 4 * 4096
    # Each platform has its own layers.
    layers = await rows(catalog, "SELECT DISTINCT digest FROM manifest_blobs WHERE position >= 0")
    assert len(layers) == 4
    (tag,) = await rows(catalog, "SELECT manifest_id FROM tags WHERE name = 'v2'")
    assert tag[0] == index["id"]


async def test_created_every_gives_each_tag_its_own_image_an_interval_older(
    catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock, settings: Settings
) -> None:
    report = await apply_seed(
        catalog,
        seed({"repository": "acme/web/builds", "tag_pattern": "build-{n:03}", "count": 50,
              "layers": 2, "created": CREATED, "created_every": "1h"}),
        clock.now(),
        store=store,
    )

    assert report.created["manifests"] == report.created["tags"] == 50
    # 50 configs, and 2 layers shared by every image.
    assert report.created["blobs"] == 52
    dated = await rows(
        catalog, "SELECT t.name, m.image_created_at FROM tags t"
        " JOIN manifests m ON m.id = t.manifest_id ORDER BY t.name",
    )
    assert [(r[0], parse_time(r[1])) for r in dated] == [
        (f"build-{n:03}", CREATED - timedelta(hours=50 - n)) for n in range(1, 51)
    ]
    for (config,) in await rows(catalog, "SELECT config_digest FROM manifests"):
        created = json.loads(stored(settings.data_path, config))["created"]
        assert created.endswith(":00:00Z")


async def test_loading_twice_changes_nothing(
    catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock, settings: Settings
) -> None:
    data = seed(
        {"repository": "acme/web", "tags": ["v1", "latest"], "created": CREATED},
        {"repository": "acme/web/multi", "tags": ["v1"], "platforms": ["linux/amd64",
                                                                      "linux/arm64"]},
        {"repository": "acme/web/builds", "tag_pattern": "b{n}", "count": 20,
         "created": CREATED, "created_every": "1d", "tags_per_image": 4},
    )
    await apply_seed(catalog, data, clock.now(), store=store)
    before, files = await dump(catalog), blob_files(settings.data_path)

    again = await apply_seed(catalog, data, clock.now() + timedelta(days=1), store=store)

    assert not again.changed, again.summary()
    assert await dump(catalog) == before
    assert blob_files(settings.data_path) == files


async def test_a_changed_image_moves_its_tag(
    catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock
) -> None:
    entry = {"repository": "acme/web", "tags": ["v1", "stable"], "created": CREATED}
    await apply_seed(catalog, seed(entry), clock.now(), store=store)

    report = await apply_seed(
        catalog, seed({**entry, "tags": ["v1"], "created": CREATED + timedelta(days=1)}),
        clock.now(), store=store,
    )

    assert report.created["tags"] == 1 and report.created["manifests"] == 1
    tagged = await rows(
        catalog, "SELECT t.name, m.image_created_at FROM tags t"
        " JOIN manifests m ON m.id = t.manifest_id ORDER BY t.name",
    )
    assert [(r[0], parse_time(r[1])) for r in tagged] == [
        ("stable", CREATED), ("v1", CREATED + timedelta(days=1))
    ]


async def test_a_large_layer_is_streamed_into_the_store(
    catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock, settings: Settings
) -> None:
    size = SMALL_LAYER_BYTES + 70_001
    await apply_seed(
        catalog, seed({"repository": "acme/web", "tags": ["big"], "layer_size": size}),
        clock.now(), store=store,
    )

    ((digest, stored_size),) = await rows(
        catalog, "SELECT digest, size_bytes FROM manifest_blobs WHERE position = 0"
    )
    data = stored(settings.data_path, digest)
    assert stored_size == len(data) == size
    assert digest == f"sha256:{hashlib.sha256(data).hexdigest()}"
    assert not list((settings.data_path / "tmp").iterdir())


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ({"repository": "nowhere/app", "tags": ["v1"]},
         "images[1] (nowhere/app): no project owns image path 'nowhere/app'"),
        ({"repository": "acme/web", "tags": ["v1"], "layer_size": "4 KB-ish"},
         "images[1] (acme/web): size '4 KB-ish' is not a number of bytes"),
        ({"repository": "acme/web", "tags": ["v1"], "platforms": ["linux/amd64", "linux/x86"]},
         "images[1] (acme/web): platform 'linux/x86': unknown architecture 'x86'"),
        ({"repository": "acme/web", "tags": ["latest"], "created": CREATED},
         "images[1] (acme/web): tag 'latest' is already given to another image by images[0]"),
    ],
    ids=["unknown-project", "bad-size", "bad-platform", "tag-twice"],
)
async def test_a_bad_images_entry_names_itself_and_changes_nothing(
    catalog: Catalog, store: FilesystemBlobStore, clock: SettableClock,
    image: dict[str, Any], message: str,
) -> None:
    before = await dump(catalog, ("users", "namespaces", "projects", *REGISTRY_TABLES))
    data = seed({"repository": "acme/web", "tags": ["latest"]}, image)

    with pytest.raises(SeedInvalid) as raised:
        await apply_seed(catalog, data, clock.now(), store=store)

    assert message in str(raised.value)
    assert await dump(catalog, ("users", "namespaces", "projects", *REGISTRY_TABLES)) == before


async def test_images_without_a_store_are_refused(catalog: Catalog, clock: SettableClock) -> None:
    with pytest.raises(SeedInvalid, match="blob store"):
        await apply_seed(catalog, seed({"repository": "acme/web", "tags": ["v1"]}), clock.now())
