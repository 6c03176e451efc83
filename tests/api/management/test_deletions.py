"""DELETE /projects/:id, /groups/:id and /users/:id: 202 (204 for users) at once, the
container repositories through the repository-deletion jobs, the rows once the last job is
done. The marks and the job intents are committed together, so nothing waits on a runner
that may crash: a fresh runner finishes from the catalog alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from jobs.context import JobContext
from jobs.runner import InProcessRunner
from registry_service.app import create_app
from registry_service.catalog.db import Catalog, fetch_all
from registry_service.clock import SettableClock
from registry_service.services.blobs import Storage
from registry_service.services.jobs import NO_RUNNER
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.api.gitlab.conftest import add_tags, make_repo
from tests.api.management.conftest import API, expect
from tests.factories import Factory, UserWithToken
from tests.oci_content import basic

ACCEPTED = {"message": "202 Accepted"}


@dataclass
class Setup:
    client: TestClient
    runner: InProcessRunner


@pytest.fixture
async def setup(
    aiohttp_client: Any, catalog: Catalog, clock: SettableClock, settings: Settings
) -> AsyncIterator[Setup]:
    """An app whose jobs wait in the catalog (as after a crash) until the test runs them."""
    store = FilesystemBlobStore(settings.data_path)
    storage = Storage.on(store)
    runner = InProcessRunner(JobContext(catalog, storage, clock, settings))
    client = await aiohttp_client(
        create_app(settings, catalog=catalog, clock=clock, storage=storage, queue=NO_RUNNER)
    )
    yield Setup(client, runner)
    await store.aclose()


async def ids(catalog: Catalog, table: str) -> list[int]:
    return [r[0] for r in await fetch_all(catalog.reader, f"SELECT id FROM {table} ORDER BY id")]


async def open_jobs(catalog: Catalog) -> list[tuple[str, int]]:
    rows = await fetch_all(catalog.reader, "SELECT kind, repository_id FROM jobs"
                           " WHERE state = 'queued' ORDER BY id")
    return [(r[0], r[1]) for r in rows]


async def test_project_deletion_goes_through_repository_jobs(
    setup: Setup, factory: Factory, catalog: Catalog, clock: SettableClock, root: UserWithToken
) -> None:
    client = setup.client
    project = await factory.project("acme/web", visibility="public")
    kept = await factory.project("acme/db")
    web = await make_repo(factory, project)
    api = await make_repo(factory, project, "api")
    other = await make_repo(factory, kept)
    await add_tags(catalog, web, ["latest", "v1"], clock)
    await add_tags(catalog, other, ["v1"], clock)

    await expect(await client.delete(f"{API}/projects/{project.id}", headers=root.headers),
                 202, ACCEPTED)

    # Committed before any runner ran: the mark and one intent per repository.
    assert await open_jobs(catalog) == [("delete_repository", web.id),
                                        ("delete_repository", api.id)]
    # Gone for every lookup at once, /v2 included; its repositories wait for their jobs.
    await expect(await client.get(f"{API}/projects/{project.id}", headers=root.headers), 404,
                 {"message": "404 Project Not Found"})
    assert project.id not in [p["id"] for p in await expect(
        await client.get(f"{API}/projects", headers=root.headers), 200)]
    pull = await client.get("/v2/acme/web/tags/list", headers=basic("root", root.token))
    assert pull.status == 404
    assert await ids(catalog, "repositories") == [web.id, api.id, other.id]

    await setup.runner.run_until_idle()

    assert await ids(catalog, "projects") == [kept.id]
    assert await ids(catalog, "repositories") == [other.id]
    await expect(await client.get(f"{API}/projects/{kept.id}", headers=root.headers), 200)


async def test_a_project_without_repositories_goes_at_once(
    setup: Setup, factory: Factory, catalog: Catalog, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    await expect(await setup.client.delete(f"{API}/projects/{project.id}", headers=root.headers),
                 202, ACCEPTED)
    assert project.id not in await ids(catalog, "projects")
    assert await open_jobs(catalog) == []


async def test_asking_again_after_a_failed_repository_deletion_schedules_it_again(
    setup: Setup, factory: Factory, catalog: Catalog, root: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    repo = await make_repo(factory, project)
    await setup.client.delete(f"{API}/projects/{project.id}", headers=root.headers)
    async with catalog.transaction() as tx:
        await tx.execute("UPDATE jobs SET state = 'failed'")
        await tx.execute("UPDATE repositories SET status = 'delete_failed'")

    await expect(await setup.client.delete(f"{API}/projects/{project.id}",
                                           headers=root.headers), 202, ACCEPTED)

    assert await open_jobs(catalog) == [("delete_repository", repo.id)]
    await setup.runner.run_until_idle()
    assert await ids(catalog, "projects") == []


@pytest.mark.parametrize(("level", "status"), [(40, 403), (50, 202)])
async def test_deleting_a_project_takes_an_owner(
    setup: Setup, factory: Factory, catalog: Catalog, level: int, status: int
) -> None:
    project = await factory.project("acme/web")
    person = await factory.user("person")
    await factory.member(person.user, level, project=project)
    resp = await setup.client.delete(f"{API}/projects/{project.id}", headers=person.headers)
    await expect(resp, status, ACCEPTED if status == 202 else {"message": "403 Forbidden"})
    assert (project.id in await ids(catalog, "projects")) is (status == 403)


async def test_deleting_without_a_token_or_a_hidden_project(
    setup: Setup, factory: Factory, alice: UserWithToken
) -> None:
    project = await factory.project("acme/web")
    await expect(await setup.client.delete(f"{API}/projects/{project.id}"), 401)
    await expect(await setup.client.delete(f"{API}/projects/{project.id}",
                                           headers=alice.headers), 404)
    hidden = await factory.group("hidden")
    await expect(await setup.client.delete(f"{API}/groups/{hidden.id}", headers=alice.headers),
                 404, {"message": "404 Group Not Found"})
    # A public group is visible: not being its Owner is 403.
    await expect(await setup.client.delete(f"{API}/groups/acme", headers=alice.headers),
                 403, {"message": "403 Forbidden"})


async def test_group_deletion_takes_subgroups_and_their_projects(
    setup: Setup, factory: Factory, catalog: Catalog, clock: SettableClock, root: UserWithToken
) -> None:
    top = await factory.group("acme")
    await factory.group("acme/platform")
    deep = await factory.project("acme/platform/web")
    shallow = await factory.project("acme/db")
    elsewhere = await factory.project("other/app")
    repo = await make_repo(factory, deep)
    await add_tags(catalog, repo, ["v1"], clock)
    owner = await factory.user("owner")
    await factory.member(owner.user, 50, group=top)
    maintainer = await factory.user("maint")
    await factory.member(maintainer.user, 40, group=top)

    await expect(await setup.client.delete(f"{API}/groups/{top.id}", headers=maintainer.headers),
                 403)
    await expect(await setup.client.delete(f"{API}/groups/acme", headers=owner.headers),
                 202, ACCEPTED)

    # The repository-less project went at once; the groups wait for the last repository.
    assert await ids(catalog, "projects") == [deep.id, elsewhere.id]
    await expect(await setup.client.get(f"{API}/groups/{top.id}", headers=root.headers), 404)
    listed = await setup.client.get(f"{API}/groups", headers=root.headers)
    assert [g["full_path"] for g in await expect(listed, 200)] == ["other"]
    await setup.runner.run_until_idle()
    assert await ids(catalog, "projects") == [elsewhere.id]
    paths = await fetch_all(catalog.reader, "SELECT full_path FROM namespaces"
                            " WHERE kind = 'group' ORDER BY id")
    assert [p[0] for p in paths] == ["other"]
    assert shallow.id not in await ids(catalog, "projects")


async def test_user_deletion_takes_tokens_memberships_and_personal_projects(
    setup: Setup, factory: Factory, catalog: Catalog, clock: SettableClock, root: UserWithToken,
    alice: UserWithToken,
) -> None:
    personal = await factory.project("alice/sandbox")
    repo = await make_repo(factory, personal)
    await add_tags(catalog, repo, ["v1"], clock)
    shared = await factory.project("acme/web")
    await factory.member(alice.user, 30, project=shared)

    await expect(await setup.client.delete(f"{API}/users/{alice.user.id}",
                                           headers=alice.headers), 403)
    resp = await setup.client.delete(f"{API}/users/{alice.user.id}", headers=root.headers)
    assert resp.status == 204

    await expect(await setup.client.get(f"{API}/user", headers=alice.headers), 401)
    listed = await setup.client.get(f"{API}/users", headers=root.headers)
    assert [u["username"] for u in await expect(listed, 200)] == ["root"]
    await expect(await setup.client.get(f"{API}/projects/{shared.id}/members",
                                        headers=root.headers), 200, [])
    await expect(await setup.client.delete(f"{API}/users/{alice.user.id}",
                                           headers=root.headers), 404,
                 {"message": "404 User Not Found"})
    await expect(await setup.client.get(f"{API}/users/{alice.user.id}", headers=root.headers),
                 404, {"message": "404 User Not Found"})
    assert alice.user.id in await ids(catalog, "users")  # until its repository is gone

    await setup.runner.run_until_idle()

    assert await ids(catalog, "users") == [root.user.id]
    assert await ids(catalog, "projects") == [shared.id]


async def test_a_groups_only_owner_is_kept_unless_hard_delete(
    setup: Setup, factory: Factory, catalog: Catalog, root: UserWithToken, alice: UserWithToken
) -> None:
    solo = await factory.group("solo")
    shared = await factory.group("shared")
    await factory.project("solo/app")
    await factory.member(alice.user, 50, group=solo)
    await factory.member(alice.user, 50, group=shared)
    await factory.member(root.user, 50, group=shared)

    await expect(await setup.client.delete(f"{API}/users/{alice.user.id}", headers=root.headers),
                 409, {"message": "User cannot be removed while is the sole-owner of a group"})
    resp = await setup.client.delete(f"{API}/users/{alice.user.id}",
                                     params={"hard_delete": "true"}, headers=root.headers)
    assert resp.status == 204

    assert alice.user.id not in await ids(catalog, "users")
    paths = await fetch_all(catalog.reader, "SELECT full_path FROM namespaces ORDER BY id")
    assert [p[0] for p in paths] == ["root", "shared"]
