"""Users: creating them (with their personal namespace) and looking them up."""

from __future__ import annotations

from datetime import datetime

from registry_service.catalog import members as member_rows
from registry_service.catalog import namespaces as namespace_rows
from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import CatalogBackend, Writer
from registry_service.catalog.rows import User
from registry_service.errors import (
    Conflict,
    Forbidden,
    Unauthorized,
    UserNotFound,
    ValidationFailed,
)
from registry_service.services.paths import path_problem
from registry_service.services.permissions import AccessLevel, Actor


def require_signed_in(actor: Actor) -> int:
    if actor.user_id is None:
        raise Unauthorized()
    return actor.user_id


def require_admin(actor: Actor) -> None:
    require_signed_in(actor)
    if not actor.is_admin:
        raise Forbidden()


async def current_user(catalog: CatalogBackend, actor: Actor) -> User:
    user = await user_rows.select_user_by_id(catalog.reader, require_signed_in(actor))
    if user is None:
        raise Unauthorized()
    return user


async def get_user(catalog: CatalogBackend, user_id: int) -> User:
    user = await user_rows.select_user_by_id(catalog.reader, user_id)
    if user is None or user.marked_for_deletion_at is not None:
        raise UserNotFound()
    return user


async def lookup_user(catalog: CatalogBackend, username: str) -> User | None:
    return await user_rows.select_user_by_username(catalog.reader, username)


async def list_users(catalog: CatalogBackend) -> list[User]:
    """Every user, in creation order (the operator's view: no actor, nothing hidden)."""
    return await user_rows.select_users(catalog.reader)


async def insert_user_with_namespace(
    tx: Writer,
    *,
    username: str,
    name: str,
    email: str | None,
    is_admin: bool,
    external: bool,
    now: datetime,
) -> int:
    """The user row plus the personal namespace it owns, in the caller's transaction."""
    user_id = await user_rows.insert_user(
        tx,
        username=username,
        name=name,
        email=email,
        is_admin=is_admin,
        external=external,
        now=now,
    )
    namespace_id = await namespace_rows.insert_namespace(
        tx,
        kind="user",
        name=name,
        path=username,
        full_path=username,
        parent_id=None,
        owner_id=user_id,
        visibility="private",
        description="",
        now=now,
    )
    await member_rows.upsert_member(
        tx,
        user_id=user_id,
        namespace_id=namespace_id,
        access_level=AccessLevel.OWNER,
        expires_at=None,
        now=now,
    )
    return user_id


async def create_user(
    catalog: CatalogBackend,
    *,
    username: str,
    name: str,
    email: str | None,
    is_admin: bool = False,
    external: bool = False,
    now: datetime,
) -> User:
    """A new user; 409 if another user has the email or username (email checked first, as
    GitLab's lib/api/users.rb does), else 400 with GitLab's field messages."""
    problems: dict[str, list[str]] = {}
    if problem := path_problem(username):
        problems["username"] = [problem]
    if not name.strip():
        problems["name"] = ["can't be blank"]
    async with catalog.transaction() as tx:
        if email and await user_rows.select_user_by_email(tx, email):
            raise Conflict("Email has already been taken")
        if await user_rows.select_user_by_username(tx, username):
            raise Conflict("Username has already been taken")
        if await namespace_rows.select_namespace_by_path(tx, username):
            problems.setdefault("username", []).append("has already been taken")
        if problems:
            raise ValidationFailed(problems)
        user_id = await insert_user_with_namespace(
            tx,
            username=username,
            name=name,
            email=email,
            is_admin=is_admin,
            external=external,
            now=now,
        )
        user = await user_rows.select_user_by_id(tx, user_id)
    assert user is not None
    return user
