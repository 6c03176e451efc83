"""Many tags in one repository, written straight into each registry's storage (no push).

``TagSet`` is the repository both registries get: ``count`` tags ``build-000000``… in name
order, created one minute apart (the oldest first, the newest a minute before ``now``), each
tag its own small OCI image manifest. The manifests share one config blob and one layer blob
and differ by their annotations (tag name and creation date), so each has its own digest. The
same manifest bytes go into both registries.

- ``seed_catalog``: registry-service's SQLite catalog, before ``serve`` starts — the
  repository row, one ``manifests`` row per tag (``image_created_at`` = the tag's date, the
  date the cleanup planner ranks by) and one ``tags`` row per tag, in one transaction. The same
  SQL as the test helper ``tests/jobs/tagsets.py``; the cleanup job never reads blob bytes, so
  none are written.
- ``write_distribution_layout``: CNCF distribution 2.8.2's filesystem storage driver layout
  (``docker/registry/v2/…``): the blobs' ``data`` files, the repository's ``_layers`` links,
  and for each tag its ``_manifests/revisions`` link, ``tags/<tag>/current/link`` and
  ``tags/<tag>/index/…/link`` — what a push through the API leaves behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.db import Catalog, fetch_all, fetch_one, format_time

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_BYTES = json.dumps(
    {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]},
    },
    sort_keys=True,
).encode()
LAYER_BYTES = b"\x1f\x8b" + b"\x00" * 1022  # any bytes do: nothing here unpacks the layer


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SeedTag:
    name: str
    created: datetime
    manifest: bytes
    digest: str


@dataclass(frozen=True)
class TagSet:
    count: int
    now: datetime

    def name(self, i: int) -> str:
        return f"build-{i:06d}"

    def created(self, i: int) -> datetime:
        """Tag ``i`` (0 = oldest) was built ``count - i`` minutes before ``now``."""
        return self.now - timedelta(minutes=self.count - i)

    def names(self) -> list[str]:
        return [self.name(i) for i in range(self.count)]

    def tags(self) -> Iterator[SeedTag]:
        config = {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": sha256_digest(CONFIG_BYTES),
            "size": len(CONFIG_BYTES),
        }
        layer = {
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": sha256_digest(LAYER_BYTES),
            "size": len(LAYER_BYTES),
        }
        for i in range(self.count):
            name, created = self.name(i), self.created(i)
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": MANIFEST_MEDIA_TYPE,
                    "config": config,
                    "layers": [layer],
                    "annotations": {
                        "org.opencontainers.image.created": created.isoformat(),
                        "org.opencontainers.image.version": name,
                    },
                },
                separators=(",", ":"),
            ).encode()
            yield SeedTag(name, created, manifest, sha256_digest(manifest))


@dataclass(frozen=True)
class SeededRepository:
    project_id: int
    repository_id: int


async def seed_catalog(data_dir: Path, project_path: str, tag_set: TagSet) -> SeededRepository:
    """The project's root repository (image path = the project path) with every tag of
    ``tag_set``; the project must exist. Opens and closes the catalog itself."""
    catalog = await Catalog.open_in(data_dir)
    try:
        row = await fetch_one(
            catalog.reader, "SELECT id FROM projects WHERE full_path = ?", (project_path,)
        )
        if row is None:
            raise LookupError(f"project {project_path} not in the catalog")
        project_id = int(row[0])
        pushed = format_time(tag_set.now)
        tags = list(tag_set.tags())
        async with catalog.transaction() as tx:
            repository = await repository_rows.ensure_repository(tx, project_id, "", tag_set.now)
            await tx.executemany(
                "INSERT INTO manifests (repository_id, digest, media_type, payload, size_bytes,"
                " config_digest, config_media_type, image_created_at, total_size_bytes,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        repository.id,
                        t.digest,
                        MANIFEST_MEDIA_TYPE,
                        t.manifest,
                        len(t.manifest),
                        sha256_digest(CONFIG_BYTES),
                        CONFIG_MEDIA_TYPE,
                        format_time(t.created),
                        len(LAYER_BYTES),
                        pushed,
                    )
                    for t in tags
                ],
            )
            rows = await fetch_all(
                tx, "SELECT id, digest FROM manifests WHERE repository_id = ?", (repository.id,)
            )
            manifest_id = {r[1]: r[0] for r in rows}
            await tx.executemany(
                "INSERT INTO tags (repository_id, name, manifest_id, pushed_at)"
                " VALUES (?, ?, ?, ?)",
                [(repository.id, t.name, manifest_id[t.digest], pushed) for t in tags],
            )
        return SeededRepository(project_id, repository.id)
    finally:
        await catalog.close()


def seed_catalog_sync(data_dir: Path, project_path: str, tag_set: TagSet) -> SeededRepository:
    return asyncio.run(seed_catalog(data_dir, project_path, tag_set))


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _blob_dir(v2: str, digest: str) -> str:
    hex_ = digest.removeprefix("sha256:")
    return f"{v2}/blobs/sha256/{hex_[:2]}/{hex_}"


def _write_tag(v2: str, repo_dir: str, tag: SeedTag) -> None:
    # Plain os calls on str paths, parents created once up front: creating ~11 inodes per tag
    # is the whole cost, and pathlib's mkdir(parents=True) would add failed calls to each.
    hex_ = tag.digest.removeprefix("sha256:")
    link = tag.digest.encode()
    blob = _blob_dir(v2, tag.digest)
    os.mkdir(blob)
    _write(f"{blob}/data", tag.manifest)
    revision = f"{repo_dir}/_manifests/revisions/sha256/{hex_}"
    os.mkdir(revision)
    _write(f"{revision}/link", link)
    tag_dir = f"{repo_dir}/_manifests/tags/{tag.name}"
    os.mkdir(tag_dir)
    os.mkdir(f"{tag_dir}/current")
    _write(f"{tag_dir}/current/link", link)
    os.makedirs(f"{tag_dir}/index/sha256/{hex_}")
    _write(f"{tag_dir}/index/sha256/{hex_}/link", link)


def write_distribution_layout(root: Path, repo: str, tag_set: TagSet, threads: int = 4) -> None:
    """Write ``tag_set`` into distribution's filesystem storage under ``root`` (the driver's
    ``rootdirectory``) as repository ``repo``, then ``sync``. Several threads: the cost is
    inode creation in the kernel, which releases the GIL."""
    v2 = f"{root}/docker/registry/v2"
    repo_dir = f"{v2}/repositories/{repo}"
    for sub in ("_manifests/revisions/sha256", "_manifests/tags", "_layers/sha256"):
        os.makedirs(f"{repo_dir}/{sub}", exist_ok=True)
    for i in range(256):
        os.makedirs(f"{v2}/blobs/sha256/{i:02x}", exist_ok=True)
    for blob in (CONFIG_BYTES, LAYER_BYTES):
        digest = sha256_digest(blob)
        os.makedirs(_blob_dir(v2, digest), exist_ok=True)
        _write(f"{_blob_dir(v2, digest)}/data", blob)
        layer_link = f"{repo_dir}/_layers/sha256/{digest.removeprefix('sha256:')}"
        os.makedirs(layer_link, exist_ok=True)
        _write(f"{layer_link}/link", digest.encode())
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda t: _write_tag(v2, repo_dir, t), tag_set.tags(), chunksize=256):
            pass
    os.sync()


def default_now() -> datetime:
    """Whole seconds, so the dates print cleanly."""
    return datetime.now(UTC).replace(microsecond=0)
