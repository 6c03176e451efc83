"""Deploy tokens as /v2 credentials (issue 14.2): HTTP Basic with the token's username and
value; ``read_registry`` pulls, ``write_registry`` pushes, nothing deletes; a group token
reaches every project below its group; elsewhere a token is an anonymous caller; a revoked or
expired token, or the wrong username, is 401 with the Basic challenge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from registry_service.clock import SettableClock
from registry_service.services.deploy_tokens import revoke_deploy_token
from tests import oci_content as oc
from tests.api.oci.test_auth import ACTIONS, NAME, Outcome, challenge, seeded
from tests.factories import Factory

OK = "ok"
ANON = (401, "UNAUTHORIZED")
HIDDEN = (404, "NAME_UNKNOWN")
DENIED = (403, "DENIED")
READ = ("read_registry",)
WRITE = ("write_registry",)
BOTH = ("read_registry", "write_registry")

# (token's owner, its scopes, NAME's visibility, NAME's registry level) → pull, push, delete.
# "project" is NAME's own project, "group" its group, "other-*" a sibling project or another
# group.
# fmt: off
MATRIX: list[tuple[str, tuple[str, ...], str, str, tuple[Outcome, Outcome, Outcome]]] = [
    ("project",       READ,  "private",  "enabled",  (OK,     DENIED, DENIED)),
    ("project",       WRITE, "private",  "enabled",  (DENIED, OK,     DENIED)),
    ("project",       BOTH,  "private",  "enabled",  (OK,     OK,     DENIED)),
    ("project",       BOTH,  "private",  "private",  (OK,     OK,     DENIED)),
    ("project",       BOTH,  "public",   "disabled", (DENIED, DENIED, DENIED)),
    ("project",       ("read_repository", "read_package_registry"), "private", "enabled",
                                                     (DENIED, DENIED, DENIED)),
    ("group",         READ,  "private",  "enabled",  (OK,     DENIED, DENIED)),
    ("group",         BOTH,  "private",  "enabled",  (OK,     OK,     DENIED)),
    ("group",         WRITE, "internal", "enabled",  (DENIED, OK,     DENIED)),
    # Outside its reach a token has what an anonymous caller has, no more (GitLab's
    # registry token service), but never without a pull scope.
    ("other-project", BOTH,  "private",  "enabled",  (HIDDEN, HIDDEN, HIDDEN)),
    ("other-project", BOTH,  "internal", "enabled",  (HIDDEN, HIDDEN, HIDDEN)),
    ("other-project", BOTH,  "public",   "enabled",  (OK,     DENIED, DENIED)),
    ("other-project", WRITE, "public",   "enabled",  (DENIED, DENIED, DENIED)),
    ("other-project", BOTH,  "public",   "private",  (DENIED, DENIED, DENIED)),
    ("other-group",   BOTH,  "private",  "enabled",  (HIDDEN, HIDDEN, HIDDEN)),
    ("other-group",   READ,  "public",   "enabled",  (OK,     DENIED, DENIED)),
]
# fmt: on


async def deploy_caller(
    client: TestClient, factory: Factory, owner: str, scopes: tuple[str, ...],
    visibility: str, registry: str,
) -> oc.Registry:
    project = await factory.project(NAME, visibility=visibility, registry=registry)
    await factory.project("group/sibling")
    await factory.project("elsewhere/tool")
    kwargs = {
        "project": {"project": project},
        "group": {"group": await factory.group("group")},
        "other-project": {"project": await factory.project("group/sibling")},
        "other-group": {"group": await factory.group("elsewhere")},
    }[owner]
    minted = await factory.deploy_token(scopes=scopes, **kwargs)  # type: ignore[arg-type]
    return oc.Registry(client, oc.basic(minted.token.username, minted.value))


async def expect(response: ClientResponse, expected: Outcome, success: int) -> None:
    if isinstance(expected, str):
        assert response.status == success, await response.text()
        return
    status, code = expected
    error = await oc.expect_error(response, status, code)
    if status == 404:
        assert "project_to_create" not in str(error.get("detail"))


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize(("owner", "scopes", "visibility", "registry", "outcomes"), MATRIX)
async def test_deploy_token_matrix(
    client: TestClient, factory: Factory, owner: str, scopes: tuple[str, ...],
    visibility: str, registry: str, outcomes: tuple[Outcome, Outcome, Outcome], action: str,
) -> None:
    registry_client = await deploy_caller(client, factory, owner, scopes, visibility, registry)
    img = await seeded(client, factory) if registry != "disabled" else oc.image(layers=1)
    call, success = ACTIONS[action]
    await expect(await call(registry_client, img), outcomes[list(ACTIONS).index(action)],
                 success)


async def test_a_group_token_reaches_subgroups_and_projects_made_after_it(
    client: TestClient, factory: Factory
) -> None:
    top = await factory.group("top", visibility="public")
    minted = await factory.deploy_token(group=top, scopes=BOTH)
    # Made after the token, two levels below its group.
    await factory.project("top/sub/deeper/app")
    registry = oc.Registry(client, oc.basic(minted.token.username, minted.value))
    img = oc.image(layers=1)
    await registry.push_image("top/sub/deeper/app/web", img, "v1")
    response = await registry.call("GET", f"/v2/top/sub/deeper/app/web/manifests/{img.digest}")
    assert response.status == 200


@pytest.mark.parametrize("problem", ["revoked", "expired", "wrong-username", "user-name"])
async def test_an_unusable_deploy_token_is_401_with_the_challenge(
    client: TestClient, factory: Factory, clock: SettableClock, problem: str
) -> None:
    project = await factory.project(NAME, visibility="public")
    minted = await factory.deploy_token(
        project=project, scopes=BOTH,
        expires_at=clock.now() if problem == "expired" else clock.now() + timedelta(days=1),
    )
    username = minted.token.username
    if problem == "revoked":
        assert await revoke_deploy_token(factory.catalog, minted.token.id)
    elif problem == "wrong-username":
        username = "gitlab+deploy-token-999"
    elif problem == "user-name":
        # A user's name with the deploy token's value: neither credential.
        username = (await factory.user("dev")).user.username
    # Even where anonymous pull would work: credentials that are given must be good.
    for path, actions in ((f"/v2/{NAME}/tags/list", "pull"), ("/v2/", None)):
        response = await client.get(path, headers=oc.basic(username, minted.value))
        await oc.expect_error(response, 401, "UNAUTHORIZED")
        assert response.headers["WWW-Authenticate"] == challenge(actions)
        assert minted.value not in await response.text()


async def test_the_version_check_and_catalog_see_a_deploy_token(
    client: TestClient, factory: Factory
) -> None:
    project = await factory.project(NAME)
    await factory.project("group/hidden")
    minted = await factory.deploy_token(project=project, scopes=READ)
    await seeded(client, factory)
    admin = oc.Registry(client, oc.basic("boss", (await factory.user("boss", admin=True)).token))
    await admin.push_image("group/hidden", oc.image(layers=1), "v1")
    headers = oc.basic(minted.token.username, minted.value)
    response = await client.get("/v2/", headers=headers)
    assert response.status == 200
    response = await client.get("/v2/_catalog", headers=headers)
    assert response.status == 200
    assert await response.json() == {"repositories": [NAME]}


async def test_a_deploy_token_is_never_told_which_project_to_create(
    client: TestClient, factory: Factory
) -> None:
    """Any signed-in user may create a top-level group, so a user hears which project to
    create; a deploy token can create nothing."""
    project = await factory.project(NAME)
    minted = await factory.deploy_token(project=project, scopes=BOTH)
    registry = oc.Registry(client, oc.basic(minted.token.username, minted.value))
    for path in ("newteam/app", "group/other"):
        response = await registry.call("POST", f"/v2/{path}/blobs/uploads/")
        error = await oc.expect_error(response, 404, "NAME_UNKNOWN")
        assert error["detail"] == {"name": path}
