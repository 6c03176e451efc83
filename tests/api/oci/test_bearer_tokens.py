"""/v2 with Bearer tokens from /jwt/auth: what a token lets through, decided by the token alone
(signature, issuer, audience, times, ``access``), and the challenge that sends a client back for
a better one (gitlab-api.md §8; RFC 6750 §3)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from registry_service.catalog.rows import Project
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from registry_service.services.signing_keys import DEFAULT_KEY_FILE
from registry_service.settings import Settings
from tests import oci_content as oc
from tests.factories import Factory

NAME = "group/app"
REALM = 'Bearer realm="http://registry.test:5000/jwt/auth",service="container_registry"'


def challenge(scope: str | None, error: str | None = None) -> str:
    text = REALM + (f',scope="{scope}"' if scope else "")
    return text + (f',error="{error}"' if error else "")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def token_for(client: TestClient, *scopes: str,
                    headers: dict[str, str] | None = None) -> str:
    response = await client.get(
        "/jwt/auth", params=[("service", "container_registry"), *(("scope", s) for s in scopes)],
        headers=headers or {},
    )
    assert response.status == 200, await response.text()
    token: str = (await response.json())["token"]
    return token


async def member(factory: Factory, project: Project, level: AccessLevel,
                 username: str) -> dict[str, str]:
    user = await factory.user(username)
    await factory.member(user.user, level, project=project)
    return oc.basic(username, user.token)


def server_private_key(settings: Settings) -> rsa.RSAPrivateKey:
    pem = (settings.data_path / DEFAULT_KEY_FILE).read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def forged(key: rsa.RSAPrivateKey, clock: SettableClock, **changes: Any) -> str:
    """A token like the server's, signed by ``key``, with some claims changed."""
    now = clock.now()
    claims: dict[str, Any] = {
        "iss": "gitlab-issuer", "aud": "container_registry", "sub": "dev", "iat": now,
        "nbf": now, "exp": now + timedelta(minutes=5), "jti": uuid.uuid4().hex,
        "access": [{"type": "repository", "name": NAME, "actions": ["pull", "push"],
                    "meta": {"project_path": NAME, "project_id": 1, "root_namespace_id": 1}}],
    }
    claims.update(changes)
    return jwt.encode(claims, key, algorithm="RS256")


async def test_a_token_pushes_and_pulls_without_basic(
    client: TestClient, factory: Factory
) -> None:
    project = await factory.project(NAME)
    dev = await member(factory, project, AccessLevel.DEVELOPER, "dev")
    token = await token_for(client, f"repository:{NAME}:pull,push", headers=dev)
    registry = oc.Registry(client, bearer(token))
    img = oc.image(layers=2)

    await registry.push_image(NAME, img, "v1")

    response = await registry.call("GET", f"/v2/{NAME}/manifests/v1")
    assert response.status == 200
    assert await response.read() == img.manifest
    blob = img.blobs[-1]
    response = await registry.call("HEAD", f"/v2/{NAME}/blobs/{blob.digest}")
    assert response.status == 200
    assert response.headers["Docker-Content-Digest"] == blob.digest
    response = await registry.call("GET", f"/v2/{NAME}/tags/list")
    assert await response.json() == {"name": NAME, "tags": ["v1"]}
    assert (await registry.call("GET", "/v2/")).status == 200


async def test_a_token_is_good_for_its_lifetime_whatever_the_catalog_says_since(
    client: TestClient, factory: Factory, catalog: Any, clock: SettableClock
) -> None:
    """The token alone decides: a member removed after it was issued still pulls until it
    expires (GitLab's tokens behave the same), and then gets the expired-token challenge."""
    project = await factory.project(NAME)
    dev = await member(factory, project, AccessLevel.DEVELOPER, "dev")
    token = await token_for(client, f"repository:{NAME}:pull,push", headers=dev)
    registry = oc.Registry(client, bearer(token))
    img = oc.image(layers=1)
    await registry.push_image(NAME, img, "v1")
    async with catalog.transaction() as tx:
        await tx.execute("DELETE FROM members")
        await tx.execute("DELETE FROM personal_access_tokens")

    response = await registry.call("GET", f"/v2/{NAME}/manifests/v1")
    assert response.status == 200

    clock.advance(timedelta(seconds=300))
    response = await registry.call("GET", f"/v2/{NAME}/manifests/v1")
    await oc.expect_error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == challenge(
        f"repository:{NAME}:pull", "invalid_token")


