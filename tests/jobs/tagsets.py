"""Repositories with many tags, written straight into the catalog (the jobs never read image
bytes, so each manifest is a small distinct payload with the dates the planner reads)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.db import Catalog, fetch_all, format_time
from registry_service.catalog.rows import Repository
from tests.factories import Factory


@dataclass(frozen=True)
class SeedTag:
    name: str
    created: datetime | None
    pushed: datetime
    # Tags with the same image key share one manifest.
    image: str | None = None


async def make_repository(
    factory: Factory, project_path: str, name: str = "", *, visibility: str = "private"
) -> Repository:
    project = await factory.project(project_path, visibility=visibility)
    async with factory.catalog.transaction() as tx:
        return await repository_rows.ensure_repository(tx, project.id, name, factory.now)


async def seed_tags(catalog: Catalog, repository: Repository, tags: Sequence[SeedTag]) -> None:
    """One manifest per distinct image (default: per tag), then every tag, in one transaction."""
    images: dict[str, SeedTag] = {}
    for tag in tags:
        images.setdefault(tag.image or tag.name, tag)
    async with catalog.transaction() as tx:
        await tx.executemany(
            "INSERT INTO manifests (repository_id, digest, media_type, payload, size_bytes,"
            " image_created_at, total_size_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    repository.id,
                    "sha256:" + hashlib.sha256(f"{repository.id}/{key}".encode()).hexdigest(),
                    "application/vnd.oci.image.manifest.v1+json",
                    key.encode(),
                    len(key),
                    format_time(tag.created) if tag.created else None,
                    0,
                    format_time(tag.pushed),
                )
                for key, tag in images.items()
            ],
        )
        rows = await fetch_all(
            tx, "SELECT id, payload FROM manifests WHERE repository_id = ?", (repository.id,)
        )
        manifest_id = {bytes(r["payload"]).decode(): r["id"] for r in rows}
        await tx.executemany(
            "INSERT INTO tags (repository_id, name, manifest_id, pushed_at) VALUES (?, ?, ?, ?)",
            [
                (repository.id, t.name, manifest_id[t.image or t.name], format_time(t.pushed))
                for t in tags
            ],
        )


async def tag_names(catalog: Catalog, repository_id: int) -> set[str]:
    rows = await fetch_all(
        catalog.reader, "SELECT name FROM tags WHERE repository_id = ?", (repository_id,)
    )
    return {r[0] for r in rows}
