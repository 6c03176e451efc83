"""``registry-service admin``: the operator's commands for users, tokens, groups, projects and
members — their arguments, one function per command, and what they print.

Each command acts with the operator's authority through the services (``provisioning`` for
creating, the resource services for listing), never through catalog queries, and works on the
catalog file directly (safe while ``serve`` runs: SQLite WAL). A request that cannot be done
raises ``ProvisioningFailed`` with a message for the operator; the CLI prints it and exits 1.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import User
from registry_service.clock import SystemClock
from registry_service.services import deploy_tokens, groups, projects, tokens, users
from registry_service.services.deploy_credentials import is_expired
from registry_service.services.permissions import AccessLevel
from registry_service.services.provisioning import (
    ProvisioningFailed,
    ensure_group,
    ensure_project,
    ensure_user,
    set_membership_by_path,
)

Command = Callable[[CatalogBackend, argparse.Namespace, datetime], Awaitable[None]]


async def run_admin(args: argparse.Namespace, catalog: CatalogBackend) -> int:
    """Run the command the parser chose (``add_admin_parser``); 0 when it is done."""
    command: Command = args.admin_command
    await command(catalog, args, SystemClock().now())
    return 0


# --- users ----------------------------------------------------------------------------------


async def create_user(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    async with catalog.transaction() as tx:
        user, new = await ensure_user(
            tx,
            username=args.username,
            name=args.name,
            email=args.email,
            is_admin=args.admin,
            external=args.external,
            now=now,
        )
    if not new:
        raise ProvisioningFailed(f"user {args.username!r} already exists (id {user.id})")
    print(f"created user {user.username} (id {user.id})")


async def list_users(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    print_rows(
        [
            {"id": u.id, "username": u.username, "name": u.name, "admin": u.is_admin,
             "state": u.state}
            for u in await users.list_users(catalog)
        ],
        args.json,
    )


async def _user(catalog: CatalogBackend, username: str) -> User:
    user = await users.lookup_user(catalog, username)
    if user is None:
        raise ProvisioningFailed(f"no user {username!r}")
    return user


# --- tokens ---------------------------------------------------------------------------------


async def create_token(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    user = await _user(catalog, args.username)
    try:
        minted = await tokens.create_token(
            catalog,
            user_id=user.id,
            name=args.name,
            scopes=args.scopes.split(","),
            expires_at=args.expires_at,
            now=now,
            value=args.value,
        )
    except ValueError as exc:
        raise ProvisioningFailed(str(exc)) from None
    print(minted.value)


async def list_tokens(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    user_id = (await _user(catalog, args.username)).id if args.username else None
    print_rows(
        [
            {"id": t.id, "user_id": t.user_id, "name": t.name, "scopes": ",".join(t.scopes),
             "expires_at": t.expires_at or "-", "revoked": t.revoked,
             "expired": tokens.is_expired(t, now)}
            for t in await tokens.list_tokens(catalog, user_id)
        ],
        args.json,
    )


async def revoke_token(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    if not await tokens.revoke_token(catalog, args.token_id):
        raise ProvisioningFailed(f"no token with id {args.token_id}")
    print(f"revoked token {args.token_id}")


# --- deploy tokens --------------------------------------------------------------------------


def instant(text: str) -> datetime:
    """``--expires-at``: a date (its midnight UTC) or an ISO 8601 time (UTC without offset)."""
    when = datetime.fromisoformat(text)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


async def create_deploy_token(
    catalog: CatalogBackend, args: argparse.Namespace, now: datetime
) -> None:
    try:
        async with catalog.transaction() as tx:
            minted = await deploy_tokens.ensure_deploy_token(
                tx,
                project_path=args.project,
                group_path=args.group,
                name=args.name,
                username=args.username,
                scopes=args.scopes.split(","),
                expires_at=args.expires_at,
                now=now,
                value=args.value,
            )
    except deploy_tokens.DeployTokenInvalid as exc:
        raise ProvisioningFailed(str(exc)) from None
    if minted is None:
        raise ProvisioningFailed("that token value is already registered")
    # Both halves are the credential: "username value" on one line, for `read u t`.
    print(f"{minted.token.username} {minted.value}")


async def list_deploy_tokens(
    catalog: CatalogBackend, args: argparse.Namespace, now: datetime
) -> None:
    print_rows(
        [
            {"id": t.id, "owner": await deploy_tokens.owner_path(catalog, t), "name": t.name,
             "username": t.username, "scopes": ",".join(t.scopes),
             "expires_at": t.expires_at.isoformat() if t.expires_at else "-",
             "revoked": t.revoked, "expired": is_expired(t, now)}
            for t in await deploy_tokens.all_deploy_tokens(catalog)
        ],
        args.json,
    )


async def revoke_deploy_token(
    catalog: CatalogBackend, args: argparse.Namespace, now: datetime
) -> None:
    if not await deploy_tokens.revoke_deploy_token(catalog, args.token_id):
        raise ProvisioningFailed(f"no deploy token with id {args.token_id}")
    print(f"revoked deploy token {args.token_id}")


# --- groups and projects --------------------------------------------------------------------


async def create_group(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    async with catalog.transaction() as tx:
        group, new = await ensure_group(
            tx, full_path=args.path, name=args.name, visibility=args.visibility,
            description="", now=now,
        )
    if not new:
        raise ProvisioningFailed(f"{args.path!r} already exists (id {group.id})")
    print(f"created group {group.full_path} (id {group.id})")


async def list_groups(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    print_rows(
        [
            {"id": g.id, "full_path": g.full_path, "visibility": g.visibility}
            for g in await groups.list_all_groups(catalog)
        ],
        args.json,
    )


async def create_project(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    async with catalog.transaction() as tx:
        project, new = await ensure_project(
            tx, full_path=args.path, name=args.name, visibility=args.visibility,
            registry_access_level=args.registry_access_level, description="",
            creator_id=None, now=now,
        )
    if not new:
        raise ProvisioningFailed(f"{args.path!r} already exists (id {project.id})")
    print(f"created project {project.full_path} (id {project.id})")


async def list_projects(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    print_rows(
        [
            {"id": p.id, "full_path": p.full_path, "visibility": p.visibility,
             "registry": p.container_registry_access_level}
            for p in await projects.list_all_projects(catalog)
        ],
        args.json,
    )


# --- members --------------------------------------------------------------------------------


async def add_member(catalog: CatalogBackend, args: argparse.Namespace, now: datetime) -> None:
    user = await _user(catalog, args.username)
    try:
        level = AccessLevel.parse(args.access_level)
    except ValueError as exc:
        raise ProvisioningFailed(str(exc)) from None
    async with catalog.transaction() as tx:
        await set_membership_by_path(
            tx, user=user, access_level=level, project_path=args.project,
            group_path=args.group, now=now,
        )
    print(f"{user.username} is {level.name.lower()} of {args.project or args.group}")


# --- output ---------------------------------------------------------------------------------


def print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    """A table with a header line, or JSON; ``(none)`` for no rows."""
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())


# --- arguments ------------------------------------------------------------------------------


def add_admin_parser(sub: Any) -> None:
    """The ``admin`` sub-command; each action's parser names its function (``run_admin``)."""
    admin = sub.add_parser("admin", help="manage users, tokens, groups, projects, members")
    things = admin.add_subparsers(dest="what", required=True)

    user_actions = things.add_parser("users", help="create and list users").add_subparsers(
        dest="action", required=True
    )
    create = user_actions.add_parser("create", help="create a user")
    create.set_defaults(admin_command=create_user)
    create.add_argument("username")
    create.add_argument("--name")
    create.add_argument("--email")
    create.add_argument("--admin", action="store_true", help="make an administrator")
    create.add_argument("--external", action="store_true")
    listing = user_actions.add_parser("list", help="list users")
    listing.set_defaults(admin_command=list_users)
    listing.add_argument("--json", action="store_true")

    token_actions = things.add_parser(
        "tokens", help="create, list and revoke tokens"
    ).add_subparsers(dest="action", required=True)
    create = token_actions.add_parser("create", help="create a personal access token; prints it")
    create.set_defaults(admin_command=create_token)
    create.add_argument("username")
    create.add_argument("--name", default="cli")
    create.add_argument(
        "--scopes", default="api", help="comma-separated: api,read_api,read_registry,write_registry"
    )
    create.add_argument("--expires-at", type=date.fromisoformat, help="YYYY-MM-DD")
    create.add_argument("--value", help="use this token value instead of a random one")
    listing = token_actions.add_parser("list", help="list tokens (never their values)")
    listing.set_defaults(admin_command=list_tokens)
    listing.add_argument("username", nargs="?")
    listing.add_argument("--json", action="store_true")
    revoke = token_actions.add_parser("revoke", help="revoke a token by id")
    revoke.set_defaults(admin_command=revoke_token)
    revoke.add_argument("token_id", type=int)

    _add_deploy_token_parsers(things)

    for kind, creates, lists in (
        ("groups", create_group, list_groups),
        ("projects", create_project, list_projects),
    ):
        actions = things.add_parser(kind, help=f"create and list {kind}").add_subparsers(
            dest="action", required=True
        )
        create = actions.add_parser("create", help=f"create a {kind[:-1]} by full path")
        create.set_defaults(admin_command=creates)
        example = "acme/platform/web" if kind == "projects" else "acme/platform"
        create.add_argument("path", help=f"full path, e.g. {example}")
        create.add_argument("--name")
        create.add_argument(
            "--visibility", choices=["private", "internal", "public"], default="private"
        )
        if kind == "projects":
            create.add_argument(
                "--registry-access-level",
                choices=["enabled", "private", "disabled"],
                default="enabled",
            )
        listing = actions.add_parser("list", help=f"list {kind}")
        listing.set_defaults(admin_command=lists)
        listing.add_argument("--json", action="store_true")

    member_actions = things.add_parser("members", help="add members").add_subparsers(
        dest="action", required=True
    )
    add = member_actions.add_parser("add", help="give a user a role in a project or group")
    add.set_defaults(admin_command=add_member)
    add.add_argument("username")
    target = add.add_mutually_exclusive_group(required=True)
    target.add_argument("--project", help="project full path")
    target.add_argument("--group", help="group full path")
    add.add_argument(
        "--access-level", required=True, help="guest|reporter|developer|maintainer|owner or 10..50"
    )


def _add_deploy_token_parsers(things: Any) -> None:
    actions = things.add_parser(
        "deploy-tokens", help="create, list and revoke deploy tokens"
    ).add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", help="create a project's or group's deploy token; prints its username and value"
    )
    create.set_defaults(admin_command=create_deploy_token)
    owner = create.add_mutually_exclusive_group(required=True)
    owner.add_argument("--project", help="project full path")
    owner.add_argument("--group", help="group full path (the token reaches every project below)")
    create.add_argument("--name", default="cli")
    create.add_argument("--username", help="default gitlab+deploy-token-<id>")
    create.add_argument(
        "--scopes", default="read_registry", help="comma-separated: read_registry,write_registry"
    )
    create.add_argument("--expires-at", type=instant, help="YYYY-MM-DD or an ISO 8601 time")
    create.add_argument("--value", help="use this token value instead of a random one")
    listing = actions.add_parser("list", help="list deploy tokens (never their values)")
    listing.set_defaults(admin_command=list_deploy_tokens)
    listing.add_argument("--json", action="store_true")
    revoke = actions.add_parser("revoke", help="revoke a deploy token by id")
    revoke.set_defaults(admin_command=revoke_deploy_token)
    revoke.add_argument("token_id", type=int)
