"""Memberships: adding users to projects and groups with a GitLab access level."""

from __future__ import annotations

from datetime import date, datetime

from registry_service.catalog import members as member_rows
from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Member
from registry_service.errors import Conflict, Forbidden, UserNotFound
from registry_service.services import groups, projects
from registry_service.services.permissions import Ability, AccessLevel, Actor
from registry_service.services.users import require_signed_in


def _check_grant(actor: Actor, own_level: AccessLevel, granted: AccessLevel) -> None:
    # Only owners (and administrators) may hand out the Owner role.
    if granted >= AccessLevel.OWNER and own_level < AccessLevel.OWNER and not actor.is_admin:
        raise Forbidden()


async def add_project_member(
    catalog: CatalogBackend,
    actor: Actor,
    project_ref: str,
    *,
    user_id: int,
    access_level: AccessLevel,
    expires_at: date | None,
    now: datetime,
) -> Member:
    require_signed_in(actor)
    access = await projects.find_project(catalog, actor, project_ref)
    projects.require(access, actor, Ability.ADMIN_PROJECT_MEMBER)
    _check_grant(actor, access.level, access_level)
    return await _add(
        catalog, user_id, access_level, expires_at, now, project_id=access.project.id
    )


async def add_group_member(
    catalog: CatalogBackend,
    actor: Actor,
    group_ref: str,
    *,
    user_id: int,
    access_level: AccessLevel,
    expires_at: date | None,
    now: datetime,
) -> Member:
    require_signed_in(actor)
    access = await groups.find_group(catalog, actor, group_ref)
    groups.require(access, actor, Ability.ADMIN_GROUP_MEMBER)
    _check_grant(actor, access.level, access_level)
    return await _add(
        catalog, user_id, access_level, expires_at, now, namespace_id=access.group.id
    )


async def _add(
    catalog: CatalogBackend,
    user_id: int,
    access_level: AccessLevel,
    expires_at: date | None,
    now: datetime,
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
) -> Member:
    async with catalog.transaction() as tx:
        if await user_rows.select_user_by_id(tx, user_id) is None:
            raise UserNotFound()
        if await member_rows.select_member(
            tx, user_id=user_id, project_id=project_id, namespace_id=namespace_id
        ):
            raise Conflict("Member already exists")
        await member_rows.upsert_member(
            tx,
            user_id=user_id,
            project_id=project_id,
            namespace_id=namespace_id,
            access_level=access_level,
            expires_at=expires_at,
            now=now,
        )
        member = await member_rows.select_member(
            tx, user_id=user_id, project_id=project_id, namespace_id=namespace_id
        )
    assert member is not None
    return member