@pytest.mark.parametrize("kind", ["bad-signature", "wrong-audience", "wrong-issuer",
                                  "expired", "not-yet-valid", "not-a-jwt", "unsigned"])
async def test_a_bad_token_is_401_with_the_invalid_token_challenge(
    client: TestClient, factory: Factory, settings: Settings, clock: SettableClock, kind: str
) -> None:
    project = await factory.project(NAME, visibility="public")
    dev = await member(factory, project, AccessLevel.DEVELOPER, "dev")
    await oc.Registry(client, dev).push_image(NAME, oc.image(layers=1), "v1")
    ours = server_private_key(settings)
    now = clock.now()
    token = {
        "bad-signature": lambda: forged(
            rsa.generate_private_key(public_exponent=65537, key_size=2048), clock),
        "wrong-audience": lambda: forged(ours, clock, aud="dependency_proxy"),
        "wrong-issuer": lambda: forged(ours, clock, iss="someone-else"),
        "expired": lambda: forged(ours, clock, iat=now - timedelta(minutes=10),
                                  nbf=now - timedelta(minutes=10), exp=now - timedelta(seconds=1)),
        "not-yet-valid": lambda: forged(ours, clock, nbf=now + timedelta(minutes=1)),
        "not-a-jwt": lambda: "glpat-this-is-no-jwt",
        "unsigned": lambda: jwt.encode({"sub": "dev", "aud": "container_registry"}, None,
                                       algorithm="none"),
    }[kind]()

    # Even where anonymous pull would work: a token that is given must be good.
    response = await client.get(f"/v2/{NAME}/manifests/v1", headers=bearer(token))

    error = await oc.expect_error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == challenge(
        f"repository:{NAME}:pull", "invalid_token")
    assert token not in error["message"]


async def test_a_token_without_push_is_403_with_the_insufficient_scope_challenge(
    client: TestClient, factory: Factory
) -> None:
    project = await factory.project(NAME)
    dev = await member(factory, project, AccessLevel.DEVELOPER, "dev")
    token = await token_for(client, f"repository:{NAME}:pull", headers=dev)

    response = await client.post(f"/v2/{NAME}/blobs/uploads/", headers=bearer(token))

    await oc.expect_error(response, 403, "DENIED")
    assert response.headers["WWW-Authenticate"] == challenge(
        f"repository:{NAME}:pull,push", "insufficient_scope")
    # The scope the challenge names gets the client a token that works.
    wider = await token_for(client, f"repository:{NAME}:pull,push", headers=dev)
    response = await client.post(f"/v2/{NAME}/blobs/uploads/", headers=bearer(wider))
    assert response.status == 202


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("GET", f"{NAME}/manifests/v1", f"repository:{NAME}:pull"),
    ("HEAD", f"{NAME}/blobs/sha256:{'0' * 64}", f"repository:{NAME}:pull"),
    ("PUT", f"{NAME}/manifests/v2", f"repository:{NAME}:pull,push"),
    ("PATCH", f"{NAME}/blobs/uploads/abc", f"repository:{NAME}:pull,push"),
    ("DELETE", f"{NAME}/blobs/uploads/abc", f"repository:{NAME}:pull,push"),
    ("DELETE", f"{NAME}/manifests/v1", f"repository:{NAME}:delete"),
    ("GET", "group/other/tags/list", "repository:group/other:pull"),
    ("GET", "_catalog", "registry:catalog:*"),
])
async def test_each_route_challenges_for_the_scope_it_needs(
    client: TestClient, factory: Factory, method: str, path: str, scope: str
) -> None:
    """A token for pull on ``NAME`` only: everything else is refused, naming what it needs."""
    project = await factory.project(NAME)
    reporter = await member(factory, project, AccessLevel.REPORTER, "reporter")
    token = await token_for(client, f"repository:{NAME}:pull", headers=reporter)
    response = await client.request(method, f"/v2/{path}", headers=bearer(token))
    if (method, path) in {("GET", f"{NAME}/manifests/v1"),
                          ("HEAD", f"{NAME}/blobs/sha256:{'0' * 64}")}:
        assert response.status == 404  # granted; nothing there
        return
    assert response.status == 403
    assert response.headers["WWW-Authenticate"] == challenge(scope, "insufficient_scope")


