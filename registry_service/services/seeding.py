"""Fixture seeding: a TOML document of users (with fixed tokens), groups, projects and
memberships (and deploy tokens with fixed values), and images with their tags, loaded into the
catalog in one transaction. Loading
the same file twice changes nothing; entities that already exist are left as they are and
memberships are set to the level the file names. The format is documented in
``config/seed.example.toml``.

Images are real content (``services.image_seeding``). Their blobs are written to the store
while the transaction writes the rows, and it commits only once every blob is durable: no row
ever names a missing blob, and a bad entry leaves the catalog untouched and at most some
unreferenced blob files, which garbage collection removes.
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import CatalogBackend, Writer
from registry_service.services.deploy_tokens import DeployTokenInvalid, ensure_deploy_token
from registry_service.services.image_seeding import (
    ImagePlan,
    plan_images,
    record_images,
    write_image_blobs,
)
from registry_service.services.image_specs import ImageSpecInvalid, parse_image_specs
from registry_service.services.permissions import AccessLevel
from registry_service.services.provisioning import (
    ProvisioningFailed,
    ensure_group,
    ensure_project,
    ensure_token,
    ensure_user,
    set_membership,
)
from registry_service.storage.base import BlobStore

# What a report counts, in the order its summary lists them.
KINDS = (
    "users", "tokens", "groups", "projects", "members", "repositories", "manifests", "tags", "blobs"
)


class SeedInvalid(ValueError):
    """The seed file cannot be loaded; the message names the entry."""


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    @property
    def changed(self) -> bool:
        return any(self.created.values())

    def summary(self) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in self.created.items())


def read_seed(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise SeedInvalid(f"cannot read seed file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SeedInvalid(f"{path}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"users", "groups", "projects", "images"}
    if unknown:
        raise SeedInvalid(f"{path}: unknown top-level keys {sorted(unknown)}")
    return data


def _entries(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    entries = data.get(kind, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SeedInvalid(f"{kind} must be an array of tables ([[{kind}]])")
    return entries


def _required(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise SeedInvalid(f"{where}: `{key}` is required")
    return value


def _date(value: Any, where: str) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise SeedInvalid(f"{where}: expires_at must be a date like 2030-01-31")


def _level(value: Any, where: str) -> AccessLevel:
    try:
        return AccessLevel.parse(value)
    except (ValueError, KeyError, TypeError):
        raise SeedInvalid(
            f"{where}: access_level must be guest, reporter, developer, maintainer, owner "
            "or 10..50"
        ) from None


async def apply_seed(
    catalog: CatalogBackend,
    data: dict[str, Any],
    now: datetime,
    *,
    store: BlobStore | None = None,
) -> SeedReport:
    """Create what the document names and is missing, all in one transaction.

    ``store`` is needed when the document has ``[[images]]``: their blobs go there.
    """
    report = SeedReport()
    images = await _start_images(data, store)
    if images is not None:
        # Every blob is durably in the store before the transaction that names them begins:
        # writing gigabytes while holding the catalog's write lock would stall a running
        # server's writers past their busy timeout.
        try:
            await images[1]
        finally:
            await _settle(images[1])
    async with catalog.transaction() as tx:
        try:
            await _apply_accounts(tx, data, report.created, now)
            if images is not None:
                for kind, count in (await record_images(tx, images[0], now)).items():
                    report.created[kind] += count
        except (ProvisioningFailed, ImageSpecInvalid) as exc:
            raise SeedInvalid(str(exc)) from None
    return report


async def _apply_accounts(
    tx: Writer, data: dict[str, Any], created: dict[str, int], now: datetime
) -> None:
    """Users and their tokens, groups, projects and their members."""
    for entry in _entries(data, "users"):
        username = _required(entry, "username", "users")
        user, new = await ensure_user(
            tx,
            username=username,
            name=entry.get("name"),
            email=entry.get("email"),
            is_admin=bool(entry.get("admin", False)),
            external=bool(entry.get("external", False)),
            now=now,
        )
        created["users"] += new
        for token in entry.get("tokens", []):
            where = f"users.{username}.tokens"
            created["tokens"] += await ensure_token(
                tx,
                user=user,
                name=token.get("name", "seed"),
                value=_required(token, "value", where),
                scopes=list(token.get("scopes", ["api"])),
                expires_at=_date(token.get("expires_at"), where),
                now=now,
            )
    for kind in ("groups", "projects"):
        for entry in _entries(data, kind):
            full_path = _required(entry, "path", kind)
            visibility = entry.get("visibility", "private")
            if kind == "groups":
                target, new = await ensure_group(
                    tx,
                    full_path=full_path,
                    name=entry.get("name"),
                    visibility=visibility,
                    description=entry.get("description", ""),
                    now=now,
                )
                scope: dict[str, Any] = {"namespace": target}
            else:
                project, new = await ensure_project(
                    tx,
                    full_path=full_path,
                    name=entry.get("name"),
                    visibility=visibility,
                    registry_access_level=entry.get(
                        "container_registry_access_level", "enabled"
                    ),
                    description=entry.get("description", ""),
                    creator_id=None,
                    now=now,
                )
                scope = {"project": project}
            created[kind] += new
            for member in entry.get("members", []):
                where = f"{kind}.{full_path}.members"
                username = _required(member, "user", where)
                member_user = await user_rows.select_user_by_username(tx, username)
                if member_user is None:
                    raise SeedInvalid(f"{where}: unknown user {username!r}")
                created["members"] += await set_membership(
                    tx,
                    user=member_user,
                    access_level=_level(member.get("access_level"), where),
                    expires_at=_date(member.get("expires_at"), where),
                    now=now,
                    **scope,
                )
            for token in entry.get("deploy_tokens", []):
                created["tokens"] += await _seed_deploy_token(
                    tx, kind, full_path, token, f"{kind}.{full_path}.deploy_tokens", now
                )


async def _seed_deploy_token(
    tx: Writer, kind: str, full_path: str, token: dict[str, Any], where: str, now: datetime
) -> bool:
    """A deploy token with a fixed value; False if it is there already. Counted as a token."""
    expires_at = token.get("expires_at")
    if isinstance(expires_at, date) and not isinstance(expires_at, datetime):
        expires_at = datetime(expires_at.year, expires_at.month, expires_at.day, tzinfo=UTC)
    elif isinstance(expires_at, datetime) and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    elif expires_at is not None and not isinstance(expires_at, datetime):
        raise SeedInvalid(f"{where}: expires_at must be a TOML date or date-time")
    try:
        minted = await ensure_deploy_token(
            tx,
            project_path=full_path if kind == "projects" else None,
            group_path=full_path if kind == "groups" else None,
            name=token.get("name", "seed"),
            username=token.get("username"),
            scopes=list(token.get("scopes", ["read_registry"])),
            expires_at=expires_at,
            now=now,
            value=_required(token, "value", where),
        )
    except DeployTokenInvalid as exc:
        raise SeedInvalid(f"{where}: {exc}") from None
    return minted is not None


async def _start_images(
    data: dict[str, Any], store: BlobStore | None
) -> tuple[ImagePlan, asyncio.Task[None]] | None:
    """Validate and generate the document's images and start writing their blobs (a task);
    None if it has no images."""
    try:
        specs = parse_image_specs(_entries(data, "images"))
        if not specs:
            return None
        if store is None:
            raise SeedInvalid("[[images]] need the blob store, and none was given")
        plan = await asyncio.to_thread(plan_images, specs)
    except ImageSpecInvalid as exc:
        raise SeedInvalid(str(exc)) from None
    return plan, asyncio.create_task(write_image_blobs(store, plan))


async def _settle(task: asyncio.Task[None]) -> None:
    """Let the blob writes end (the caller closes the store next), whatever the outcome; an
    error of theirs has been raised already if it mattered."""
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()


async def seed_file(
    catalog: CatalogBackend, path: Path, now: datetime, *, store: BlobStore | None = None
) -> SeedReport:
    return await apply_seed(catalog, read_seed(path), now, store=store)


