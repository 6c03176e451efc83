"""A project a caller may not see is indistinguishable, on every /v2 route, from no project at
all (issue 12.2; gitlab-api.md §4 "hidden is 404", as /api/v4 answers ``404 Project Not
Found`` for both).

Each case asks the same request of two registries that differ only in the hidden project (and
its content): one where it exists and one where it never did. Status, headers and body must be
byte for byte the same. The ``project_to_create`` hint is for callers who may create the
project there; those cases are at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from registry_service.settings import Settings
from tests import oci_content as oc
from tests.factories import Factory

# Where the caller's own project lives (in both registries), for the "member elsewhere" caller
# and as the target of a mount whose source is the hidden path.
ELSEWHERE = "elsewhere/other"
# (scenario, the hidden project's group visibility or None for "no group in the registry
# without the project")
SCENARIOS = {
    # A private project in a private group: the registry without it has nothing there at all.
    "private-group/nothing": ("private", None),
    # The same, against a registry that has the (equally hidden) private group.
    "private-group/empty-group": ("private", "private"),
    # A private project in a public group the caller sees; the other registry has that group.
    "public-group/empty-group": ("public", "public"),
}
# "…-token": the same caller with a token from /jwt/auth for every action on the path.
CALLERS = [
    "anonymous", "stranger", "member-elsewhere", "deploy-token-elsewhere", "anonymous-token",
    "stranger-token",
]


@dataclass(frozen=True)
class World:
    client: TestClient
    callers: dict[str, oc.Registry]
    # Names of things a caller could only guess; the same strings are used in both registries.
    session: str


@dataclass(frozen=True)
class Content:
    """What the hidden project holds (made before either registry, so digests are shared)."""

    image: oc.Image
    spare: oc.Blob
    session: str = "0123456789abcdef0123456789abcdef"


WorldMaker = Callable[[str, str, bool], Awaitable[World]]


@pytest.fixture
async def make_world(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    clock: SettableClock,
    tmp_path: Path,
    content: Content,
) -> AsyncIterator[WorldMaker]:
    catalogs: list[Catalog] = []

    async def make(scenario: str, group: str, with_project: bool) -> World:
        data_dir = tmp_path / f"world-{len(catalogs)}"
        world_settings = settings.replace("server", data_dir=str(data_dir))
        catalog = await Catalog.open_in(world_settings.data_path)
        catalogs.append(catalog)
        client = await aiohttp_client(create_app(world_settings, catalog=catalog, clock=clock))
        factory = Factory(catalog, clock.now())
        group_visibility, empty_group = SCENARIOS[scenario]
        mine = await factory.project(ELSEWHERE)
        member = await factory.user("member")
        await factory.member(member.user, AccessLevel.DEVELOPER, project=mine)
        stranger = await factory.user("stranger")
        admin = await factory.user("root", admin=True)
        # A read and write deploy token of the caller's own project (issue 14.2).
        deploy = await factory.deploy_token(
            project=mine, scopes=("read_registry", "write_registry"), username="deployer"
        )
        callers = {
            "anonymous": oc.Registry(client),
            "stranger": oc.Registry(client, oc.basic("stranger", stranger.token)),
            "member-elsewhere": oc.Registry(client, oc.basic("member", member.token)),
            "deploy-token-elsewhere": oc.Registry(client, oc.basic("deployer", deploy.value)),
        }
        session = content.session
        if with_project:
            await factory.group(group, visibility=group_visibility)
            await factory.project(f"{group}/app", visibility="private")
            root = oc.Registry(client, oc.basic("root", admin.token))
            await root.push_image(f"{group}/app", content.image, "v1")
            await root.push_blob(f"{group}/app", content.spare)
            location = await root.start_upload(f"{group}/app")
            session = location.rsplit("/", 1)[1]
        elif empty_group is not None:
            await factory.group(group, visibility=empty_group)
        scope = f"repository:{group}/app:pull,push,delete"
        for who, headers in [("anonymous", {}), ("stranger", callers["stranger"].headers)]:
            response = await client.get("/jwt/auth", headers=headers, params={
                "service": "container_registry", "scope": scope})
            token = (await response.json())["token"]
            callers[f"{who}-token"] = oc.Registry(client, {"Authorization": f"Bearer {token}"})
        return World(client, callers, session)

    yield make
    for catalog in catalogs:
        await catalog.close()


@pytest.fixture
def content() -> Content:
    return Content(oc.image(layers=1), oc.random_blob(64))


# (method, path below /v2/<name>/, query, body); {digest} is the pushed manifest, {blob} a
# pushed blob, {spare} a blob pushed on its own, {session} an open upload session.
ROUTES: dict[str, tuple[str, str, dict[str, str], bytes | None]] = {
    "get-manifest-tag": ("GET", "manifests/v1", {}, None),
    "head-manifest-tag": ("HEAD", "manifests/v1", {}, None),
    "get-manifest-digest": ("GET", "manifests/{digest}", {}, None),
    "head-manifest-digest": ("HEAD", "manifests/{digest}", {}, None),
    "put-manifest": ("PUT", "manifests/v2", {}, b"manifest"),
    "delete-manifest-tag": ("DELETE", "manifests/v1", {}, None),
    "delete-manifest-digest": ("DELETE", "manifests/{digest}", {}, None),
    "get-blob": ("GET", "blobs/{blob}", {}, None),
    "head-blob": ("HEAD", "blobs/{blob}", {}, None),
    "delete-blob": ("DELETE", "blobs/{spare}", {}, None),
    "post-upload": ("POST", "blobs/uploads/", {}, None),
    "post-upload-monolithic": ("POST", "blobs/uploads/", {"digest": "{spare}"}, b"spare"),
    "post-upload-mount": ("POST", "blobs/uploads/", {"mount": "{blob}", "from": ELSEWHERE}, None),
    "patch-upload": ("PATCH", "blobs/uploads/{session}", {}, b"chunk"),
    "put-upload": ("PUT", "blobs/uploads/{session}", {"digest": "{spare}"}, b"spare"),
    "get-upload": ("GET", "blobs/uploads/{session}", {}, None),
    "delete-upload": ("DELETE", "blobs/uploads/{session}", {}, None),
    "tags-list": ("GET", "tags/list", {}, None),
    "tags-list-paged": ("GET", "tags/list", {"n": "1", "last": "a"}, None),
    "referrers": ("GET", "referrers/{digest}", {}, None),
}


def _fill(text: str, content: Content, session: str) -> str:
    return text.format(
        digest=content.image.digest,
        blob=content.image.blobs[-1].digest,
        spare=content.spare.digest,
        session=session,
    )


def _body(kind: bytes | None, content: Content) -> bytes | None:
    return {None: None, b"manifest": content.image.manifest, b"spare": content.spare.data,
            b"chunk": b"some bytes"}[kind]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


async def ask(registry: oc.Registry, method: str, path: str, params: dict[str, str],
              body: bytes | None, headers: dict[str, str] | None = None) -> Answer:
    response = await registry.call(
        method, path, params=params, data=body,
        headers={"X-Request-Id": "same-request", **(headers or {})},
    )
    raw = await response.read()
    # Only the clock may differ between the two answers.
    kept = [(k, v) for k, v in response.headers.items() if k.lower() != "date"]
    return Answer(response.status, kept, raw)


async def both(make_world: WorldMaker, scenario: str, group: str) -> tuple[World, World]:
    return await make_world(scenario, group, False), await make_world(scenario, group, True)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_hidden_project_answers_exactly_like_a_missing_one(
    make_world: WorldMaker, content: Content, scenario: str, route: str, caller: str
) -> None:
    group = "secret"
    missing, hidden = await both(make_world, scenario, group)
    method, suffix, query, body = ROUTES[route]
    answers = []
    for world in (missing, hidden):
        path = f"/v2/{group}/app/{_fill(suffix, content, hidden.session)}"
        params = {k: _fill(v, content, hidden.session) for k, v in query.items()}
        headers = {"Content-Type": oc.OCI_MANIFEST} if body == b"manifest" else None
        answers.append(
            await ask(world.callers[caller], method, path, params, _body(body, content), headers)
        )
    # 403: a signed-in caller's token that grants nothing there (insufficient_scope).
    expected = (401, 403) if caller == "stranger-token" else (401, 404)
    assert answers[0].status in expected, answers[0]
    assert answers[1] == answers[0]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_mount_from_a_hidden_path_answers_like_one_from_a_missing_path(
    make_world: WorldMaker, content: Content, scenario: str
) -> None:
    """The caller may push to their own project; the source is the hidden (or missing) one.
    Both open an upload session, whose fresh id is the only difference."""
    missing, hidden = await both(make_world, scenario, "secret")
    answers = []
    for world in (missing, hidden):
        answer = await ask(
            world.callers["member-elsewhere"], "POST", f"/v2/{ELSEWHERE}/blobs/uploads/",
            {"mount": content.image.blobs[-1].digest, "from": "secret/app"}, None,
        )
        session = CIMultiDict(answer.headers)["Docker-Upload-UUID"]
        masked = [(k, v.replace(session, "<session>")) for k, v in answer.headers]
        answers.append(Answer(answer.status, masked, answer.body))
    assert answers[0].status == 202
    assert answers[1] == answers[0]


# --- the hint -------------------------------------------------------------------------------


async def name_unknown(registry: oc.Registry, path: str) -> dict[str, Any]:
    response = await registry.call("POST", f"/v2/{path}/blobs/uploads/")
    return await oc.expect_error(response, 404, "NAME_UNKNOWN")


async def test_the_hint_is_for_callers_who_may_create_the_project(
    client: TestClient, factory: Factory
) -> None:
    """Who may create ``group/app`` (services/projects.py ``create_project``): an administrator;
    a Maintainer+ of the group ``group``; anyone signed in where the group does not exist as
    far as they can see (any user may create a top-level group, and then the project in it).
    Nobody else learns which project to create."""
    await factory.group("team", visibility="public")
    maintainer = await factory.user("maintainer")
    await factory.member(maintainer.user, AccessLevel.MAINTAINER, group=await factory.group("team"))
    developer = await factory.user("developer")
    await factory.member(developer.user, AccessLevel.DEVELOPER, group=await factory.group("team"))
    admin = await factory.user("root", admin=True)
    stranger = await factory.user("stranger")

    def as_user(name: str, token: str) -> oc.Registry:
        return oc.Registry(client, oc.basic(name, token))

    hinted = {"name": "team/app", "project_to_create": "team/app"}
    plain = {"name": "team/app"}
    for who, token, expected in [
        ("root", admin.token, hinted),
        ("maintainer", maintainer.token, hinted),
        ("developer", developer.token, plain),
        ("stranger", stranger.token, plain),
    ]:
        error = await name_unknown(as_user(who, token), "team/app")
        assert error["detail"] == expected, who
        if expected is plain:
            assert error["message"] == "repository name not known to registry"
        else:
            assert "'team/app'" in error["message"]
    # A group nobody made: the stranger may make it, and then the project.
    error = await name_unknown(as_user("stranger", stranger.token), "newteam/app/web")
    assert error["detail"] == {"name": "newteam/app/web", "project_to_create": "newteam/app"}
    # Their own namespace: a user may create projects there.
    error = await name_unknown(as_user("stranger", stranger.token), "stranger/tool")
    assert error["detail"] == {"name": "stranger/tool", "project_to_create": "stranger/tool"}
    error = await name_unknown(as_user("developer", developer.token), "stranger/tool")
    assert error["detail"] == {"name": "stranger/tool"}
