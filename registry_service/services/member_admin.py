"""Reading and managing the members of a project or a group: lists (direct, or with the
members inherited from the groups above), one member, a new access level, a removal.

GitLab's rules: whoever may see the project or group may read its members; Maintainers manage
a project's members and Owners a group's; only Owners (and administrators) may touch an Owner
or make one; anybody may leave; a group's last Owner can be neither removed nor demoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from registry_service.catalog import member_lists as member_rows
from registry_service.catalog.protocols import CatalogBackend, Reader
from registry_service.catalog.rows import Member
from registry_service.errors import Forbidden, RecordNotFound
from registry_service.services import groups, projects
from registry_service.services.permissions import Ability, AccessLevel, Actor
from registry_service.services.users import require_signed_in

LAST_OWNER = "a group's last Owner cannot be removed or demoted"


class SourceKind(StrEnum):
    PROJECT = "project"
    GROUP = "group"


@dataclass(frozen=True)
class MemberSource:
    """A project or group the actor can see, with the actor's role on it."""

    kind: SourceKind
    id: int
    level: AccessLevel
    may_manage: bool

    @property
    def project_id(self) -> int | None:
        return self.id if self.kind is SourceKind.PROJECT else None

    @property
    def namespace_id(self) -> int | None:
        return self.id if self.kind is SourceKind.GROUP else None


async def find_source(
    catalog: CatalogBackend, actor: Actor, kind: SourceKind, ref: str
) -> MemberSource:
    """The project or group ``:id`` names (404 if missing or hidden)."""
    if kind is SourceKind.PROJECT:
        access = await projects.find_project(catalog, actor, ref)
        manage = access.can(actor, Ability.ADMIN_PROJECT_MEMBER)
        return MemberSource(kind, access.project.id, access.level, manage)
    group = await groups.find_group(catalog, actor, ref)
    manage = group.can(actor, Ability.ADMIN_GROUP_MEMBER)
    return MemberSource(kind, group.group.id, group.level, manage)


async def list_members(
    catalog: CatalogBackend,
    source: MemberSource,
    *,
    inherited: bool,
    query: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Member], int]:
    return await member_rows.select_members_page(
        catalog.reader, inherited=inherited, query=query, limit=limit, offset=offset,
        **_keys(source),
    )


async def get_member(
    catalog: CatalogBackend, source: MemberSource, user_id: int | None, *, inherited: bool
) -> Member:
    """One member; a user who is not one is GitLab's record miss (404 Not found)."""
    member = (
        None
        if user_id is None
        else await member_rows.select_one_member(
            catalog.reader, user_id, inherited=inherited, **_keys(source)
        )
    )
    if member is None:
        raise RecordNotFound()
    return member


def _keys(source: MemberSource) -> dict[str, Any]:
    """The keyword arguments selecting this source in ``catalog.member_lists``."""
    return {"project_id": source.project_id, "namespace_id": source.namespace_id}


def _require_may_change(
    actor: Actor, source: MemberSource, member: Member, new_level: AccessLevel | None
) -> None:
    leaving = new_level is None and actor.user_id == member.user.id
    if not source.may_manage and not leaving:
        raise Forbidden()
    touches_owner = member.access_level >= AccessLevel.OWNER or (
        new_level is not None and new_level >= AccessLevel.OWNER
    )
    if touches_owner and source.level < AccessLevel.OWNER and not actor.is_admin:
        raise Forbidden()


async def _require_not_last_owner(
    db: Reader, source: MemberSource, member: Member, new_level: AccessLevel | None
) -> None:
    demoted = new_level is None or new_level < AccessLevel.OWNER
    if (
        source.kind is SourceKind.GROUP
        and member.access_level >= AccessLevel.OWNER
        and demoted
        and await member_rows.count_owners(db, source.id) <= 1
    ):
        raise Forbidden(LAST_OWNER)


async def update_member(
    catalog: CatalogBackend,
    actor: Actor,
    source: MemberSource,
    user_id: int | None,
    *,
    access_level: AccessLevel,
    expires_at: date | None,
) -> Member:
    require_signed_in(actor)
    if not source.may_manage:
        raise Forbidden()
    member = await get_member(catalog, source, user_id, inherited=False)
    _require_may_change(actor, source, member, access_level)
    async with catalog.transaction() as tx:
        # Counted in the transaction that changes it: two demotions cannot both pass.
        await _require_not_last_owner(tx, source, member, access_level)
        changed = await member_rows.update_member(
            tx, member.user.id, access_level=access_level, expires_at=expires_at,
            **_keys(source),
        )
        updated = await member_rows.select_one_member(tx, member.user.id, **_keys(source))
    if not changed or updated is None:
        raise RecordNotFound()
    return updated


async def remove_member(
    catalog: CatalogBackend, actor: Actor, source: MemberSource, user_id: int | None
) -> None:
    require_signed_in(actor)
    member = await get_member(catalog, source, user_id, inherited=False)
    _require_may_change(actor, source, member, None)
    async with catalog.transaction() as tx:
        await _require_not_last_owner(tx, source, member, None)
        if not await member_rows.delete_member(tx, member.user.id, **_keys(source)):
            raise RecordNotFound()
