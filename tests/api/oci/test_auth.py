"""Who may pull, push and delete under /v2 (oci-distribution.md "Decisions", gitlab-api.md §4
and §8): the Basic challenge, the role and visibility matrix, token scopes, unowned paths and
``registry.auto_create_projects``, and that blobs never leak between projects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from registry_service.settings import Settings
from tests import oci_content as oc
from tests.factories import Factory

NAME = "group/app"
REALM = 'Bearer realm="http://registry.test:5000/jwt/auth",service="container_registry"'


def challenge(actions: str | None = "pull") -> str:
    """The /v2 challenge for ``NAME`` (no scope: ``GET /v2/``)."""
    return REALM + (f',scope="repository:{NAME}:{actions}"' if actions else "")


Action = Callable[[oc.Registry, oc.Image], Awaitable[ClientResponse]]


async def pull(registry: oc.Registry, img: oc.Image) -> ClientResponse:
    return await registry.call("GET", f"/v2/{NAME}/manifests/{img.digest}")


async def push(registry: oc.Registry, img: oc.Image) -> ClientResponse:
    return await registry.call("POST", f"/v2/{NAME}/blobs/uploads/")


async def delete(registry: oc.Registry, img: oc.Image) -> ClientResponse:
    return await registry.call("DELETE", f"/v2/{NAME}/manifests/{img.digest}")


# The scope each action's challenge names (a write needs pull and push).
SCOPE_ACTIONS = {"pull": "pull", "push": "pull,push", "delete": "delete"}
ACTIONS: dict[str, tuple[Action, int]] = {
    "pull": (pull, 200),
    "push": (push, 202),
    "delete": (delete, 202),
}
OK = "ok"
ANON = (401, "UNAUTHORIZED")
HIDDEN = (404, "NAME_UNKNOWN")
DENIED = (403, "DENIED")
# What pull, push and delete answer: OK, or the status and OCI code of the error.
Outcome = str | tuple[int, str]
MATRIX: list[tuple[str, str, tuple[Outcome, Outcome, Outcome]]] = [
    ("private", "anonymous", (ANON, ANON, ANON)),
    ("private", "stranger", (HIDDEN, HIDDEN, HIDDEN)),
    ("private", "guest", (DENIED, DENIED, DENIED)),
    ("private", "reporter", (OK, DENIED, DENIED)),
    ("private", "developer", (OK, OK, DENIED)),
    ("private", "maintainer", (OK, OK, OK)),
    ("private", "owner", (OK, OK, OK)),
    ("private", "admin", (OK, OK, OK)),
    ("internal", "anonymous", (ANON, ANON, ANON)),
    ("internal", "stranger", (OK, DENIED, DENIED)),
    ("internal", "developer", (OK, OK, DENIED)),
    ("public", "anonymous", (OK, ANON, ANON)),
    ("public", "stranger", (OK, DENIED, DENIED)),
    ("public", "guest", (OK, DENIED, DENIED)),
    ("public", "reporter", (OK, DENIED, DENIED)),
    ("public", "developer", (OK, OK, DENIED)),
    ("public", "maintainer", (OK, OK, OK)),
]
LEVELS = {
    "guest": AccessLevel.GUEST,
    "reporter": AccessLevel.REPORTER,
    "developer": AccessLevel.DEVELOPER,
    "maintainer": AccessLevel.MAINTAINER,
    "owner": AccessLevel.OWNER,
}


async def caller(client: TestClient, factory: Factory, who: str, project_visibility: str,
                 scopes: tuple[str, ...] = ("api",)) -> oc.Registry:
    """``who`` as a /v2 client of a fresh ``NAME`` project with that visibility."""
    project = await factory.project(NAME, visibility=project_visibility)
    if who == "anonymous":
        return oc.Registry(client)
    user = await factory.user(who, admin=who == "admin", scopes=scopes)
    if who in LEVELS:
        await factory.member(user.user, LEVELS[who], project=project)
    return oc.Registry(client, oc.basic(who, user.token))


async def seeded(client: TestClient, factory: Factory) -> oc.Image:
    """An image pushed to ``NAME`` (the project must exist) by an administrator."""
    admin = await factory.user("root", admin=True)
    img = oc.image(layers=1)
    await oc.Registry(client, oc.basic("root", admin.token)).push_image(NAME, img, "v1")
    return img


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize(("visibility", "who", "outcomes"), MATRIX)
async def test_auth_matrix(
    client: TestClient, factory: Factory, visibility: str, who: str,
    outcomes: tuple[Outcome, Outcome, Outcome], action: str,
) -> None:
    registry = await caller(client, factory, who, visibility)
    img = await seeded(client, factory)
    call, success = ACTIONS[action]
    expected = outcomes[list(ACTIONS).index(action)]
    response = await call(registry, img)
    if isinstance(expected, str):
        assert response.status == success, await response.text()
        return
    status, code = expected
    error = await oc.expect_error(response, status, code)
    if status == 401:
        assert response.headers["WWW-Authenticate"] == challenge(SCOPE_ACTIONS[action])
    if status == 404:
        # Hidden means hidden: no hint that the project exists (or which one to create).
        assert "project_to_create" not in str(error.get("detail"))


async def test_version_check_challenges_anonymous_clients(client: TestClient,
                                                          factory: Factory) -> None:
    response = await client.get("/v2/")
    await oc.expect_error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == challenge(None)
    user = await factory.user("dev")
    response = await client.get("/v2/", headers=oc.basic("dev", user.token))
    assert response.status == 200
    assert await response.json() == {}
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize(
    "authorization",
    ["wrong-token", "other-user", "not-base64", "no-colon"],
)
async def test_bad_credentials_are_401_with_the_challenge(
    client: TestClient, factory: Factory, authorization: str
) -> None:
    await factory.project(NAME, visibility="public")
    user = await factory.user("dev")
    await factory.user("other")
    headers = {
        "wrong-token": oc.basic("dev", "glpat-nope"),
        "other-user": oc.basic("other", user.token),
        "not-base64": {"Authorization": "Basic %%%"},
        "no-colon": {"Authorization": "Basic ZGV2"},
    }[authorization]
    # Even where anonymous pull would work: credentials that are given must be good.
    response = await client.get(f"/v2/{NAME}/tags/list", headers=headers)
    await oc.expect_error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == challenge()


async def test_an_expired_token_is_401_with_the_challenge(
    client: TestClient, factory: Factory, clock: SettableClock
) -> None:
    await factory.project(NAME, visibility="public")
    user = await factory.user("dev", expires_at=clock.now().date())
    response = await client.get(f"/v2/{NAME}/tags/list", headers=oc.basic("dev", user.token))
    error = await oc.expect_error(response, 401, "UNAUTHORIZED")
    assert "expired" in error["message"]
    assert response.headers["WWW-Authenticate"] == challenge()


async def test_project_paths_match_image_paths_whatever_their_case(
    client: TestClient, factory: Factory
) -> None:
    project = await factory.project("Group/MyApp")
    user = await factory.user("dev")
    await factory.member(user.user, AccessLevel.DEVELOPER, project=project)
    registry = oc.Registry(client, oc.basic("dev", user.token))
    await registry.push_image("group/myapp/web", oc.image(layers=1), "v1")
    response = await registry.call("GET", "/v2/group/myapp/web/tags/list")
    assert await response.json() == {"name": "group/myapp/web", "tags": ["v1"]}


@pytest.mark.parametrize(
    ("scopes", "may_pull", "may_push"),
    [
        (("read_registry",), True, False),
        (("write_registry",), True, True),
        (("api",), True, True),
        (("read_api",), True, False),
    ],
)
async def test_token_scopes_limit_what_a_developer_may_do(
    client: TestClient, factory: Factory, scopes: tuple[str, ...], may_pull: bool,
    may_push: bool,
) -> None:
    registry = await caller(client, factory, "developer", "private", scopes)
    img = await seeded(client, factory)
    response = await pull(registry, img)
    assert response.status == (200 if may_pull else 403)
    response = await push(registry, img)
    if may_push:
        assert response.status == 202
    else:
        await oc.expect_error(response, 403, "DENIED")


async def test_disabled_registry_is_denied_even_to_maintainers(
    client: TestClient, factory: Factory
) -> None:
    project = await factory.project(NAME, visibility="public", registry="disabled")
    user = await factory.user("boss")
    await factory.member(user.user, AccessLevel.MAINTAINER, project=project)
    registry = oc.Registry(client, oc.basic("boss", user.token))
    for response in (
        await registry.call("GET", f"/v2/{NAME}/tags/list"),
        await registry.call("POST", f"/v2/{NAME}/blobs/uploads/"),
    ):
        await oc.expect_error(response, 403, "DENIED")


# --- paths no project owns ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "project"),
    [
        ("newgroup/newapp", "newgroup/newapp"),
        ("newgroup/newapp/web", "newgroup/newapp"),
        ("a/b/c/d/e", "a/b/c"),  # a project must be one of the 3 longest prefixes (§8)
    ],
)
async def test_push_to_an_unowned_path_names_the_project_to_create(
    client: TestClient, factory: Factory, path: str, project: str
) -> None:
    user = await factory.user("dev")
    response = await client.post(f"/v2/{path}/blobs/uploads/", headers=oc.basic("dev", user.token))
    error = await oc.expect_error(response, 404, "NAME_UNKNOWN")
    assert repr(project) in error["message"]
    assert error["detail"] == {"name": path, "project_to_create": project}


async def test_anonymous_push_to_an_unowned_path_is_challenged(client: TestClient) -> None:
    response = await client.post("/v2/newgroup/newapp/blobs/uploads/")
    await oc.expect_error(response, 401, "UNAUTHORIZED")


@pytest.fixture
async def auto_create_client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings, catalog: Catalog,
    clock: SettableClock,
) -> TestClient:
    new_settings = settings.replace("registry", auto_create_projects=True)
    return await aiohttp_client(create_app(new_settings, catalog=catalog, clock=clock))


@pytest.mark.parametrize(
    "path",
    ["newgroup/newapp", "newgroup/newapp/web/api", "a/b/c/d/e", "root/mine"],
)
async def test_auto_create_lets_an_admin_push_create_the_project(
    auto_create_client: TestClient, factory: Factory, path: str
) -> None:
    admin = await factory.user("root", admin=True)
    registry = oc.Registry(auto_create_client, oc.basic("root", admin.token))
    img = oc.image(layers=1)
    await registry.push_image(path, img, "v1")
    response = await registry.call("GET", f"/v2/{path}/manifests/v1")
    assert response.status == 200
    assert await response.read() == img.manifest
    # A private project was made: others cannot see it.
    stranger = await factory.user("stranger")
    hidden = await auto_create_client.get(
        f"/v2/{path}/manifests/v1", headers=oc.basic("stranger", stranger.token)
    )
    await oc.expect_error(hidden, 404, "NAME_UNKNOWN")


async def test_auto_create_does_not_let_others_create_projects(
    auto_create_client: TestClient, factory: Factory
) -> None:
    user = await factory.user("dev")
    response = await auto_create_client.post(
        "/v2/newgroup/newapp/blobs/uploads/", headers=oc.basic("dev", user.token)
    )
    await oc.expect_error(response, 404, "NAME_UNKNOWN")
    anonymous = await auto_create_client.post("/v2/newgroup/newapp/blobs/uploads/")
    await oc.expect_error(anonymous, 401, "UNAUTHORIZED")


async def test_auto_create_refuses_a_path_no_project_can_own(
    auto_create_client: TestClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    response = await auto_create_client.post(
        "/v2/lonely/blobs/uploads/", headers=oc.basic("root", admin.token)
    )
    error = await oc.expect_error(response, 404, "NAME_UNKNOWN")
    assert error["detail"] == {"name": "lonely", "project_to_create": None}


async def test_auto_create_below_a_user_namespace_is_name_unknown_not_a_crash(
    auto_create_client: TestClient, factory: Factory
) -> None:
    """``root/x/y/z/app`` would need group ``root/x`` inside the user namespace ``root``."""
    admin = await factory.user("root", admin=True)
    response = await auto_create_client.post(
        "/v2/root/x/y/z/app/blobs/uploads/", headers=oc.basic("root", admin.token)
    )
    error = await oc.expect_error(response, 404, "NAME_UNKNOWN")
    assert error["detail"] == {"name": "root/x/y/z/app", "project_to_create": "root/x/y"}


# --- no blob leaks between projects ---------------------------------------------------------


async def two_projects(client: TestClient, factory: Factory) -> tuple[oc.Registry, oc.Blob]:
    """A developer of ``NAME`` and a blob that only ``group/secret`` (hidden from them) has."""
    project = await factory.project(NAME)
    await factory.project("group/secret")
    dev = await factory.user("dev")
    await factory.member(dev.user, AccessLevel.DEVELOPER, project=project)
    admin = await factory.user("root", admin=True)
    secret = oc.random_blob(64)
    await oc.Registry(client, oc.basic("root", admin.token)).push_blob("group/secret", secret)
    return oc.Registry(client, oc.basic("dev", dev.token)), secret


async def test_mount_from_an_unreadable_repository_opens_a_session(
    client: TestClient, factory: Factory
) -> None:
    dev, secret = await two_projects(client, factory)
    response = await dev.call(
        "POST", f"/v2/{NAME}/blobs/uploads/",
        params={"mount": secret.digest, "from": "group/secret"},
    )
    assert response.status == 202
    assert response.headers["Location"].startswith(f"/v2/{NAME}/blobs/uploads/")
    leaked = await dev.call("GET", f"/v2/{NAME}/blobs/{secret.digest}")
    await oc.expect_error(leaked, 404, "BLOB_UNKNOWN")


async def test_a_blob_is_readable_only_through_the_projects_that_pushed_it(
    client: TestClient, factory: Factory
) -> None:
    dev, secret = await two_projects(client, factory)
    await dev.push_blob(NAME, oc.random_blob(8))  # the repository exists
    response = await dev.call("GET", f"/v2/{NAME}/blobs/{secret.digest}")
    await oc.expect_error(response, 404, "BLOB_UNKNOWN")
    img = oc.image(layers=0, config=oc.Blob(secret.data, oc.OCI_CONFIG))
    refused = await dev.put_manifest(NAME, img)
    await oc.expect_error(refused, 400, "MANIFEST_BLOB_UNKNOWN")
