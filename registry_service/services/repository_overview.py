"""A project's container registry as the web interface's project page shows it: a page of its
repositories with tag count, size and last push, and the project's cleanup policy.

The checks are the API's (``repositories.find_readable_project``: hidden → 404, no read
ability → 403). A page is a fixed number of catalog statements however many repositories or
tags there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog import repository_stats as stat_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Repository
from registry_service.services import repositories
from registry_service.services.permissions import Ability, Actor
from registry_service.services.policies import CleanupPolicy, policy_of
from registry_service.services.projects import ProjectAccess


@dataclass(frozen=True)
class RepositorySummary:
    repository: Repository
    path: str
    tags_count: int
    size_bytes: int
    last_pushed_at: datetime | None


@dataclass(frozen=True)
class RegistryOverview:
    access: ProjectAccess
    repositories: list[RepositorySummary]
    total: int
    policy: CleanupPolicy
    # What the viewer may do here (the API's abilities), so pages offer only what works.
    may_destroy: bool
    may_admin: bool
    may_edit_policy: bool


async def project_registry(
    catalog: CatalogBackend, actor: Actor, ref: str, *, limit: int, offset: int
) -> RegistryOverview:
    access = await repositories.find_readable_project(catalog, actor, ref)
    views, total = await repositories.list_project_repositories(
        catalog, access, tags=False, tags_count=True, limit=limit, offset=offset
    )
    ids = [v.repository.id for v in views]
    # The sizes walk every tag of these repositories: a scan, off the event loop.
    sizes = await stat_rows.select_repository_sizes(catalog.scan_reader, ids)
    pushes = await stat_rows.select_last_pushes(catalog.reader, ids)
    return RegistryOverview(
        access=access,
        repositories=[
            RepositorySummary(
                repository=v.repository,
                path=v.path,
                tags_count=v.tags_count or 0,
                size_bytes=sizes.get(v.repository.id, 0),
                last_pushed_at=pushes.get(v.repository.id),
            )
            for v in views
        ],
        total=total,
        policy=await policy_of(catalog, access.project),
        may_destroy=access.can(actor, Ability.DESTROY_CONTAINER_IMAGE),
        may_admin=access.can(actor, Ability.ADMIN_CONTAINER_IMAGE),
        may_edit_policy=access.can(actor, Ability.ADMIN_PROJECT),
    )
