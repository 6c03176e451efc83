"""Operator-side creation of users, tokens, groups, projects and memberships.

Used by the bootstrap, the ``admin`` command and fixture seeding. Unlike the API services these
act with the operator's authority (no actor, no ability checks) and work inside a transaction
the caller opens, so a whole seed file lands or nothing does. ``ensure_*`` functions are
idempotent: they create what is missing and report whether they did.
"""

from __future__ import annotations

from datetime import date, datetime

from registry_service.catalog import members as member_rows
from registry_service.catalog import namespaces as namespace_rows
from registry_service.catalog import projects as project_rows
from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import Writer
from registry_service.catalog.rows import Namespace, Project, User
from registry_service.services.groups import visibility_problem
from registry_service.services.paths import path_problem
from registry_service.services.tokens import check_scopes, token_digest
from registry_service.services.users import insert_user_with_namespace


class ProvisioningFailed(ValueError):
    """What the operator asked for cannot be done; the message says why."""


async def ensure_user(
    tx: Writer,
    *,
    username: str,
    name: str | None,
    email: str | None,
    is_admin: bool,
    external: bool,
    now: datetime,
) -> tuple[User, bool]:
    existing = await user_rows.select_user_by_username(tx, username)
    if existing is not None:
        return existing, False
    if problem := path_problem(username):
        raise ProvisioningFailed(f"username {username!r} {problem}")
    if await namespace_rows.select_namespace_by_path(tx, username):
        raise ProvisioningFailed(f"username {username!r} is taken by a group")
    user_id = await insert_user_with_namespace(
        tx,
        username=username,
        name=name or username,
        email=email,
        is_admin=is_admin,
        external=external,
        now=now,
    )
    user = await user_rows.select_user_by_id(tx, user_id)
    assert user is not None
    return user, True


async def ensure_token(
    tx: Writer,
    *,
    user: User,
    name: str,
    value: str,
    scopes: list[str],
    expires_at: date | None,
    now: datetime,
) -> bool:
    """Register a token with a chosen value; False if that value is already known."""
    if len(value) < 20:
        raise ProvisioningFailed(f"token {name!r} of {user.username}: at least 20 characters")
    try:
        scopes = check_scopes(scopes)
    except ValueError as exc:
        raise ProvisioningFailed(f"token {name!r} of {user.username}: {exc}") from None
    known = await user_rows.select_token_by_digest(tx, token_digest(value))
    if known is not None:
        if known.user_id != user.id:
            raise ProvisioningFailed(f"token {name!r}: that value belongs to another user")
        return False
    await user_rows.insert_token(
        tx,
        user_id=user.id,
        name=name,
        token_digest=token_digest(value),
        scopes=scopes,
        expires_at=expires_at,
        now=now,
    )
    return True


def _split(full_path: str) -> tuple[str | None, str]:
    parent, _, path = full_path.strip("/").rpartition("/")
    return parent or None, path


async def ensure_group(
    tx: Writer,
    *,
    full_path: str,
    name: str | None,
    visibility: str,
    description: str,
    now: datetime,
) -> tuple[Namespace, bool]:
    existing = await namespace_rows.select_namespace_by_path(tx, full_path)
    if existing is not None:
        if existing.kind != "group":
            raise ProvisioningFailed(f"{full_path!r} is a user's namespace, not a group")
        return existing, False
    parent_path, path = _split(full_path)
    parent = None
    if parent_path is not None:
        parent = await namespace_rows.select_namespace_by_path(tx, parent_path)
        if parent is None or parent.kind != "group":
            raise ProvisioningFailed(
                f"group {full_path!r}: parent group {parent_path!r} is missing"
            )
    if problem := path_problem(path):
        raise ProvisioningFailed(f"group {full_path!r}: path {problem}")
    if visibility not in ("private", "internal", "public"):
        raise ProvisioningFailed(f"group {full_path!r}: unknown visibility {visibility!r}")
    if problem := visibility_problem(visibility, parent.visibility if parent else None):
        raise ProvisioningFailed(f"group {full_path!r}: {problem}")
    group_id = await namespace_rows.insert_namespace(
        tx,
        kind="group",
        name=name or path,
        path=path,
        full_path=full_path.strip("/"),
        parent_id=parent.id if parent else None,
        owner_id=None,
        visibility=visibility,
        description=description,
        now=now,
    )
    group = await namespace_rows.select_namespace_by_id(tx, group_id)
    assert group is not None
    return group, True


