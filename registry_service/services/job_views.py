"""Job handles (issue 6): one job, or a project's jobs, as their starters may see them.

A job is visible to whoever could have started it — a project's job (bulk delete, repository
deletion) to users with ``admin_container_image`` on its project, a job without a project
(garbage collection) to no one but instance administrators — and to administrators. An
invisible job is as missing as an unknown id (``JobNotFound``), so ids leak nothing. What the
job bodies wrote (``params``, ``counts``, ``result``) is decoded by ``services.job_data``, the
codec they wrote it with, into a ``JobView``; nothing here changes a job.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from registry_service.catalog import jobs as job_rows
from registry_service.catalog import projects as project_rows
from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import JobRow, User
from registry_service.errors import JobNotFound
from registry_service.services import projects
from registry_service.services.job_data import (
    CleanupResult,
    JobCounts,
    JobData,
    JobParams,
    decode_job,
)
from registry_service.services.permissions import Ability, Actor
from registry_service.services.projects import ProjectAccess

# A cleanup of a big repository can delete 100k tags; the view shows the first ones by name.
DELETED_TAGS_SHOWN = 1000


@dataclass(frozen=True)
class JobView:
    job: JobRow
    params: JobParams
    counts: JobCounts
    requester: User | None
    # None when the job's kind does not record names, or it has not finished.
    deleted_tags: tuple[str, ...] | None
    deleted_tags_truncated: bool
    reason: str | None


async def get_job(catalog: CatalogBackend, actor: Actor, job_id: int) -> JobView:
    """The job ``job_id`` if the actor could have started it (or is an administrator)."""
    job = await job_rows.select_job(catalog.reader, job_id)
    if job is None or not await _may_see(catalog, actor, job):
        raise JobNotFound()
    (view,) = await _views(catalog, [job])
    return view


async def find_jobs_project(catalog: CatalogBackend, actor: Actor, ref: str) -> ProjectAccess:
    """The project named by ``:id`` if the actor may see its jobs: 404 if hidden, 403 for a
    role below Maintainer (the checks of starting a job there)."""
    access = await projects.find_project(catalog, actor, ref)
    if not actor.is_admin:
        projects.require(access, actor, Ability.READ_CONTAINER_IMAGE)
        projects.require(access, actor, Ability.ADMIN_CONTAINER_IMAGE)
    return access


async def list_project_jobs(
    catalog: CatalogBackend,
    access: ProjectAccess,
    *,
    kind: str | None,
    state: str | None,
    limit: int,
    offset: int,
) -> tuple[list[JobView], int]:
    """One page of the project's jobs, newest first, and how many match."""
    found, total = await job_rows.select_project_jobs_page(
        catalog.reader, access.project.id, kind=kind, state=state, limit=limit, offset=offset
    )
    return await _views(catalog, found), total


async def _may_see(catalog: CatalogBackend, actor: Actor, job: JobRow) -> bool:
    if actor.is_admin:
        return True
    if job.project_id is None:
        return False
    project = await project_rows.select_project_by_id(catalog.reader, job.project_id)
    if project is None:
        return False
    level = await projects.project_level(catalog, actor, project.id)
    return ProjectAccess(project, level).can(actor, Ability.ADMIN_CONTAINER_IMAGE)


async def _views(catalog: CatalogBackend, jobs: list[JobRow]) -> list[JobView]:
    users: dict[int, User | None] = {}
    for requester_id in {j.requester_id for j in jobs if j.requester_id is not None}:
        users[requester_id] = await user_rows.select_user_by_id(catalog.reader, requester_id)
    # A running cleanup's row holds its whole plan (megabytes): decoded off the event loop.
    decoded = await asyncio.to_thread(lambda: [decode_job(job) for job in jobs])
    return [
        _view(job, data, users.get(job.requester_id) if job.requester_id else None)
        for job, data in zip(jobs, decoded, strict=True)
    ]


def _view(job: JobRow, data: JobData, requester: User | None) -> JobView:
    result = data.result
    deleted: tuple[str, ...] | None = None
    finished = job.state in ("done", "failed")
    if finished and isinstance(result, CleanupResult) and result.deleted_tags is not None:
        deleted = tuple(sorted(result.deleted_tags))
    return JobView(
        job=job,
        params=data.params,
        counts=data.counts,
        requester=requester,
        deleted_tags=deleted[:DELETED_TAGS_SHOWN] if deleted is not None else None,
        deleted_tags_truncated=deleted is not None and len(deleted) > DELETED_TAGS_SHOWN,
        reason=result.reason if result is not None else None,
    )
