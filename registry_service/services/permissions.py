"""GitLab access levels and the ability table, as data and pure functions.

Nothing here touches the catalog: callers pass in what they know (the actor, the project's
visibility and registry access level, the actor's effective membership level) and get a yes or
no. The rules follow gitlab-api.md §4: a project the actor may not see is hidden (404), a
visible project with too low a role is 403, and a disabled registry is closed to everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class AccessLevel(IntEnum):
    NO_ACCESS = 0
    GUEST = 10
    REPORTER = 20
    DEVELOPER = 30
    MAINTAINER = 40
    OWNER = 50

    @classmethod
    def parse(cls, value: object) -> AccessLevel:
        """10/20/30/40/50, their names (``developer``), or raise ValueError."""
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown access level {value!r}") from None
        level = cls(int(value))  # type: ignore[call-overload]
        if level is cls.NO_ACCESS:
            raise ValueError("access level 0 grants nothing")
        return level


class Visibility(StrEnum):
    PRIVATE = "private"
    INTERNAL = "internal"
    PUBLIC = "public"


class RegistryAccess(StrEnum):
    ENABLED = "enabled"
    PRIVATE = "private"
    DISABLED = "disabled"


class Ability(StrEnum):
    READ_PROJECT = "read_project"
    ADMIN_PROJECT = "admin_project"
    READ_CONTAINER_IMAGE = "read_container_image"
    CREATE_CONTAINER_IMAGE = "create_container_image"
    DESTROY_CONTAINER_IMAGE = "destroy_container_image"
    ADMIN_CONTAINER_IMAGE = "admin_container_image"
    ADMIN_PROJECT_MEMBER = "admin_project_member"
    READ_GROUP = "read_group"
    CREATE_SUBGROUP = "create_subgroup"
    CREATE_PROJECTS = "create_projects"
    ADMIN_GROUP_MEMBER = "admin_group_member"
    ADMIN_DEPLOY_TOKEN = "admin_deploy_token"


# The least role a member needs for each ability on a private resource. Public and internal
# resources additionally open the read abilities to non-members (see the functions below).
PROJECT_MIN_LEVEL: dict[Ability, AccessLevel] = {
    Ability.READ_PROJECT: AccessLevel.GUEST,
    # PUT /projects/:id (the cleanup policy among its attributes).
    Ability.ADMIN_PROJECT: AccessLevel.MAINTAINER,
    Ability.READ_CONTAINER_IMAGE: AccessLevel.REPORTER,
    Ability.CREATE_CONTAINER_IMAGE: AccessLevel.DEVELOPER,
    Ability.DESTROY_CONTAINER_IMAGE: AccessLevel.DEVELOPER,
    Ability.ADMIN_CONTAINER_IMAGE: AccessLevel.MAINTAINER,
    Ability.ADMIN_PROJECT_MEMBER: AccessLevel.MAINTAINER,
    Ability.ADMIN_DEPLOY_TOKEN: AccessLevel.MAINTAINER,
}
GROUP_MIN_LEVEL: dict[Ability, AccessLevel] = {
    Ability.READ_GROUP: AccessLevel.GUEST,
    Ability.READ_CONTAINER_IMAGE: AccessLevel.REPORTER,
    Ability.CREATE_SUBGROUP: AccessLevel.MAINTAINER,
    Ability.CREATE_PROJECTS: AccessLevel.MAINTAINER,
    Ability.ADMIN_GROUP_MEMBER: AccessLevel.OWNER,
    Ability.ADMIN_DEPLOY_TOKEN: AccessLevel.MAINTAINER,
}
REGISTRY_ABILITIES = frozenset(
    {
        Ability.READ_CONTAINER_IMAGE,
        Ability.CREATE_CONTAINER_IMAGE,
        Ability.DESTROY_CONTAINER_IMAGE,
        Ability.ADMIN_CONTAINER_IMAGE,
    }
)


@dataclass(frozen=True)
class DeployTokenGrant:
    """What a deploy token reaches: the projects it was made for (its project, or every
    project below its group when it was presented)."""

    token_id: int
    project_ids: frozenset[int]


@dataclass(frozen=True)
class Actor:
    """Who is asking: a user (with the scopes of the token used), a deploy token (no user; its
    scopes and reach), or anonymous."""

    user_id: int | None = None
    username: str | None = None
    is_admin: bool = False
    external: bool = False
    # None = not limited by a token (internal callers: CLI, jobs, seeding).
    scopes: frozenset[str] | None = None
    deploy_token: DeployTokenGrant | None = None
    # The personal access token presented, if any (``/personal_access_tokens/self``).
    token_id: int | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and self.deploy_token is None


ANONYMOUS = Actor()


def _signed_in_non_external(actor: Actor) -> bool:
    return not actor.is_anonymous and not actor.external


def can_see(actor: Actor, visibility: Visibility, level: AccessLevel) -> bool:
    """Whether a project or group of this visibility is visible to the actor at all."""
    if actor.is_admin or level >= AccessLevel.GUEST or visibility is Visibility.PUBLIC:
        return True
    return visibility is Visibility.INTERNAL and _signed_in_non_external(actor)


def project_can(
    actor: Actor,
    ability: Ability,
    *,
    visibility: Visibility,
    registry: RegistryAccess,
    level: AccessLevel,
) -> bool:
    """The ability table for projects (gitlab-api.md §4)."""
    if not can_see(actor, visibility, level):
        return False
    if ability is Ability.READ_PROJECT:
        return True
    if ability in REGISTRY_ABILITIES and registry is RegistryAccess.DISABLED:
        return False
    if actor.is_admin:
        return True
    if (
        ability is Ability.READ_CONTAINER_IMAGE
        and registry is RegistryAccess.ENABLED
        and (
            visibility is Visibility.PUBLIC
            or (visibility is Visibility.INTERNAL and _signed_in_non_external(actor))
        )
    ):
        return True
    return level >= PROJECT_MIN_LEVEL[ability]


def group_can(
    actor: Actor, ability: Ability, *, visibility: Visibility, level: AccessLevel
) -> bool:
    """The ability table for groups."""
    if not can_see(actor, visibility, level):
        return False
    if ability is Ability.READ_GROUP or actor.is_admin:
        return True
    if actor.is_anonymous:
        return False
    return level >= GROUP_MIN_LEVEL[ability]


# What each deploy-token scope grants on a project the token reaches. Deploy tokens never
# delete: GitLab's registry token service has no deploy-token branch for ``delete``.
DEPLOY_TOKEN_ABILITIES: dict[str, Ability] = {
    "read_registry": Ability.READ_CONTAINER_IMAGE,
    "write_registry": Ability.CREATE_CONTAINER_IMAGE,
}


def deploy_token_can(
    actor: Actor,
    ability: Ability,
    *,
    project_id: int,
    visibility: Visibility,
    registry: RegistryAccess,
) -> bool:
    """The ability table for an actor that is a deploy token.

    On a project it reaches, a token sees the project and has exactly what its scopes grant
    (unless the registry is disabled). Anywhere else it is an anonymous caller, as in GitLab,
    where the registry's ``user_can_pull?`` runs with no user: a public project's images stay
    pullable with the pull secret a cluster sends for every image of this host, and nothing
    private, internal or writable is opened.
    """
    grant = actor.deploy_token
    assert grant is not None
    granted = {DEPLOY_TOKEN_ABILITIES.get(scope) for scope in actor.scopes or ()}
    if project_id not in grant.project_ids:
        if ability is Ability.READ_CONTAINER_IMAGE and ability not in granted:
            return False
        if ability not in (Ability.READ_PROJECT, Ability.READ_CONTAINER_IMAGE):
            return False
        return project_can(
            ANONYMOUS, ability, visibility=visibility, registry=registry,
            level=AccessLevel.NO_ACCESS,
        )
    if ability is Ability.READ_PROJECT:
        return True
    return registry is not RegistryAccess.DISABLED and ability in granted