async def test_an_anonymous_token_lacking_an_action_is_401(
    client: TestClient, factory: Factory
) -> None:
    """An anonymous caller should log in, as without a token."""
    await factory.project(NAME, visibility="private")
    token = await token_for(client, f"repository:{NAME}:pull")
    response = await client.get(f"/v2/{NAME}/manifests/v1", headers=bearer(token))
    await oc.expect_error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == challenge(
        f"repository:{NAME}:pull", "insufficient_scope")


async def test_an_anonymous_token_pulls_a_public_image(
    client: TestClient, factory: Factory
) -> None:
    project = await factory.project(NAME, visibility="public")
    dev = await member(factory, project, AccessLevel.DEVELOPER, "dev")
    img = oc.image(layers=1)
    await oc.Registry(client, dev).push_image(NAME, img, "v1")
    token = await token_for(client, f"repository:{NAME}:pull")
    response = await client.get(f"/v2/{NAME}/manifests/v1", headers=bearer(token))
    assert await response.read() == img.manifest


async def test_the_catalog_lists_everything_for_a_catalog_token(
    client: TestClient, factory: Factory
) -> None:
    await factory.project(NAME)
    await factory.project("other/app", visibility="public")
    admin = await factory.user("root", admin=True)
    root = oc.Registry(client, oc.basic("root", admin.token))
    await root.push_image(NAME, oc.image(layers=1), "v1")
    await root.push_image("other/app", oc.image(layers=1), "v1")
    token = await token_for(client, "registry:catalog:*", headers=oc.basic("root", admin.token))
    response = await client.get("/v2/_catalog", headers=bearer(token))
    assert await response.json() == {"repositories": [NAME, "other/app"]}


async def test_a_mount_needs_pull_on_the_source_in_the_token(
    client: TestClient, factory: Factory
) -> None:
    """Without it the blob is not linked and the client gets an upload session instead."""
    source = await factory.project("group/source")
    target = await factory.project(NAME)
    dev = await factory.user("dev")
    await factory.member(dev.user, AccessLevel.DEVELOPER, project=source)
    await factory.member(dev.user, AccessLevel.DEVELOPER, project=target)
    blob = oc.random_blob(100)
    await oc.Registry(client, oc.basic("dev", dev.token)).push_blob("group/source", blob)
    params = {"mount": blob.digest, "from": "group/source"}
    narrow = await token_for(client, f"repository:{NAME}:pull,push",
                             headers=oc.basic("dev", dev.token))
    response = await client.post(f"/v2/{NAME}/blobs/uploads/", params=params,
                                  headers=bearer(narrow))
    assert response.status == 202
    both = await token_for(client, f"repository:{NAME}:pull,push",
                           "repository:group/source:pull", headers=oc.basic("dev", dev.token))
    response = await client.post(f"/v2/{NAME}/blobs/uploads/", params=params,
                                 headers=bearer(both))
    assert response.status == 201


async def test_basic_sent_up_front_still_works(client: TestClient, factory: Factory) -> None:
    project = await factory.project(NAME)
    dev = await member(factory, project, AccessLevel.DEVELOPER, "dev")
    await oc.Registry(client, dev).push_image(NAME, oc.image(layers=1), "v1")
    response = await client.get(f"/v2/{NAME}/tags/list", headers=dev)
    assert await response.json() == {"name": NAME, "tags": ["v1"]}


async def test_a_project_deleted_while_a_token_lives_is_name_unknown_to_it(
    client: TestClient, factory: Factory, catalog: Any
) -> None:
    """The token still names the project; the push it allows finds nothing to push to."""
    project = await factory.project(NAME)
    dev = await member(factory, project, AccessLevel.DEVELOPER, "dev")
    token = await token_for(client, f"repository:{NAME}:pull,push", headers=dev)
    async with catalog.transaction() as tx:
        await tx.execute("DELETE FROM members")
        await tx.execute("DELETE FROM projects")
    response = await client.post(f"/v2/{NAME}/blobs/uploads/", headers=bearer(token))
    await oc.expect_error(response, 404, "NAME_UNKNOWN")
