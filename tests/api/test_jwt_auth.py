"""``GET /jwt/auth``, GitLab's token endpoint for the docker token flow (gitlab-api.md §8): who
gets which actions, the claims, the errors, and the key that signs."""

from __future__ import annotations

import concurrent.futures
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.http.render import ACCESS_DENIED_TEXT
from registry_service.services.permissions import AccessLevel
from registry_service.services.signing_keys import (
    DEFAULT_KEY_FILE,
    SigningKeyUnusable,
    load_signing_key,
)
from registry_service.settings import Settings
from tests import oci_content as oc
from tests.factories import Factory

NAME = "group/app"
SERVICE = "container_registry"
EVERY_ACTION = "pull,push,delete,*"


def server_key(settings: Settings) -> rsa.RSAPublicKey:
    """The public half of the key the server made in its data directory."""
    pem = (settings.data_path / DEFAULT_KEY_FILE).read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()


async def ask(
    client: TestClient, *scopes: str, headers: dict[str, str] | None = None,
    service: str | None = SERVICE,
) -> Any:
    params = [("scope", s) for s in scopes]
    if service is not None:
        params.append(("service", service))
    return await client.get("/jwt/auth", params=params, headers=headers or {})


async def claims_of(
    client: TestClient, settings: Settings, *scopes: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await ask(client, *scopes, headers=headers)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["token"] == body["access_token"]
    claims: dict[str, Any] = jwt.decode(
        body["token"], server_key(settings), algorithms=["RS256"], audience=SERVICE,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return claims


def actions(claims: dict[str, Any]) -> list[list[str]]:
    return [entry["actions"] for entry in claims["access"]]


async def test_a_token_carries_gitlabs_claims(
    client: TestClient, factory: Factory, settings: Settings, clock: SettableClock
) -> None:
    group = await factory.group("group")
    project = await factory.project(NAME)
    dev = await factory.user("dev")
    await factory.member(dev.user, AccessLevel.DEVELOPER, project=project)

    response = await ask(client, f"repository:{NAME}/web:pull,push",
                         headers=oc.basic("dev", dev.token))

    body = await response.json()
    assert response.headers["Cache-Control"] == "no-store"
    assert body["expires_in"] == 300
    assert body["issued_at"] == "2026-06-01T12:00:00Z"
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "RS256" and header["kid"]
    claims = jwt.decode(body["token"], server_key(settings), algorithms=["RS256"],
                        audience=SERVICE, options={"verify_exp": False, "verify_iat": False,
                                                   "verify_nbf": False})
    now = int(clock.now().timestamp())
    assert claims.pop("jti")
    assert claims == {
        "iss": "gitlab-issuer",
        "aud": SERVICE,
        "sub": "dev",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "access": [{
            "type": "repository",
            "name": f"{NAME}/web",
            "actions": ["pull", "push"],
            # GitLab's three meta fields, plus ours: the level the protection rules meet a push
            # or delete at (the registry checks the rules itself, from the token alone).
            "meta": {"project_path": NAME, "project_id": project.id,
                     "root_namespace_id": group.id, "rules_level": AccessLevel.DEVELOPER},
        }],
    }


ROLE_GRANTS = [
    # (project visibility, who, the actions granted of pull,push,delete,*; None = no entry)
    ("private", "stranger", None),
    ("private", "guest", None),
    ("private", "reporter", ["pull"]),
    ("private", "developer", ["pull", "push"]),
    ("private", "maintainer", ["pull", "push", "delete", "*"]),
    ("private", "owner", ["pull", "push", "delete", "*"]),
    ("private", "admin", ["pull", "push", "delete", "*"]),
    ("public", "anonymous", ["pull"]),
    ("public", "stranger", ["pull"]),
    ("internal", "anonymous", None),
    ("internal", "stranger", ["pull"]),
    ("private", "anonymous", None),
]
LEVELS = {"guest": AccessLevel.GUEST, "reporter": AccessLevel.REPORTER,
          "developer": AccessLevel.DEVELOPER, "maintainer": AccessLevel.MAINTAINER,
          "owner": AccessLevel.OWNER}


@pytest.mark.parametrize(("visibility", "who", "granted"), ROLE_GRANTS)
async def test_actions_the_caller_may_not_take_are_dropped(
    client: TestClient, factory: Factory, settings: Settings, visibility: str, who: str,
    granted: list[str] | None,
) -> None:
    project = await factory.project(NAME, visibility=visibility)
    headers = None
    if who != "anonymous":
        user = await factory.user(who, admin=who == "admin")
        if who in LEVELS:
            await factory.member(user.user, LEVELS[who], project=project)
        headers = oc.basic(who, user.token)

    claims = await claims_of(client, settings, f"repository:{NAME}:{EVERY_ACTION}",
                             headers=headers)

    assert actions(claims) == ([granted] if granted else [])
    assert claims["sub"] == ("" if who == "anonymous" else who)


@pytest.mark.parametrize(
    ("scopes", "granted"),
    [
        (("read_registry",), ["pull"]),
        (("read_api",), ["pull"]),
        (("write_registry",), ["pull", "push", "delete", "*"]),
        (("api",), ["pull", "push", "delete", "*"]),
    ],
)
async def test_the_personal_tokens_scopes_limit_the_grant(
    client: TestClient, factory: Factory, settings: Settings, scopes: tuple[str, ...],
    granted: list[str],
) -> None:
    project = await factory.project(NAME)
    user = await factory.user("maintainer", scopes=scopes)
    await factory.member(user.user, AccessLevel.MAINTAINER, project=project)
    claims = await claims_of(client, settings, f"repository:{NAME}:{EVERY_ACTION}",
                             headers=oc.basic("maintainer", user.token))
    assert actions(claims) == [granted]


async def test_several_scopes_each_become_an_entry_and_unusable_ones_are_dropped(
    client: TestClient, factory: Factory, settings: Settings
) -> None:
    await factory.project(NAME)
    await factory.project("group/other")
    admin = await factory.user("root", admin=True)
    claims = await claims_of(
        client, settings,
        f"repository:{NAME}:pull repository:{NAME}/web:push",  # two in one value
        "repository:group/other:pull,frobnicate",  # unknown action dropped
        "repository:nobody/here:pull",  # no project owns it
        "repository:Group/App:pull",  # not a valid image path
        "garbage",
        "repository(plugin):group/app:pull",  # a resource type GitLab does not serve
        headers=oc.basic("root", admin.token),
    )
    assert [(e["name"], e["actions"]) for e in claims["access"]] == [
        (NAME, ["pull"]), (f"{NAME}/web", ["push"]), ("group/other", ["pull"]),
    ]


@pytest.mark.parametrize(("who", "scope", "granted"), [
    ("admin", "registry:catalog:*", True),
    ("admin", "registry:catalog:pull", False),
    ("admin", "registry:other:*", False),
    ("user", "registry:catalog:*", False),
])
async def test_the_catalog_scope_is_for_administrators(
    client: TestClient, factory: Factory, settings: Settings, who: str, scope: str,
    granted: bool,
) -> None:
    user = await factory.user(who, admin=who == "admin")
    claims = await claims_of(client, settings, scope, headers=oc.basic(who, user.token))
    expected = [{"type": "registry", "name": "catalog", "actions": ["*"]}] if granted else []
    assert claims["access"] == expected


async def test_a_signed_in_caller_may_ask_for_nothing_an_anonymous_one_may_not(
    client: TestClient, factory: Factory, settings: Settings
) -> None:
    """``docker login`` asks with no scope; GitLab answers it, but not anonymously."""
    user = await factory.user("dev")
    assert (await claims_of(client, settings, headers=oc.basic("dev", user.token)))[
        "access"] == []
    response = await ask(client)
    assert response.status == 403
    assert await response.json() == {
        "errors": [{"code": "DENIED", "message": "access forbidden"}]}


@pytest.mark.parametrize("credentials", ["wrong-token", "other-user", "expired", "malformed"])
async def test_bad_credentials_are_401_with_gitlabs_body(
    client: TestClient, factory: Factory, clock: SettableClock, credentials: str
) -> None:
    await factory.project(NAME, visibility="public")
    dev = await factory.user("dev")
    await factory.user("other")
    old = await factory.user("old", expires_at=(clock.now() - timedelta(days=1)).date())
    headers = {
        "wrong-token": oc.basic("dev", "glpat-not-a-token"),
        "other-user": oc.basic("other", dev.token),
        "expired": oc.basic("old", old.token),
        "malformed": {"Authorization": "Basic %%%"},
    }[credentials]
    # Even for a public pull anonymous would get: credentials that are given must be good.
    response = await ask(client, f"repository:{NAME}:pull", headers=headers)
    assert response.status == 401
    assert await response.json() == {
        "errors": [{"code": "UNAUTHORIZED", "message": ACCESS_DENIED_TEXT}]}
    assert dev.token not in await response.text()


@pytest.mark.parametrize("service", [None, "", "dependency_proxy", "registry"])
async def test_an_unknown_service_is_a_bare_404(
    client: TestClient, factory: Factory, service: str | None
) -> None:
    dev = await factory.user("dev")
    response = await ask(client, f"repository:{NAME}:pull", service=service,
                         headers=oc.basic("dev", dev.token))
    assert response.status == 404
    assert await response.read() == b""


@pytest.fixture
async def app_with(
    aiohttp_client: Any, catalog: Catalog, clock: SettableClock
) -> Any:
    async def make(settings: Settings) -> TestClient:
        return await aiohttp_client(  # type: ignore[no-any-return]
            create_app(settings, catalog=catalog, clock=clock))
    return make


async def test_the_lifetime_is_a_setting(
    app_with: Any, factory: Factory, settings: Settings
) -> None:
    short = settings.replace("auth", registry_token_ttl_seconds=60,
                             registry_token_issuer="registry-test")
    client = await app_with(short)
    dev = await factory.user("dev")
    response = await ask(client, headers=oc.basic("dev", dev.token))
    body = await response.json()
    assert body["expires_in"] == 60
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60
    assert claims["iss"] == "registry-test"


async def test_a_configured_key_signs_the_tokens(
    app_with: Any, factory: Factory, settings: Settings, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "configured.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    client = await app_with(settings.replace("auth", registry_token_key=str(path)))
    dev = await factory.user("dev")
    token = (await (await ask(client, headers=oc.basic("dev", dev.token))).json())["token"]
    jwt.decode(token, key.public_key(), algorithms=["RS256"], audience=SERVICE,
               options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
    assert not (settings.data_path / DEFAULT_KEY_FILE).exists()


def test_the_key_file_is_private_and_made_once(tmp_path: Path) -> None:
    """Eight servers starting together on one data directory all end up with one key."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_signing_key("", tmp_path), range(8)))
    assert len({k.key_id for k in keys}) == 1
    path = tmp_path / DEFAULT_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [DEFAULT_KEY_FILE]
    assert load_signing_key("", tmp_path).key_id == keys[0].key_id


@pytest.mark.parametrize("content", [b"", b"not a key", "ec"])
def test_an_unusable_configured_key_is_refused_by_name(
    tmp_path: Path, content: bytes | str
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "bad.pem"
    if content == "ec":
        content = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
    assert isinstance(content, bytes)
    path.write_bytes(content)
    with pytest.raises(SigningKeyUnusable, match=r"bad\.pem"):
        load_signing_key(str(path), tmp_path)
    with pytest.raises(SigningKeyUnusable, match=r"missing\.pem"):
        load_signing_key(str(tmp_path / "missing.pem"), tmp_path)
