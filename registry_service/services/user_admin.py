"""Administering users: listing (everyone for administrators, the active ones otherwise),
blocking, unblocking and deleting.

A deleted user's tokens and memberships go at once; their personal namespace and its projects
are deleted like a group (``services/deletion.py``), and the user row goes with the last of
them. A user who is the only Owner of a group cannot be deleted unless ``hard_delete``, which
deletes those groups too (GitLab's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog import accounts as account_rows
from registry_service.catalog import deletions as deletion_rows
from registry_service.catalog import namespaces as namespace_rows
from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import User
from registry_service.errors import Conflict, Forbidden, UserNotFound
from registry_service.services import deletion
from registry_service.services.jobs import JobQueue
from registry_service.services.permissions import Actor
from registry_service.services.users import require_admin, require_signed_in

SOLE_OWNER = "User cannot be removed while is the sole-owner of a group"
SELF_BLOCK = "The API initiating user cannot be blocked by the API"


@dataclass(frozen=True)
class UserFilter:
    username: str | None = None
    search: str | None = None
    active: bool = False
    blocked: bool = False
    order_by: str = "id"
    sort: str = "desc"


async def list_users(
    catalog: CatalogBackend, actor: Actor, wanted: UserFilter, *, limit: int, offset: int
) -> tuple[list[User], int]:
    """Administrators see every user and may filter by state; others see active users only
    (GitLab hides blocked users from them) and search names and usernames, never emails."""
    require_signed_in(actor)
    # GitLab applies the filters together: active and blocked at once finds nobody.
    states = {"active", "blocked"} if actor.is_admin else {"active"}
    if wanted.active:
        states &= {"active"}
    if wanted.blocked:
        states &= {"blocked"}
    return await account_rows.select_users_page(
        catalog.reader,
        username=wanted.username,
        search=wanted.search,
        search_email=actor.is_admin,
        states=states,
        order_by=wanted.order_by,
        sort=wanted.sort,
        limit=limit,
        offset=offset,
    )


async def _existing_user(catalog: CatalogBackend, user_id: int | None) -> User:
    user = None if user_id is None else await user_rows.select_user_by_id(catalog.reader, user_id)
    if user is None or user.marked_for_deletion_at is not None:
        raise UserNotFound()
    return user


async def set_blocked(
    catalog: CatalogBackend, actor: Actor, user_id: int | None, *, blocked: bool
) -> bool | None:
    """Block or unblock a user (administrators); GitLab's answer body: ``True`` when the state
    changed, and for a user already in that state ``None`` (block: the endpoint breaks out) or
    ``False`` (unblock: the state machine refuses). Administrators cannot block themselves."""
    require_admin(actor)
    user = await _existing_user(catalog, user_id)
    if blocked and user.id == actor.user_id:
        raise Forbidden(SELF_BLOCK)
    wanted = "blocked" if blocked else "active"
    if user.state == wanted:
        return None if blocked else False
    async with catalog.transaction() as tx:
        await account_rows.update_user_state(tx, user.id, wanted)
    return True


async def delete_user(
    catalog: CatalogBackend,
    queue: JobQueue,
    actor: Actor,
    user_id: int | None,
    *,
    hard_delete: bool,
    now: datetime,
) -> None:
    require_admin(actor)
    user = await _existing_user(catalog, user_id)
    async with catalog.transaction() as tx:
        solo = await account_rows.select_solo_owned_groups(tx, user.id)
        if solo and not hard_delete:
            raise Conflict(SOLE_OWNER)
        jobs: list[int] = []
        for group in solo:
            jobs += await deletion.mark_namespace_tree_deleted(tx, actor, group.id, now)
        personal = await namespace_rows.select_user_namespace(tx, user.id)
        if personal is not None:
            jobs += await deletion.mark_namespace_tree_deleted(tx, actor, personal.id, now)
        await account_rows.delete_user_tokens(tx, user.id)
        await account_rows.delete_user_memberships(tx, user.id)
        await deletion_rows.mark_user(tx, user.id, now)
        await deletion_rows.delete_drained_rows(tx)
    await deletion.enqueue_jobs(queue, jobs)
