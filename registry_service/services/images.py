"""Who may do what to an image path under /v2: path → project → repository, and the checks.

GitLab's rules (gitlab-api.md §8, oci-distribution.md "Decisions"): an image path belongs to the
longest existing project among its three longest prefixes; pull needs Reporter+ (or a public or
internal project), push Developer+, delete Maintainer+; a token must carry a registry scope.

Failures are ordered so a client learns only what it may know:

- a project the caller may not see answers exactly as no project at all (gitlab-api.md §4, as
  ``/api/v4`` answers ``404 Project Not Found`` for both): 401 with the Bearer challenge to an
  anonymous caller, so the client logs in and retries, else ``NAME_UNKNOWN``;
- a visible project, anonymous caller and not allowed → 401;
- a visible project and too low a role or scope → ``DENIED``.

``NAME_UNKNOWN`` names the project to create (``project_to_create``) only to a caller who may
create it (``may_create_project``), a test that reads namespaces only as the caller sees them,
so it cannot tell a hidden project or group from a missing one either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from registry_service.catalog import members as member_rows
from registry_service.catalog import namespaces as namespace_rows
from registry_service.catalog import projects as project_rows
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.errors import ForeignKeyViolated
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Project, Repository
from registry_service.errors import Forbidden, NameUnknown, RegistryError, Unauthorized
from registry_service.names import project_path_candidates
from registry_service.services import provisioning
from registry_service.services.groups import GroupAccess, namespace_level
from registry_service.services.permissions import Ability, AccessLevel, Actor
from registry_service.services.projects import ProjectAccess, project_level
from registry_service.services.tokens import REGISTRY_READ_SCOPES, REGISTRY_WRITE_SCOPES


class Action(StrEnum):
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"


_ABILITY = {
    Action.PULL: Ability.READ_CONTAINER_IMAGE,
    Action.PUSH: Ability.CREATE_CONTAINER_IMAGE,
    Action.DELETE: Ability.ADMIN_CONTAINER_IMAGE,
}
_SCOPES = {
    Action.PULL: REGISTRY_READ_SCOPES,
    Action.PUSH: REGISTRY_WRITE_SCOPES,
    Action.DELETE: REGISTRY_WRITE_SCOPES,
}


@dataclass(frozen=True)
class Image:
    """An image path the caller may act on, resolved to its project and repository name."""

    path: str
    project_id: int
    project_path: str
    # The repository's name below the project ("" for the project's root image).
    name: str


def allowed(actor: Actor, access: ProjectAccess, action: Action) -> bool:
    if actor.scopes is not None and not actor.scopes & _SCOPES[action]:
        return False
    return access.can(actor, _ABILITY[action])


async def owning_project(catalog: CatalogBackend, image_path: str) -> Project | None:
    """The project ``image_path`` belongs to, if one exists (gitlab-api.md §8)."""
    found = await member_rows.select_owning_project_with_level(
        catalog.reader, project_path_candidates(image_path), None
    )
    return found[0] if found is not None else None


async def owning_project_access(
    catalog: CatalogBackend, actor: Actor, image_path: str
) -> ProjectAccess | None:
    """The project ``image_path`` belongs to, if one exists, with the caller's level on it:
    one catalog statement (every /v2 call by Basic or anonymously asks for both)."""
    found = await member_rows.select_owning_project_with_level(
        catalog.reader, project_path_candidates(image_path), actor.user_id
    )
    if found is None:
        return None
    project, level = found
    return ProjectAccess(project, AccessLevel(level))


def project_to_create(image_path: str) -> str | None:
    """The project an unowned image path would go to: the shortest of the prefixes that may own
    it (gitlab-api.md §8), so the repository sits as deep below it as allowed; None when no
    project can own the path (fewer than 2 or more than 19 components).

    ``group/app`` → ``group/app``; ``group/app/web`` → ``group/app`` (repository ``web``);
    ``a/b/c/d/e`` → ``a/b/c`` (``a/b`` would leave ``c/d/e`` three levels deep, and a later
    pull of the path would never look at ``a/b``).
    """
    candidates = project_path_candidates(image_path)
    return candidates[-1] if candidates else None


async def resolve(
    catalog: CatalogBackend,
    actor: Actor,
    image_path: str,
    action: Action,
    *,
    auto_create: bool = False,
    now: datetime | None = None,
) -> Image:
    """The image at ``image_path`` if ``actor`` may ``action`` it; raise the right error if not.

    With ``auto_create`` (``registry.auto_create_projects``) an administrator's push to a path
    no project owns creates the project (and its missing groups) first.
    """
    access = await owning_project_access(catalog, actor, image_path)
    if access is None:
        target = project_to_create(image_path)
        creating = auto_create and action is Action.PUSH and actor.is_admin
        if creating and now is not None and target is not None:
            project = await _create_project(catalog, actor, image_path, target, now)
            access = ProjectAccess(project, await project_level(catalog, actor, project.id))
    return await admit(catalog, actor, image_path, action, access)


async def admit(
    catalog: CatalogBackend,
    actor: Actor,
    image_path: str,
    action: Action,
    access: ProjectAccess | None,
) -> Image:
    """The image at ``image_path`` in the project found to own it (``access``; None when none
    does) if ``actor`` may ``action`` it; the errors of ``resolve`` if not."""
    if access is None:
        raise await _unknown_name(catalog, actor, image_path)
    project = access.project
    if not allowed(actor, access, action):
        if not access.can(actor, Ability.READ_PROJECT):
            raise await _unknown_name(catalog, actor, image_path)
        if actor.is_anonymous:
            raise Unauthorized()
        raise Forbidden(f"{action} access to {image_path!r} is denied", detail={"name": image_path})
    name = image_path[len(project.full_path) + 1 :]
    return Image(
        path=image_path, project_id=project.id, project_path=project.full_path, name=name
    )


async def _unknown_name(catalog: CatalogBackend, actor: Actor, image_path: str) -> RegistryError:
    """The answer for a path no project owns, or whose project ``actor`` may not see: it must
    not depend on which of the two it is."""
    if actor.is_anonymous:
        return Unauthorized()
    target = project_to_create(image_path)
    if target is None:
        # A matter of grammar, not of what exists: the same for everyone.
        return NameUnknown(
            f"no project owns image path {image_path!r}; an image path needs at least a group"
            " and a project",
            detail={"name": image_path, "project_to_create": None},
        )
    if await may_create_project(catalog, actor, target):
        return NameUnknown(
            f"no project owns image path {image_path!r}; create project {target!r} first",
            detail={"name": image_path, "project_to_create": target},
        )
    return NameUnknown(detail={"name": image_path})


async def may_create_project(catalog: CatalogBackend, actor: Actor, full_path: str) -> bool:
    """Whether ``actor`` could create project ``full_path`` through the API, as far as the
    namespaces they can see tell (a group hidden from them counts as absent).

    The rules of ``projects.create_project`` and ``groups.create_group``: an administrator
    may create anything; a user may create projects in their own namespace and in a group
    where they are Maintainer+ (``create_projects``); a missing group may be created below a
    group where they are Maintainer+ (``create_subgroup``), a missing top-level group by any
    signed-in user (who then owns it). Nothing may be created below another user's namespace.
    So a user told to create a project where a group hidden from them exists finds the path
    taken when they try: the price of not telling them here.
    """
    if actor.is_admin:
        return True
    if actor.is_anonymous or actor.deploy_token is not None:
        return False
    components = full_path.split("/")[:-1]
    for depth in range(len(components), 0, -1):
        namespace = await namespace_rows.select_namespace_by_path(
            catalog.reader, "/".join(components[:depth])
        )
        if namespace is None:
            continue
        if namespace.kind == "user":
            # Usernames are public (``GET /users``): a user's namespace is never hidden.
            return depth == len(components) and namespace.owner_id == actor.user_id
        group = GroupAccess(namespace, await namespace_level(catalog, actor, namespace.id))
        if not group.can(actor, Ability.READ_GROUP):
            continue
        wanted = Ability.CREATE_PROJECTS if depth == len(components) else Ability.CREATE_SUBGROUP
        return group.can(actor, wanted)
    return True


async def _create_project(
    catalog: CatalogBackend, actor: Actor, image_path: str, full_path: str, now: datetime
) -> Project:
    components = full_path.split("/")
    try:
        async with catalog.transaction() as tx:
            for depth in range(1, len(components)):
                prefix = "/".join(components[:depth])
                # An existing namespace is used as it is: it may be a user's own (an admin
                # pushing to ``<username>/app``), which ensure_group would refuse as not a group.
                if await namespace_rows.select_namespace_by_path(tx, prefix) is not None:
                    continue
                await provisioning.ensure_group(
                    tx,
                    full_path=prefix,
                    name=None,
                    visibility="private",
                    description="",
                    now=now,
                )
            project, _ = await provisioning.ensure_project(
                tx,
                full_path=full_path,
                name=None,
                visibility="private",
                registry_access_level="enabled",
                description="created by a push",
                creator_id=actor.user_id,
                now=now,
            )
    except provisioning.ProvisioningFailed as err:
        # E.g. a group under a user's namespace: a client error, not a 500.
        raise NameUnknown(
            f"no project owns image path {image_path!r}, and project {full_path!r} cannot be "
            f"created: {err}",
            detail={"name": image_path, "project_to_create": full_path},
        ) from err
    return project


async def find_repository(catalog: CatalogBackend, image: Image) -> Repository:
    """The image's repository row; NAME_UNKNOWN if nothing was ever pushed there."""
    repository = await repository_rows.select_repository(
        catalog.reader, image.project_id, image.name
    )
    return require_repository(image, repository)


