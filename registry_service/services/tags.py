"""Tags of a container repository as GitLab's REST API shows them: listing (offset and keyset),
one tag's details, deleting one tag, and requesting a bulk cleanup (gitlab-api.md §1-§3).

The repository has already been found within a project the actor may read (see
``services.repositories``); the functions here check the operation's own ability.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from registry_service.catalog import leases as lease_rows
from registry_service.catalog import manifests as manifest_rows
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Repository
from registry_service.errors import CleanupThrottled, TagNotFound
from registry_service.services import projects, protection_rules
from registry_service.services.job_data import CleanupParams
from registry_service.services.jobs import JobQueue, submit_job
from registry_service.services.permissions import Ability, Actor
from registry_service.services.projects import ProjectAccess
from registry_service.services.repositories import image_path


@dataclass(frozen=True)
class TagDetails:
    name: str
    # Hex of the image config's digest; "" for an index, which has no config.
    revision: str
    digest: str
    # The image's build date (Decision 4), not the push time.
    created_at: datetime | None
    total_size_bytes: int | None


@dataclass(frozen=True)
class KeysetPage:
    names: list[str]
    # The name to continue after, when there is a next page.
    next_last: str | None


def cleanup_lease_name(repository_id: int) -> str:
    return f"container_repository:cleanup_tags:{repository_id}"


async def list_tag_names(
    catalog: CatalogBackend, repository: Repository, *, limit: int, offset: int
) -> tuple[list[str], int]:
    """One page of tag names in byte order, and how many tags there are."""
    names = await tag_rows.select_tag_names_page(
        catalog.reader, repository.id, limit=limit, offset=offset
    )
    return names, await tag_rows.count_tags(catalog.reader, repository.id)


async def list_tag_names_after(
    catalog: CatalogBackend,
    repository: Repository,
    *,
    last: str | None,
    descending: bool,
    limit: int,
) -> KeysetPage:
    """Keyset pagination by name: up to ``limit`` names after ``last``."""
    # One extra row says whether a next page exists without counting.
    names = await tag_rows.select_tag_names(
        catalog.reader, repository.id, after=last, descending=descending, limit=limit + 1
    )
    if limit > 0 and len(names) > limit:
        return KeysetPage(names[:limit], names[limit - 1])
    return KeysetPage(names[:limit], None)


async def get_tag(catalog: CatalogBackend, repository: Repository, name: str) -> TagDetails:
    tag = await tag_rows.select_tag(catalog.reader, repository.id, name)
    manifest = (
        await manifest_rows.select_manifest(catalog.reader, repository.id, tag.manifest_digest)
        if tag is not None
        else None
    )
    if tag is None or manifest is None:
        raise TagNotFound()
    config = manifest.config_digest
    return TagDetails(
        name=tag.name,
        revision=config.partition(":")[2] if config else "",
        digest=manifest.digest,
        created_at=manifest.image_created_at,
        total_size_bytes=manifest.total_size_bytes,
    )


async def delete_tag(
    catalog: CatalogBackend,
    actor: Actor,
    access: ProjectAccess,
    repository: Repository,
    name: str,
    now: datetime,
) -> None:
    """Remove this one tag (Developer+); other tags on the same manifest stay (Decision 7:
    a missing tag is 404 Tag Not Found)."""
    projects.require(access, actor, Ability.DESTROY_CONTAINER_IMAGE)
    guard = await protection_rules.guard_for(
        catalog, actor, access.project.id, image_path(access.project, repository)
    )
    guard.require_repository("delete")
    async with catalog.transaction() as tx:
        if guard.tags.matching(name):
            # A missing tag is 404 whatever rule would match it.
            if await tag_rows.select_tag(tx, repository.id, name) is None:
                raise TagNotFound()
            guard.require_tag_delete(name)
        if not await tag_rows.delete_tag(tx, repository.id, name, now):
            raise TagNotFound()


async def request_cleanup(
    catalog: CatalogBackend,
    queue: JobQueue,
    actor: Actor,
    access: ProjectAccess,
    repository: Repository,
    params: CleanupParams,
    *,
    interval_s: int,
    now: datetime,
) -> int:
    """Queue a bulk tag delete (Maintainer+), at most once per ``interval_s`` per repository.

    The lease is taken only once the parameters and the caller have passed, so a refused
    request does not use up the interval; it is never released early, even when the job ends
    (GitLab's ExclusiveLease with a TTL). ``interval_s`` 0 turns the limit off. Returns the
    job's id.
    """
    projects.require(access, actor, Ability.ADMIN_CONTAINER_IMAGE)
    # Protected tags are skipped by the job itself; a protected repository refuses outright.
    guard = await protection_rules.guard_for(
        catalog, actor, access.project.id, image_path(access.project, repository)
    )
    guard.require_repository("delete")
    if interval_s > 0:
        async with catalog.transaction() as tx:
            taken = await lease_rows.acquire_lease(
                tx,
                cleanup_lease_name(repository.id),
                # A fresh owner per request: a second request, even the same user's, must
                # find the lease taken rather than extend it.
                f"api:{uuid.uuid4().hex}",
                now + timedelta(seconds=interval_s),
                now,
            )
        if not taken:
            raise CleanupThrottled()
    return await submit_job(
        catalog,
        queue,
        params,
        requester_id=actor.user_id,
        project_id=access.project.id,
        repository_id=repository.id,
        now=now,
    )