async def ensure_project(
    tx: Writer,
    *,
    full_path: str,
    name: str | None,
    visibility: str,
    registry_access_level: str,
    description: str,
    creator_id: int | None,
    now: datetime,
) -> tuple[Project, bool]:
    existing = await project_rows.select_project_by_path(tx, full_path)
    if existing is not None and existing.marked_for_deletion_at is not None:
        # Nothing may be added below a project or namespace being deleted (services/deletion.py).
        raise ProvisioningFailed(
            f"project {full_path!r} is being deleted; leave it out until its deletion is done"
        )
    if existing is not None:
        return existing, False
    namespace_path, path = _split(full_path)
    if namespace_path is None:
        raise ProvisioningFailed(f"project {full_path!r}: needs a namespace, e.g. group/{path}")
    namespace = await namespace_rows.select_namespace_by_path(tx, namespace_path)
    if namespace is None:
        raise ProvisioningFailed(
            f"project {full_path!r}: namespace {namespace_path!r} is missing (a group or a user)"
        )
    if namespace.marked_for_deletion_at is not None:
        raise ProvisioningFailed(f"project {full_path!r}: {namespace_path!r} is being deleted")
    if problem := path_problem(path):
        raise ProvisioningFailed(f"project {full_path!r}: path {problem}")
    if visibility not in ("private", "internal", "public"):
        raise ProvisioningFailed(f"project {full_path!r}: unknown visibility {visibility!r}")
    if registry_access_level not in ("enabled", "private", "disabled"):
        raise ProvisioningFailed(
            f"project {full_path!r}: unknown registry access level {registry_access_level!r}"
        )
    parent_visibility = namespace.visibility if namespace.kind == "group" else None
    if problem := visibility_problem(visibility, parent_visibility):
        raise ProvisioningFailed(f"project {full_path!r}: {problem}")
    project_id = await project_rows.insert_project(
        tx,
        namespace_id=namespace.id,
        name=name or path,
        path=path,
        full_path=full_path.strip("/"),
        visibility=visibility,
        registry_access_level=registry_access_level,
        description=description,
        creator_id=creator_id,
        now=now,
    )
    project = await project_rows.select_project_by_id(tx, project_id)
    assert project is not None
    return project, True


async def set_membership(
    tx: Writer,
    *,
    user: User,
    access_level: int,
    namespace: Namespace | None = None,
    project: Project | None = None,
    expires_at: date | None = None,
    now: datetime,
) -> bool:
    """Give a user this level (replacing any other); True if anything changed."""
    current = await member_rows.select_member(
        tx,
        user_id=user.id,
        namespace_id=namespace.id if namespace else None,
        project_id=project.id if project else None,
    )
    if current is not None and current.access_level == access_level:
        return False
    await member_rows.upsert_member(
        tx,
        user_id=user.id,
        namespace_id=namespace.id if namespace else None,
        project_id=project.id if project else None,
        access_level=access_level,
        expires_at=expires_at,
        now=now,
    )
    return True


async def set_membership_by_path(
    tx: Writer,
    *,
    user: User,
    access_level: int,
    project_path: str | None = None,
    group_path: str | None = None,
    now: datetime,
) -> bool:
    """``set_membership`` in the project or the group with this full path (one of the two)."""
    if project_path is not None:
        project = await project_rows.select_project_by_path(tx, project_path)
        if project is None:
            raise ProvisioningFailed(f"no project {project_path!r}")
        return await set_membership(
            tx, user=user, project=project, access_level=access_level, now=now
        )
    assert group_path is not None
    group = await namespace_rows.select_namespace_by_path(tx, group_path)
    if group is None or group.kind != "group":
        raise ProvisioningFailed(f"no group {group_path!r}")
    return await set_membership(tx, user=user, namespace=group, access_level=access_level, now=now)
