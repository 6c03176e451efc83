"""Test data made through the services (not HTTP): users with tokens, groups, projects."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime

from registry_service.catalog import namespaces
from registry_service.catalog.db import Catalog
from registry_service.catalog.rows import Namespace, Project, User
from registry_service.services import deploy_tokens, provisioning

_counter = itertools.count(1)


@dataclass(frozen=True)
class UserWithToken:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.token}


class Factory:
    def __init__(self, catalog: Catalog, now: datetime) -> None:
        self.catalog = catalog
        self.now = now

    async def user(
        self,
        username: str | None = None,
        *,
        admin: bool = False,
        external: bool = False,
        scopes: tuple[str, ...] = ("api",),
        expires_at: date | None = None,
    ) -> UserWithToken:
        n = next(_counter)
        username = username or f"user{n}"
        token = f"glpat-test-{username}-{n:08d}-token"
        async with self.catalog.transaction() as tx:
            user, _ = await provisioning.ensure_user(
                tx,
                username=username,
                name=username.title(),
                email=f"{username}@example.test",
                is_admin=admin,
                external=external,
                now=self.now,
            )
            await provisioning.ensure_token(
                tx,
                user=user,
                name="test",
                value=token,
                scopes=list(scopes),
                expires_at=expires_at,
                now=self.now,
            )
        return UserWithToken(user, token)

    async def token(
        self,
        user: User,
        *,
        scopes: tuple[str, ...] = ("api",),
        expires_at: date | None = None,
    ) -> str:
        value = f"glpat-extra-{user.username}-{next(_counter):08d}"
        async with self.catalog.transaction() as tx:
            await provisioning.ensure_token(
                tx,
                user=user,
                name="extra",
                value=value,
                scopes=list(scopes),
                expires_at=expires_at,
                now=self.now,
            )
        return value

    async def group(self, full_path: str, *, visibility: str = "private") -> Namespace:
        async with self.catalog.transaction() as tx:
            group, _ = await provisioning.ensure_group(
                tx,
                full_path=full_path,
                name=None,
                visibility=visibility,
                description="",
                now=self.now,
            )
        return group

    async def project(
        self,
        full_path: str,
        *,
        visibility: str = "private",
        registry: str = "enabled",
    ) -> Project:
        namespace = full_path.rpartition("/")[0]
        async with self.catalog.transaction() as tx:
            if await namespaces.select_namespace_by_path(tx, namespace) is None:
                parts = namespace.split("/")
                for i in range(1, len(parts) + 1):
                    await provisioning.ensure_group(
                        tx,
                        full_path="/".join(parts[:i]),
                        name=None,
                        visibility="public",
                        description="",
                        now=self.now,
                    )
            project, _ = await provisioning.ensure_project(
                tx,
                full_path=full_path,
                name=None,
                visibility=visibility,
                registry_access_level=registry,
                description="",
                creator_id=None,
                now=self.now,
            )
        return project

    async def member(
        self,
        user: User,
        level: int,
        *,
        project: Project | None = None,
        group: Namespace | None = None,
    ) -> None:
        async with self.catalog.transaction() as tx:
            await provisioning.set_membership(
                tx, user=user, access_level=level, project=project, namespace=group, now=self.now
            )

    async def deploy_token(
        self,
        *,
        project: Project | None = None,
        group: Namespace | None = None,
        scopes: tuple[str, ...] = ("read_registry",),
        expires_at: datetime | None = None,
        username: str | None = None,
        name: str = "deploy",
    ) -> deploy_tokens.NewDeployToken:
        """A deploy token of ``project`` or ``group``, with its value."""
        async with self.catalog.transaction() as tx:
            return await deploy_tokens.insert_deploy_token(
                tx,
                project_id=project.id if project else None,
                namespace_id=group.id if group else None,
                name=name,
                username=username,
                scopes=list(scopes),
                expires_at=expires_at,
                now=self.now,
            )
