"""Deploy tokens: minting, listing, looking up and removing them, for the API (Maintainer+ of
the project or group; the instance-wide list for administrators) and for the operator (the
``admin`` command and seed files, with no actor).

A token's value exists only in the answer that creates it; the catalog keeps its sha256, as for
personal access tokens (``tokens.token_digest``). Using a token is ``deploy_credentials``.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from registry_service.catalog import deploy_tokens as deploy_token_rows
from registry_service.catalog import namespaces as namespace_rows
from registry_service.catalog import projects as project_rows

# Re-exported: handlers name the row type through this module, never the catalog's.
from registry_service.catalog.deploy_tokens import DeployToken as DeployToken
from registry_service.catalog.errors import UniqueViolated
from registry_service.catalog.protocols import CatalogBackend, Writer
from registry_service.errors import BadRequest, RecordNotFound
from registry_service.services import groups, projects
from registry_service.services.deploy_credentials import DEPLOY_TOKEN_PREFIX
from registry_service.services.permissions import Ability, Actor
from registry_service.services.tokens import token_digest
from registry_service.services.users import require_admin, require_signed_in

# GitLab's DeployToken::AVAILABLE_SCOPES, in its order (the order answers list them in). Only
# the registry ones mean something here; the others are accepted and kept, so scripts written
# for GitLab run unchanged.
AVAILABLE_SCOPES = (
    "read_repository",
    "read_registry",
    "write_registry",
    "read_package_registry",
    "write_package_registry",
    "read_virtual_registry",
    "write_virtual_registry",
)
USERNAME_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-+.")
MAX_TEXT_LENGTH = 255


@dataclass(frozen=True)
class NewDeployToken:
    """A freshly minted deploy token: the only time its value is known."""

    token: DeployToken
    value: str


@dataclass(frozen=True)
class TokenOwner:
    """The project or group a route names (``:id``), not yet resolved."""

    kind: Literal["project", "group"]
    ref: str


class DeployTokenInvalid(ValueError):
    """What was asked of a new token cannot be (the message says why, in GitLab's words)."""


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in AVAILABLE_SCOPES]
    if unknown:
        raise DeployTokenInvalid(f"Scopes {', '.join(unknown)} are not deploy token scopes")
    if not scopes:
        raise DeployTokenInvalid("Scopes can't be blank")
    return sorted(set(scopes), key=AVAILABLE_SCOPES.index)


def _check_texts(name: str, username: str | None) -> None:
    # GitLab's DeployToken model validations, with its messages.
    if not name.strip():
        raise DeployTokenInvalid("Name can't be blank")
    if len(name) > MAX_TEXT_LENGTH or len(username or "") > MAX_TEXT_LENGTH:
        field = "Name" if len(name) > MAX_TEXT_LENGTH else "Username"
        raise DeployTokenInvalid(f"{field} is too long (maximum is {MAX_TEXT_LENGTH} characters)")
    if username and not set(username) <= USERNAME_CHARACTERS:
        raise DeployTokenInvalid(
            "Username can contain only letters, digits, '_', '-', '+', and '.'"
        )


async def insert_deploy_token(
    tx: Writer,
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
    name: str,
    username: str | None,
    scopes: list[str],
    expires_at: datetime | None,
    now: datetime,
    value: str | None = None,
) -> NewDeployToken:
    """Mint a token (or register a chosen ``value``) inside the caller's transaction.

    Raises DeployTokenInvalid for a bad name, username or scopes, or a value already taken."""
    _check_texts(name, username)
    scopes = check_scopes(scopes)
    value = value or DEPLOY_TOKEN_PREFIX + secrets.token_urlsafe(24)
    try:
        token_id = await deploy_token_rows.insert_deploy_token(
            tx,
            project_id=project_id,
            namespace_id=namespace_id,
            name=name,
            username=username,
            token_digest=token_digest(value),
            scopes=scopes,
            expires_at=expires_at,
            now=now,
        )
    except UniqueViolated:
        raise DeployTokenInvalid("that token value is already registered") from None
    token = await deploy_token_rows.select_deploy_token_by_id(tx, token_id)
    assert token is not None
    return NewDeployToken(token, value)


# (project_id, namespace_id) of a token's owner: exactly one is set.
OwnerIds = tuple[int | None, int | None]


async def _resolve(catalog: CatalogBackend, actor: Actor, owner: TokenOwner) -> OwnerIds:
    """The owner's ids, once the actor may manage its tokens: 401 anonymous, 404 missing or
    hidden, 403 below Maintainer."""
    require_signed_in(actor)  # GitLab's authenticate! comes before any lookup
    if owner.kind == "project":
        project = await projects.find_project(catalog, actor, owner.ref)
        projects.require(project, actor, Ability.ADMIN_DEPLOY_TOKEN)
        return project.project.id, None
    group = await groups.find_group(catalog, actor, owner.ref)
    groups.require(group, actor, Ability.ADMIN_DEPLOY_TOKEN)
    return None, group.group.id