def require_repository(image: Image, repository: Repository | None) -> Repository:
    """The image's repository as found; NAME_UNKNOWN if it is missing or being deleted."""
    if repository is None or repository.status == "delete_ongoing":
        raise NameUnknown(detail={"name": image.path})
    return repository


async def ensure_repository(catalog: CatalogBackend, image: Image, now: datetime) -> Repository:
    """The image's repository, created by the first authorised push (as GitLab does)."""
    existing = await repository_rows.select_repository(
        catalog.reader, image.project_id, image.name
    )
    if existing is not None:
        return existing
    try:
        return await catalog.run_write(
            lambda tx: repository_rows.ensure_repository(tx, image.project_id, image.name, now)
        )
    except ForeignKeyViolated:
        # The project went after the caller was let in (a registry token names it for its
        # lifetime): as if it had never been.
        raise NameUnknown(detail={"name": image.path}) from None


async def visible_image_paths(catalog: CatalogBackend, actor: Actor) -> list[str]:
    """Every image path with a repository that ``actor`` may pull, sorted (``/v2/_catalog``)."""
    projects = {p.id: p for p in await project_rows.select_all_projects(catalog.reader)}
    readable: dict[int, bool] = {}
    paths: list[str] = []
    for project_id, name in await repository_rows.select_repository_names(catalog.reader):
        project = projects.get(project_id)
        if project is None:
            continue
        if project_id not in readable:
            level = await project_level(catalog, actor, project_id)
            readable[project_id] = allowed(actor, ProjectAccess(project, level), Action.PULL)
        if readable[project_id]:
            paths.append(f"{project.full_path}/{name}" if name else project.full_path)
    return sorted(paths)
