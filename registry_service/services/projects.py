"""Projects: resolving ``:id``, the actor's abilities on one, creating, listing.

The order of checks is GitLab's (gitlab-api.md §4): a project that does not exist or that the
actor may not see is ``404 Project Not Found``; a visible project with too low a role is 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry_service.catalog import members as member_rows
from registry_service.catalog import namespaces as namespace_rows
from registry_service.catalog import projects as project_rows
from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Namespace, Project
from registry_service.errors import Forbidden, ProjectNotFound, ValidationFailed
from registry_service.services.groups import find_group, visibility_problem
from registry_service.services.groups import require as require_group
from registry_service.services.paths import join_path, path_from_name, path_problem
from registry_service.services.permissions import (
    Ability,
    AccessLevel,
    Actor,
    RegistryAccess,
    Visibility,
    can_see,
    deploy_token_can,
    project_can,
)
from registry_service.services.policies import (
    CleanupPolicy,
    default_policy,
    policies_of,
    policy_of,
    update_policy,
)
from registry_service.services.refs import parse_ref
from registry_service.services.tokens import actor_for
from registry_service.services.users import require_signed_in


@dataclass(frozen=True)
class ProjectAccess:
    """A project together with the actor's effective role on it."""

    project: Project
    level: AccessLevel

    def can(self, actor: Actor, ability: Ability) -> bool:
        if actor.deploy_token is not None:
            return deploy_token_can(
                actor,
                ability,
                project_id=self.project.id,
                visibility=Visibility(self.project.visibility),
                registry=RegistryAccess(self.project.container_registry_access_level),
            )
        return project_can(
            actor,
            ability,
            visibility=Visibility(self.project.visibility),
            registry=RegistryAccess(self.project.container_registry_access_level),
            level=self.level,
        )


@dataclass(frozen=True)
class ProjectView:
    project: Project
    namespace: Namespace
    policy: CleanupPolicy


async def project_level(catalog: CatalogBackend, actor: Actor, project_id: int) -> AccessLevel:
    if actor.user_id is None:
        return AccessLevel.NO_ACCESS
    return AccessLevel(
        await member_rows.select_project_level(catalog.reader, actor.user_id, project_id)
    )


async def lookup_project(
    catalog: CatalogBackend, ref: str, *, include_marked: bool = False
) -> Project | None:
    """The project ``ref`` names; one marked for deletion is gone (for /v2 too) except to a
    repeated deletion (``include_marked``)."""
    key = parse_ref(ref)
    if isinstance(key, int):
        project = await project_rows.select_project_by_id(catalog.reader, key)
    else:
        project = await project_rows.select_project_by_path(catalog.reader, key)
    if project is not None and project.marked_for_deletion_at is not None and not include_marked:
        return None
    return project


async def find_project(
    catalog: CatalogBackend, actor: Actor, ref: str, *, include_marked: bool = False
) -> ProjectAccess:
    """The project named by ``:id``; 404 Project Not Found if missing or hidden."""
    project = await lookup_project(catalog, ref, include_marked=include_marked)
    if project is None:
        raise ProjectNotFound()
    level = await project_level(catalog, actor, project.id)
    if not can_see(actor, Visibility(project.visibility), level):
        raise ProjectNotFound()
    return ProjectAccess(project, level)


def require(access: ProjectAccess, actor: Actor, ability: Ability) -> None:
    """403 unless the actor has the ability on this (visible) project."""
    if not access.can(actor, ability):
        raise Forbidden()


async def view(catalog: CatalogBackend, project: Project) -> ProjectView:
    namespace = await namespace_rows.select_namespace_by_id(catalog.reader, project.namespace_id)
    assert namespace is not None
    return ProjectView(project, namespace, await policy_of(catalog, project))


async def update_project(
    catalog: CatalogBackend,
    actor: Actor,
    ref: str,
    *,
    description: str | None,
    policy_changes: Mapping[str, Any] | None,
    now: datetime,
    registry_access_level: str | None = None,
) -> ProjectView:
    """GitLab's PUT /projects/:id for what this registry keeps: the description, the
    registry's access level and the cleanup policy (``container_expiration_policy_attributes``).
    Maintainer+ (admin_project)."""
    require_signed_in(actor)  # GitLab's authenticate_non_get!: 401 before any 404 or 403
    access = await find_project(catalog, actor, ref)
    require(access, actor, Ability.ADMIN_PROJECT)
    if policy_changes is not None:
        await update_policy(catalog, access.project, policy_changes, now)
    project = access.project
    if description is not None and description != project.description:
        async with catalog.transaction() as tx:
            await project_rows.update_project_description(tx, project.id, description)
            found = await project_rows.select_project_by_id(tx, project.id)
        if found is None:
            raise ProjectNotFound()
        project = found
    if registry_access_level is not None:
        project = await set_registry_access_level(catalog, project, registry_access_level)
    return await view(catalog, project)


