"""Fixtures for the container registry endpoints: projects with repositories and tags written
straight into the catalog, real images pushed through /v2, and the job rows an API call left."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.db import Catalog, fetch_all
from registry_service.catalog.rows import Project, Repository
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from tests.factories import Factory, UserWithToken
from tests.jobs.tagsets import SeedTag, seed_tags
from tests.oci_content import Image, Registry, basic

REGISTRY_HOST = "registry.test:5000"
API = "/api/v4"


@dataclass(frozen=True)
class Repo:
    project: Project
    repository: Repository

    @property
    def id(self) -> int:
        return self.repository.id

    @property
    def url(self) -> str:
        return f"{API}/projects/{self.project.id}/registry/repositories/{self.repository.id}"


async def make_repo(factory: Factory, project: Project, name: str = "") -> Repo:
    async with factory.catalog.transaction() as tx:
        repository = await repository_rows.ensure_repository(tx, project.id, name, factory.now)
    return Repo(project, repository)


async def add_tags(
    catalog: Catalog, repo: Repo, names: Sequence[str], clock: SettableClock, **shared: str
) -> None:
    """Tags with distinct manifests created an hour apart (the first is the oldest);
    ``shared`` maps a tag name to an image key so several tags share one manifest."""
    now = clock.now()
    count = len(names)
    await seed_tags(
        catalog,
        repo.repository,
        [
            SeedTag(name, now - timedelta(hours=count - i), now, image=shared.get(name))
            for i, name in enumerate(names)
        ],
    )


async def jobs_of(catalog: Catalog, kind: str | None = None) -> list[dict[str, Any]]:
    rows = await fetch_all(catalog.reader, "SELECT * FROM jobs ORDER BY id")
    found = [dict(r) for r in rows if kind is None or r["kind"] == kind]
    for job in found:
        job["params"] = json.loads(job["params"])
    return found


async def member(
    factory: Factory, project: Project, level: AccessLevel, **user: Any
) -> UserWithToken:
    person = await factory.user(**user)
    await factory.member(person.user, level, project=project)
    return person


async def push(
    client: TestClient, factory: Factory, path: str, img: Image, *tags: str
) -> None:
    """Push ``img`` through /v2 as an administrator, under each tag (by digest if none)."""
    pusher = await factory.user(admin=True)
    registry = Registry(client, basic(pusher.user.username, pusher.token))
    if not tags:
        await registry.push_image(path, img)
    for tag in tags:
        await registry.push_image(path, img, tag)


@pytest.fixture
async def root(factory: Factory) -> UserWithToken:
    return await factory.user("root", admin=True)
