"""Deleting projects, groups and users: their container repositories go through the existing
repository-deletion jobs, the rows themselves once the last repository below them is gone.

One transaction marks the rows (``marked_for_deletion_at``), marks every repository below them
``delete_scheduled`` and writes a deletion-job intent for each one that has none open; the jobs
are enqueued after the commit. A crash therefore leaves either nothing or everything needed:
the runners' sweep finds the intents, and each repository-deletion job removes, in its own
transaction, the marked rows it was the last thing holding (``catalog.deletions``). A marked
project or group is gone for every lookup at once; asking again for its deletion (after a
repository deletion failed for good) schedules what is left again.

Rules that may forbid deleting a repository (protected and immutable tags, protected
repositories) plug in at ``ensure_repositories_deletable``: every path that schedules a
repository's deletion — here, and ``DELETE …/registry/repositories/:id`` in
``services/repositories.py`` — calls it inside its transaction before anything is marked.
"""

from __future__ import annotations

import logging
from datetime import datetime

from registry_service.catalog import deletions as deletion_rows
from registry_service.catalog import jobs as job_rows
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.protocols import CatalogBackend, Reader, Writer
from registry_service.errors import Forbidden
from registry_service.services import groups, projects, protection_rules
from registry_service.services.job_data import RepositoryDeletionParams
from registry_service.services.jobs import JobKind, JobQueue
from registry_service.services.permissions import AccessLevel, Actor
from registry_service.services.users import require_signed_in

log = logging.getLogger("registry_service.deletion")


async def ensure_repositories_deletable(
    db: Reader, actor: Actor, repository_ids: list[int]
) -> None:
    """Raise ``Forbidden`` if a rule forbids ``actor`` to delete one of these repositories.

    The single place where protection rules refuse a repository's deletion, alone or as part
    of a project, group or user deletion (``services/protection_rules.py`` says how).
    """
    await protection_rules.require_repositories_deletable(db, actor, repository_ids)


async def schedule_repository_deletions(
    tx: Writer, actor: Actor, repository_ids: list[int], now: datetime
) -> list[int]:
    """Mark each repository ``delete_scheduled`` and write a deletion intent for those with no
    open one, in the caller's transaction; returns the new job ids (to enqueue after commit)."""
    new_jobs: list[int] = []
    for repository_id in repository_ids:
        await repository_rows.mark_deletion_scheduled(tx, repository_id)
        if await job_rows.select_open_job_id(tx, JobKind.DELETE_REPOSITORY, repository_id):
            continue
        repository = await repository_rows.select_repository_by_id(tx, repository_id)
        assert repository is not None
        params = RepositoryDeletionParams()
        new_jobs.append(
            await job_rows.insert_job(
                tx,
                kind=params.kind,
                params=params.encode(),
                requester_id=actor.user_id,
                project_id=repository.project_id,
                repository_id=repository_id,
                now=now,
            )
        )
    return new_jobs


async def mark_projects_deleted(
    tx: Writer, actor: Actor, project_ids: list[int], now: datetime
) -> list[int]:
    """Mark projects for deletion and schedule their repositories; returns new job ids."""
    repository_ids = await deletion_rows.select_repository_ids_of_projects(tx, project_ids)
    await ensure_repositories_deletable(tx, actor, repository_ids)
    await deletion_rows.mark_projects(tx, project_ids, now)
    return await schedule_repository_deletions(tx, actor, repository_ids, now)


async def mark_namespace_tree_deleted(
    tx: Writer, actor: Actor, namespace_id: int, now: datetime
) -> list[int]:
    """Mark a namespace, every namespace below it and all their projects for deletion."""
    namespace_ids = await deletion_rows.select_namespace_subtree_ids(tx, namespace_id)
    project_ids = await deletion_rows.select_project_ids_in_namespaces(tx, namespace_ids)
    jobs = await mark_projects_deleted(tx, actor, project_ids, now)
    await deletion_rows.mark_namespaces(tx, namespace_ids, now)
    return jobs


async def enqueue_jobs(queue: JobQueue, job_ids: list[int]) -> None:
    """Hand committed intents to the queue; one that fails waits for the runners' sweep."""
    for job_id in job_ids:
        try:
            await queue.enqueue(job_id)
        except Exception:
            log.exception("job %d recorded but not enqueued; the next sweep will run it", job_id)


async def delete_project_tree(
    catalog: CatalogBackend, queue: JobQueue, actor: Actor, project_id: int, now: datetime
) -> None:
    """Delete one project (already found and authorised by the caller)."""
    async with catalog.transaction() as tx:
        jobs = await mark_projects_deleted(tx, actor, [project_id], now)
        await deletion_rows.delete_drained_rows(tx)
    await enqueue_jobs(queue, jobs)


async def delete_namespace_tree(
    catalog: CatalogBackend, queue: JobQueue, actor: Actor, namespace_id: int, now: datetime
) -> None:
    """Delete a group with its subgroups and projects (found and authorised by the caller)."""
    async with catalog.transaction() as tx:
        jobs = await mark_namespace_tree_deleted(tx, actor, namespace_id, now)
        await deletion_rows.delete_drained_rows(tx)
    await enqueue_jobs(queue, jobs)


def require_owner(actor: Actor, level: AccessLevel) -> None:
    """GitLab's ``remove_project`` / ``remove_group``: Owners and administrators only."""
    if level < AccessLevel.OWNER and not actor.is_admin:
        raise Forbidden()


async def delete_project(
    catalog: CatalogBackend, queue: JobQueue, actor: Actor, ref: str, now: datetime
) -> None:
    """``DELETE /projects/:id``: asking again for a marked project schedules what is left."""
    require_signed_in(actor)
    access = await projects.find_project(catalog, actor, ref, include_marked=True)
    require_owner(actor, access.level)
    await delete_project_tree(catalog, queue, actor, access.project.id, now)


async def delete_group(
    catalog: CatalogBackend, queue: JobQueue, actor: Actor, ref: str, now: datetime
) -> None:
    """``DELETE /groups/:id``: the group, its subgroups and every project below them."""
    require_signed_in(actor)
    access = await groups.find_group(catalog, actor, ref, include_marked=True)
    require_owner(actor, access.level)
    await delete_namespace_tree(catalog, queue, actor, access.group.id, now)
