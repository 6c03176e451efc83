"""What the manifest pull's one-statement lookup (``catalog/pulls.py``) must still decide as the
lookups in turn did: the repository below a project named by the rest of the image path, a
level inherited from a group, a project marked for deletion or a repository being deleted as
absent, and a credential's state read afresh on every request (nothing cached)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from registry_service.catalog import users as user_rows
from registry_service.catalog.db import format_time
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Project
from registry_service.services import deploy_tokens, tokens
from registry_service.services.permissions import AccessLevel
from tests import oci_content as oc
from tests.factories import Factory

PROJECT = "group/app"
IMAGE = "group/app/web"


async def pushed_below_project(
    client: TestClient, factory: Factory
) -> tuple[Project, oc.Image, dict[str, str]]:
    """``IMAGE`` pushed by a group Developer into project ``PROJECT`` (repository ``web``), and
    the Basic credentials of a Reporter of the group (the project has no member of its own)."""
    project = await factory.project(PROJECT)
    group = await factory.group("group")
    developer = await factory.user("developer")
    await factory.member(developer.user, AccessLevel.DEVELOPER, group=group)
    reporter = await factory.user("reporter")
    await factory.member(reporter.user, AccessLevel.REPORTER, group=group)
    img = oc.image(layers=1)
    await oc.Registry(client, oc.basic("developer", developer.token)).push_image(IMAGE, img, "v1")
    return project, img, oc.basic("reporter", reporter.token)


async def test_a_group_reporter_pulls_a_repository_below_the_project(
    client: TestClient, factory: Factory
) -> None:
    _, img, reporter = await pushed_below_project(client, factory)
    registry = oc.Registry(client, reporter)
    for reference in ("v1", img.digest):
        response = await registry.call("GET", f"/v2/{IMAGE}/manifests/{reference}")
        assert response.status == 200, await response.text()
        assert await response.read() == img.manifest
    # The project's own root image was never pushed.
    response = await registry.call("GET", f"/v2/{PROJECT}/manifests/v1")
    await oc.expect_error(response, 404, "NAME_UNKNOWN")
    response = await registry.call("GET", f"/v2/{IMAGE}/manifests/v2")
    await oc.expect_error(response, 404, "MANIFEST_UNKNOWN")


async def test_a_project_marked_for_deletion_answers_like_none(
    client: TestClient, factory: Factory, catalog: CatalogBackend
) -> None:
    project, _, reporter = await pushed_below_project(client, factory)
    registry = oc.Registry(client, reporter)
    never = await registry.call("GET", "/v2/group/never/manifests/v1")
    async with catalog.transaction() as tx:
        await tx.execute(
            "UPDATE projects SET marked_for_deletion_at = ? WHERE id = ?",
            (format_time(factory.now), project.id),
        )
    response = await registry.call("GET", f"/v2/{IMAGE}/manifests/v1")
    error = await oc.expect_error(response, 404, "NAME_UNKNOWN")
    assert error == {**(await never.json())["errors"][0], "detail": {"name": IMAGE}}


async def test_a_repository_being_deleted_is_name_unknown(
    client: TestClient, factory: Factory, catalog: CatalogBackend
) -> None:
    project, img, reporter = await pushed_below_project(client, factory)
    async with catalog.transaction() as tx:
        await tx.execute(
            "UPDATE repositories SET status = 'delete_ongoing' WHERE project_id = ?",
            (project.id,),
        )
    for reference in ("v1", img.digest, "not a reference"):
        response = await oc.Registry(client, reporter).call(
            "GET", f"/v2/{IMAGE}/manifests/{reference}"
        )
        await oc.expect_error(response, 404, "NAME_UNKNOWN")


async def test_a_revoked_token_is_refused_on_its_next_pull(
    client: TestClient, factory: Factory, catalog: CatalogBackend
) -> None:
    _, _, reporter = await pushed_below_project(client, factory)
    registry = oc.Registry(client, reporter)
    assert (await registry.call("GET", f"/v2/{IMAGE}/manifests/v1")).status == 200
    user = await user_rows.select_user_by_username(catalog.reader, "reporter")
    assert user is not None
    [token] = await tokens.list_tokens(catalog, user.id)
    assert await tokens.revoke_token(catalog, token.id)

    response = await registry.call("GET", f"/v2/{IMAGE}/manifests/v1")
    await oc.expect_error(response, 401, "UNAUTHORIZED")


async def test_a_revoked_deploy_token_is_refused_on_its_next_pull(
    client: TestClient, factory: Factory, catalog: CatalogBackend
) -> None:
    project, _, _ = await pushed_below_project(client, factory)
    minted = await factory.deploy_token(project=project, scopes=("read_registry",))
    registry = oc.Registry(client, oc.basic(minted.token.username, minted.value))
    assert (await registry.call("GET", f"/v2/{IMAGE}/manifests/v1")).status == 200
    assert await deploy_tokens.revoke_deploy_token(catalog, minted.token.id)

    response = await registry.call("GET", f"/v2/{IMAGE}/manifests/v1")
    await oc.expect_error(response, 401, "UNAUTHORIZED")
