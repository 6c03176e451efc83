"""The docker token flow's decisions (gitlab-api.md §8 "Token flow").

At ``/jwt/auth``: which of the scopes a caller asks for they get. Each ``repository:<path>:
<actions>`` scope becomes one access entry listing the actions the caller may take there (the
rules of ``images.allowed``: role, visibility, token scopes), with the project in ``meta``;
actions they may not take are dropped silently, and a scope with none left is dropped whole, as
GitLab does. ``registry:catalog:*`` is for administrators only.

On ``/v2``: what a verified token lets its bearer reach, read from the token alone. The image a
grant names resolves to its project through the token's ``meta``; no catalog lookup decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog import namespaces as namespace_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Project
from registry_service.errors import (
    AnonymousScopeInsufficient,
    BearerScopeInsufficient,
    Forbidden,
    NameInvalid,
    NameUnknown,
)
from registry_service.names import validate_repository_name
from registry_service.services import images
from registry_service.services.images import Action, Image
from registry_service.services.permissions import Actor
from registry_service.services.projects import ProjectAccess, project_level
from registry_service.services.protection import actor_level
from registry_service.services.registry_tokens import (
    ALL_ACTIONS,
    AccessEntry,
    Grant,
    IssuedToken,
    issue_token,
)
from registry_service.services.signing_keys import SigningKey
from registry_service.services.tokens import REGISTRY_READ_SCOPES

REPOSITORY = "repository"
# Ours, beside GitLab's meta members: the level protection rules compare a token's push or
# delete against.
RULES_LEVEL = "rules_level"
REGISTRY = "registry"
CATALOG = "catalog"
# The ability each requested action needs; "*" is GitLab's admin_container_image, which is
# what delete needs here too.
_ACTIONS = {
    "pull": Action.PULL,
    "push": Action.PUSH,
    "delete": Action.DELETE,
    ALL_ACTIONS: Action.DELETE,
}
# /v2/_catalog with a catalog grant lists what an administrator would see.
_CATALOG_READER = Actor(is_admin=True)


@dataclass(frozen=True)
class RequestedScope:
    type: str
    name: str
    actions: tuple[str, ...]


def parse_scopes(values: Sequence[str]) -> list[RequestedScope]:
    """``type:name:action,action`` scopes, several per value when space-separated (as a
    challenge's ``scope`` is); a scope that does not parse is ignored."""
    scopes = []
    for value in values:
        for text in value.split():
            kind, _, rest = text.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name and actions:
                wanted = tuple(dict.fromkeys(a for a in actions.split(",") if a))
                scopes.append(RequestedScope(kind, name, wanted))
    return scopes


async def issue_registry_token(
    catalog: CatalogBackend,
    key: SigningKey,
    actor: Actor,
    scope_values: Sequence[str],
    *,
    issuer: str,
    ttl_s: int,
    auto_create: bool,
    now: datetime,
) -> IssuedToken:
    """A token for ``actor`` granting what they may of the scopes asked for.

    ``access forbidden`` (403) for a token with no registry scope at all, and for an anonymous
    caller who asks for nothing, as GitLab answers.
    """
    scopes = parse_scopes(scope_values)
    if actor.scopes is not None and not actor.scopes & REGISTRY_READ_SCOPES:
        raise Forbidden("access forbidden")
    if actor.is_anonymous and not scopes:
        raise Forbidden("access forbidden")
    access = [
        entry
        for scope in scopes
        if (entry := await _grant(catalog, actor, scope, auto_create, now)) is not None
    ]
    return issue_token(
        key, issuer=issuer, subject=actor.username or "", access=access, now=now, ttl_s=ttl_s
    )


async def _grant(
    catalog: CatalogBackend, actor: Actor, scope: RequestedScope, auto_create: bool, now: datetime
) -> AccessEntry | None:
    if scope.type == REGISTRY:
        if actor.is_admin and scope.name == CATALOG and scope.actions == (ALL_ACTIONS,):
            return AccessEntry(REGISTRY, CATALOG, (ALL_ACTIONS,))
        return None
    if scope.type != REPOSITORY:
        return None
    try:
        validate_repository_name(scope.name)
    except NameInvalid:
        return None
    wanted = [a for a in scope.actions if a in _ACTIONS]
    creating = auto_create and actor.is_admin and "push" in wanted
    project = await _project(catalog, actor, scope.name, creating, now)
    if project is None:
        return None
    access = ProjectAccess(project, await project_level(catalog, actor, project.id))
    granted = tuple(a for a in wanted if images.allowed(actor, access, _ACTIONS[a]))
    if not granted:
        return None
    root = await namespace_rows.select_namespace_by_path(
        catalog.reader, project.full_path.split("/", 1)[0]
    )
    meta: dict[str, object] = {
        "project_path": project.full_path,
        "project_id": project.id,
        "root_namespace_id": root.id if root is not None else None,
    }
    if any(a != "pull" for a in granted):
        # Pushes and deletes meet the project's protection rules on /v2; the holder's level
        # rides in the token so that no catalog lookup decides who they are.
        meta[RULES_LEVEL] = actor_level(int(access.level), is_admin=actor.is_admin)
    return AccessEntry(REPOSITORY, scope.name, granted, meta)


async def _project(
    catalog: CatalogBackend, actor: Actor, image_path: str, creating: bool, now: datetime
) -> Project | None:
    project = await images.owning_project(catalog, image_path)
    if project is not None or not creating:
        return project
    # registry.auto_create_projects: the administrator's push would create the project, and
    # the token is where the push's rights are decided.
    try:
        await images.resolve(catalog, actor, image_path, Action.PUSH, auto_create=True, now=now)
    except NameUnknown:
        return None
    return await images.owning_project(catalog, image_path)


def granted_image(grant: Grant, image_path: str, action: Action) -> Image:
    """The image ``image_path`` if the grant allows ``action`` on it; else insufficient scope."""
    entry = grant.find(REPOSITORY, image_path, action.value)
    meta = entry.meta if entry is not None else None
    project_path = meta.get("project_path") if meta is not None else None
    project_id = meta.get("project_id") if meta is not None else None
    if not (
        isinstance(project_path, str)
        and isinstance(project_id, int)
        # Image paths are lowercase; a project's path keeps the case it was created with.
        and image_path.startswith(project_path.lower())
        and image_path[len(project_path) : len(project_path) + 1] in ("", "/")
    ):
        refused = AnonymousScopeInsufficient if grant.subject == "" else BearerScopeInsufficient
        raise refused(
            f"{action} access to {image_path!r} is not granted by the token",
            detail={"name": image_path},
        )
    return Image(
        path=image_path,
        project_id=project_id,
        project_path=project_path,
        name=image_path[len(project_path) + 1 :],
    )


def rules_level(grant: Grant, image_path: str, action: Action) -> int:
    """The protection-rules level the token grants its holder on ``image_path`` (the lowest,
    0, when the token carries none: every protected tag then refuses it)."""
    entry = grant.find(REPOSITORY, image_path, action.value)
    level = entry.meta.get(RULES_LEVEL) if entry is not None and entry.meta is not None else None
    return level if isinstance(level, int) else 0


async def catalog_paths(catalog: CatalogBackend, grant: Grant) -> list[str]:
    """``/v2/_catalog`` for a token: every image path, if it grants the catalog."""
    if grant.find(REGISTRY, CATALOG, ALL_ACTIONS) is None:
        refused = AnonymousScopeInsufficient if grant.subject == "" else BearerScopeInsufficient
        raise refused("the token does not grant the catalog")
    return await images.visible_image_paths(catalog, _CATALOG_READER)
