"""Groups: resolving ``:id``, the abilities of an actor on one, creating, listing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog import members as member_rows
from registry_service.catalog import namespaces as namespace_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Namespace
from registry_service.errors import Forbidden, GroupNotFound, ValidationFailed
from registry_service.services.paths import join_path, path_problem
from registry_service.services.permissions import (
    Ability,
    AccessLevel,
    Actor,
    Visibility,
    can_see,
    group_can,
)
from registry_service.services.refs import parse_ref
from registry_service.services.users import require_signed_in

VISIBILITY_ORDER = [Visibility.PRIVATE, Visibility.INTERNAL, Visibility.PUBLIC]


@dataclass(frozen=True)
class GroupAccess:
    group: Namespace
    level: AccessLevel

    def can(self, actor: Actor, ability: Ability) -> bool:
        return group_can(
            actor, ability, visibility=Visibility(self.group.visibility), level=self.level
        )


async def namespace_level(catalog: CatalogBackend, actor: Actor, namespace_id: int) -> AccessLevel:
    if actor.user_id is None:
        return AccessLevel.NO_ACCESS
    level = await member_rows.select_namespace_level(catalog.reader, actor.user_id, namespace_id)
    return AccessLevel(level)


async def find_group(
    catalog: CatalogBackend, actor: Actor, ref: str, *, include_marked: bool = False
) -> GroupAccess:
    """The group named by ``:id``; 404 Group Not Found if missing or hidden from the actor.

    A group marked for deletion is missing, except to a repeated deletion (``include_marked``).
    """
    key = parse_ref(ref)
    if isinstance(key, int):
        group = await namespace_rows.select_namespace_by_id(catalog.reader, key)
    else:
        group = await namespace_rows.select_namespace_by_path(catalog.reader, key)
    if group is None or group.kind != "group":
        raise GroupNotFound()
    if group.marked_for_deletion_at is not None and not include_marked:
        raise GroupNotFound()
    level = await namespace_level(catalog, actor, group.id)
    if not can_see(actor, Visibility(group.visibility), level):
        raise GroupNotFound()
    return GroupAccess(group, level)


def require(access: GroupAccess, actor: Actor, ability: Ability) -> None:
    if not access.can(actor, ability):
        raise Forbidden()


def visibility_problem(visibility: str, parent_visibility: str | None) -> str | None:
    if parent_visibility is None:
        return None
    if VISIBILITY_ORDER.index(Visibility(visibility)) > VISIBILITY_ORDER.index(
        Visibility(parent_visibility)
    ):
        # GitLab's Group#visibility_level_allowed_by_parent wording.
        return (
            f"{visibility} is not allowed since the parent group has a {parent_visibility}"
            " visibility."
        )
    return None


async def create_group(
    catalog: CatalogBackend,
    actor: Actor,
    *,
    name: str,
    path: str,
    parent_id: int | None,
    visibility: str,
    description: str,
    now: datetime,
) -> Namespace:
    """A new group (top level, or below ``parent_id``); its creator becomes its Owner."""
    user_id = require_signed_in(actor)
    parent: Namespace | None = None
    if parent_id is not None:
        parent_access = await find_group(catalog, actor, str(parent_id))
        require(parent_access, actor, Ability.CREATE_SUBGROUP)
        parent = parent_access.group
    problems: dict[str, list[str]] = {}
    if problem := path_problem(path):
        problems["path"] = [problem]
    if not name.strip():
        problems["name"] = ["can't be blank"]
    if problem := visibility_problem(visibility, parent.visibility if parent else None):
        problems["visibility_level"] = [problem]
    full_path = join_path(parent.full_path if parent else None, path)
    async with catalog.transaction() as tx:
        if not problems and await namespace_rows.select_namespace_by_path(tx, full_path):
            problems["path"] = ["has already been taken"]
        if problems:
            raise ValidationFailed(problems)
        group_id = await namespace_rows.insert_namespace(
            tx,
            kind="group",
            name=name,
            path=path,
            full_path=full_path,
            parent_id=parent.id if parent else None,
            owner_id=None,
            visibility=visibility,
            description=description,
            now=now,
        )
        await member_rows.upsert_member(
            tx,
            user_id=user_id,
            namespace_id=group_id,
            access_level=AccessLevel.OWNER,
            expires_at=None,
            now=now,
        )
        group = await namespace_rows.select_namespace_by_id(tx, group_id)
    assert group is not None
    return group


async def list_groups(
    catalog: CatalogBackend,
    actor: Actor,
    *,
    all_available: bool | None,
    search: str | None,
    top_level_only: bool,
    order_by: str,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[Namespace], int]:
    """GitLab's GET /groups: members see their groups; ``all_available`` widens to all visible."""
    if all_available is None:
        # GitLab's default: everything visible for admins and anonymous callers, only one's own
        # groups for other signed-in users.
        all_available = actor.is_admin or actor.is_anonymous
    return await namespace_rows.select_groups_page(
        catalog.reader,
        user_id=actor.user_id,
        see_all=actor.is_admin,
        signed_in_non_external=not actor.is_anonymous and not actor.external,
        membership_only=not all_available and not actor.is_anonymous,
        search=search,
        top_level_only=top_level_only,
        order_by=order_by,
        sort=sort,
        limit=limit,
        offset=offset,
    )


async def list_all_groups(catalog: CatalogBackend) -> list[Namespace]:
    """Every group by full path (the operator's view: no actor, nothing hidden)."""
    groups, _ = await namespace_rows.select_groups_page(
        catalog.reader,
        user_id=None,
        see_all=True,
        signed_in_non_external=True,
        membership_only=False,
        search=None,
        top_level_only=False,
        order_by="path",
        sort="asc",
        limit=-1,
        offset=0,
    )
    return groups