async def list_deploy_tokens(
    catalog: CatalogBackend,
    actor: Actor,
    owner: TokenOwner | None,
    *,
    active: bool,
    limit: int,
    offset: int,
    now: datetime,
) -> tuple[list[DeployToken], int]:
    """A page of a project's or group's tokens, or (``owner`` None, administrators only) of
    every token; ``active`` keeps those neither revoked nor expired. Also the total."""
    project_id = namespace_id = None
    if owner is None:
        require_admin(actor)
    else:
        project_id, namespace_id = await _resolve(catalog, actor, owner)
    return await deploy_token_rows.select_deploy_tokens_page(
        catalog.reader,
        project_id=project_id,
        namespace_id=namespace_id,
        active_at=now if active else None,
        limit=limit,
        offset=offset,
    )


async def create_deploy_token(
    catalog: CatalogBackend,
    actor: Actor,
    owner: TokenOwner,
    *,
    name: str,
    username: str | None,
    scopes: list[str],
    expires_at: datetime | None,
    now: datetime,
) -> NewDeployToken:
    project_id, namespace_id = await _resolve(catalog, actor, owner)
    try:
        async with catalog.transaction() as tx:
            return await insert_deploy_token(
                tx,
                project_id=project_id,
                namespace_id=namespace_id,
                name=name,
                username=username,
                scopes=scopes,
                expires_at=expires_at,
                now=now,
            )
    except DeployTokenInvalid as err:
        raise BadRequest(str(err)) from None


def _is_owners(token: DeployToken, owner: OwnerIds) -> bool:
    return (token.project_id, token.namespace_id) == owner


async def _owned(catalog: CatalogBackend, owner: OwnerIds, token_id: int) -> DeployToken:
    token = await deploy_token_rows.select_deploy_token_by_id(catalog.reader, token_id)
    if token is None or not _is_owners(token, owner):
        raise RecordNotFound()
    return token


async def get_deploy_token(
    catalog: CatalogBackend, actor: Actor, owner: TokenOwner, token_id: int
) -> DeployToken:
    """One of the owner's tokens; ``404 Not found`` for another owner's."""
    return await _owned(catalog, await _resolve(catalog, actor, owner), token_id)


async def delete_deploy_token(
    catalog: CatalogBackend, actor: Actor, owner: TokenOwner, token_id: int
) -> None:
    """Remove one of the owner's tokens (GitLab destroys it; revoking is the operator's)."""
    token = await _owned(catalog, await _resolve(catalog, actor, owner), token_id)
    async with catalog.transaction() as tx:
        await deploy_token_rows.delete_deploy_token(tx, token.id)


async def revoke_deploy_token(catalog: CatalogBackend, token_id: int) -> bool:
    """The operator's revocation: the token stays listed, ``revoked``, and stops working."""
    async with catalog.transaction() as tx:
        return await deploy_token_rows.update_deploy_token_revoked(tx, token_id)


async def all_deploy_tokens(catalog: CatalogBackend) -> list[DeployToken]:
    """Every token by id (the operator's view)."""
    tokens, _ = await deploy_token_rows.select_deploy_tokens_page(
        catalog.reader, limit=-1, offset=0
    )
    return tokens


# --- the operator's side: the admin command and seed files ---------------------------------


async def _owner_ids(tx: Writer, project_path: str | None, group_path: str | None) -> OwnerIds:
    if project_path is not None:
        project = await project_rows.select_project_by_path(tx, project_path)
        if project is None:
            raise DeployTokenInvalid(f"no project {project_path!r}")
        return project.id, None
    namespace = await namespace_rows.select_namespace_by_path(tx, group_path or "")
    if namespace is None or namespace.kind != "group":
        raise DeployTokenInvalid(f"no group {group_path!r}")
    return None, namespace.id


async def ensure_deploy_token(
    tx: Writer,
    *,
    project_path: str | None = None,
    group_path: str | None = None,
    name: str,
    username: str | None,
    scopes: list[str],
    expires_at: datetime | None,
    now: datetime,
    value: str | None = None,
) -> NewDeployToken | None:
    """A token of the project or group at that full path, with a chosen ``value`` or a random
    one; None if the chosen value is already this owner's (a seed file loaded again).

    Raises DeployTokenInvalid for a missing owner, bad fields, or another owner's value."""
    owner = await _owner_ids(tx, project_path, group_path)
    if value is not None:
        if len(value) < 20:
            raise DeployTokenInvalid(f"deploy token {name!r}: at least 20 characters")
        known = await deploy_token_rows.select_deploy_token_by_digest(tx, token_digest(value))
        if known is not None:
            if not _is_owners(known, owner):
                raise DeployTokenInvalid(f"deploy token {name!r}: that value is another's")
            return None
    return await insert_deploy_token(
        tx, project_id=owner[0], namespace_id=owner[1], name=name, username=username,
        scopes=scopes, expires_at=expires_at, now=now, value=value,
    )


async def owner_path(catalog: CatalogBackend, token: DeployToken) -> str:
    """``project <full path>`` or ``group <full path>``, for the operator's listing."""
    if token.project_id is not None:
        project = await project_rows.select_project_by_id(catalog.reader, token.project_id)
        return f"project {project.full_path if project else token.project_id}"
    assert token.namespace_id is not None
    group = await namespace_rows.select_namespace_by_id(catalog.reader, token.namespace_id)
    return f"group {group.full_path if group else token.namespace_id}"