async def set_registry_access_level(
    catalog: CatalogBackend, project: Project, level: str
) -> Project:
    """``enabled`` (as the project's visibility), ``private`` (members only) or ``disabled``;
    the registry enforces it through ``permissions.project_can``."""
    async with catalog.transaction() as tx:
        await project_rows.update_registry_access_level(tx, project.id, RegistryAccess(level))
        found = await project_rows.select_project_by_id(tx, project.id)
    if found is None:
        raise ProjectNotFound()
    return found


async def create_project(
    catalog: CatalogBackend,
    actor: Actor,
    *,
    name: str | None,
    path: str | None,
    namespace_id: int | None,
    visibility: str,
    registry_access_level: str,
    description: str,
    now: datetime,
) -> ProjectView:
    """A new project in a group the actor may create projects in, or in its own namespace."""
    user_id = require_signed_in(actor)
    if namespace_id is None:
        namespace = await namespace_rows.select_user_namespace(catalog.reader, user_id)
        assert namespace is not None, "every user has a personal namespace"
    else:
        found = await namespace_rows.select_namespace_by_id(catalog.reader, namespace_id)
        if found is None or found.marked_for_deletion_at is not None:
            raise ValidationFailed({"namespace": ["is not valid"]})
        if found.kind == "group":
            group = await find_group(catalog, actor, str(found.id))
            require_group(group, actor, Ability.CREATE_PROJECTS)
        elif found.owner_id != user_id and not actor.is_admin:
            raise Forbidden()
        namespace = found
    name = name or path or ""
    path = path or path_from_name(name)
    problems: dict[str, list[str]] = {}
    if problem := path_problem(path):
        problems["path"] = [problem]
    if not name.strip():
        problems["name"] = ["can't be blank"]
    parent_visibility = namespace.visibility if namespace.kind == "group" else None
    if visibility_problem(visibility, parent_visibility):
        # GitLab's Project#visibility_level_allowed_by_group wording.
        problems["visibility_level"] = [
            f"{visibility} is not allowed in a {parent_visibility} group."
        ]
    full_path = join_path(namespace.full_path, path)
    async with catalog.transaction() as tx:
        if not problems and await project_rows.select_project_by_path(tx, full_path):
            problems["path"] = ["has already been taken"]
            problems["name"] = ["has already been taken"]
        if problems:
            raise ValidationFailed(problems)
        project_id = await project_rows.insert_project(
            tx,
            namespace_id=namespace.id,
            name=name,
            path=path,
            full_path=full_path,
            visibility=visibility,
            registry_access_level=registry_access_level,
            description=description,
            creator_id=user_id,
            now=now,
        )
        if namespace.kind == "group":
            inherited = await member_rows.select_namespace_level(tx, user_id, namespace.id)
            if inherited < AccessLevel.MAINTAINER:
                # Admins creating in a group they are not part of become its Maintainer.
                await member_rows.upsert_member(
                    tx,
                    user_id=user_id,
                    project_id=project_id,
                    access_level=AccessLevel.MAINTAINER,
                    expires_at=None,
                    now=now,
                )
        project = await project_rows.select_project_by_id(tx, project_id)
    assert project is not None
    return ProjectView(project, namespace, default_policy(project))


async def list_projects(
    catalog: CatalogBackend,
    actor: Actor,
    *,
    membership: bool,
    visibility: str | None,
    search: str | None,
    order_by: str,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[ProjectView], int]:
    """GitLab's GET /projects: every project the actor can see, newest first by default."""
    projects, total = await project_rows.select_projects_page(
        catalog.reader,
        user_id=actor.user_id,
        see_all=actor.is_admin,
        signed_in_non_external=not actor.is_anonymous and not actor.external,
        membership_only=membership and not actor.is_anonymous,
        visibility=visibility,
        search=search,
        order_by=order_by,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    namespaces = await namespace_rows.select_namespaces_by_ids(
        catalog.reader, sorted({p.namespace_id for p in projects})
    )
    policies = await policies_of(catalog, projects)
    return [
        ProjectView(p, namespaces[p.namespace_id], policies[p.id]) for p in projects
    ], total


async def list_all_projects(catalog: CatalogBackend) -> list[Project]:
    """Every project, in creation order (the operator's view: no actor, nothing hidden)."""
    return await project_rows.select_all_projects(catalog.reader)


async def user_can(
    catalog: CatalogBackend, user_id: int, project_id: int, ability: Ability
) -> bool:
    """Whether a user (as themself, unlimited by any token) has ``ability`` on the project now;
    False when either is gone. Jobs re-check their requester with this before acting."""
    user = await user_rows.select_user_by_id(catalog.reader, user_id)
    project = await project_rows.select_project_by_id(catalog.reader, project_id)
    if user is None or user.state != "active" or project is None:
        return False
    actor = actor_for(user, None)
    level = await project_level(catalog, actor, project_id)
    return ProjectAccess(project, level).can(actor, ability)
