"""What a deletion in progress must not let in, and the one place protection rules will refuse
a repository's deletion (``services.deletion.ensure_repositories_deletable``)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.db import Catalog, fetch_all
from registry_service.clock import SettableClock
from registry_service.errors import Forbidden, NameUnknown
from registry_service.services import deletion, images, tokens
from registry_service.services.images import Action
from tests.api.gitlab.conftest import make_repo
from tests.api.management.conftest import API, expect
from tests.factories import Factory, UserWithToken


async def mark(client: TestClient, root: UserWithToken, factory: Factory, path: str) -> None:
    """Start deleting ``path``'s project, which keeps a repository (no runner finishes it)."""
    project = await factory.project(path)
    await make_repo(factory, project)
    await expect(await client.delete(f"{API}/projects/{project.id}", headers=root.headers), 202)


async def test_an_administrators_push_does_not_recreate_a_project_being_deleted(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken,
) -> None:
    await mark(client, root, factory, "acme/web")
    admin = await tokens.authenticate(catalog, root.token, clock.now())
    with pytest.raises(NameUnknown, match="is being deleted"):
        await images.resolve(catalog, admin, "acme/web/app", Action.PUSH, auto_create=True,
                             now=clock.now())


async def test_no_project_is_created_in_a_namespace_being_deleted(
    client: TestClient, factory: Factory, catalog: Catalog, clock: SettableClock,
    root: UserWithToken,
) -> None:
    group = await factory.group("team")
    project = await factory.project("team/web")
    await make_repo(factory, project)
    await expect(await client.delete(f"{API}/groups/{group.id}", headers=root.headers), 202)

    resp = await client.post(f"{API}/projects", json={"name": "new", "namespace_id": group.id},
                             headers=root.headers)
    await expect(resp, 400, {"message": {"namespace": ["is not valid"]}})
    admin = await tokens.authenticate(catalog, root.token, clock.now())
    with pytest.raises(NameUnknown, match="is being deleted"):
        await images.resolve(catalog, admin, "team/other", Action.PUSH, auto_create=True,
                             now=clock.now())


@pytest.mark.parametrize("what", ["repository", "project", "group"])
async def test_a_refusing_rule_stops_every_repository_deletion_before_anything_changes(
    client: TestClient, factory: Factory, catalog: Catalog, root: UserWithToken,
    monkeypatch: pytest.MonkeyPatch, what: str,
) -> None:
    async def refuse(db: Any, actor: Any, repository_ids: list[int]) -> None:
        raise Forbidden(f"repositories {repository_ids} are protected")

    monkeypatch.setattr(deletion, "ensure_repositories_deletable", refuse)
    group = await factory.group("acme")
    project = await factory.project("acme/web")
    repo = await make_repo(factory, project)
    url = {
        "repository": f"{API}/projects/{project.id}/registry/repositories/{repo.id}",
        "project": f"{API}/projects/{project.id}",
        "group": f"{API}/groups/{group.id}",
    }[what]

    await expect(await client.delete(url, headers=root.headers), 403,
                 {"message": f"403 Forbidden - repositories [{repo.id}] are protected"})

    assert await fetch_all(catalog.reader, "SELECT id FROM jobs") == []
    rows = await fetch_all(catalog.reader, "SELECT status FROM repositories")
    assert [r[0] for r in rows] == [None]
    await expect(await client.get(f"{API}/projects/{project.id}", headers=root.headers), 200)
