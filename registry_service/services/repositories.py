"""Container repositories as GitLab's REST API shows them: listing (per project, per group),
reading one, and asking for one's deletion (gitlab-api.md §1, §4, §7).

The checks come in GitLab's order (§4): the project (hidden → 404 Project Not Found), the read
ability on it (403), then the repository, looked up within that project (404 Not found), then
the operation's own ability (403). Handlers parse their parameters between the read check and
the repository lookup, where Grape validates them, so these steps are separate functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog import jobs as job_rows
from registry_service.catalog import manifests as manifest_rows
from registry_service.catalog import projects as project_rows
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Project, Repository
from registry_service.errors import Forbidden, RecordNotFound
from registry_service.services import deletion, groups, projects
from registry_service.services.groups import GroupAccess
from registry_service.services.jobs import JobKind, JobQueue
from registry_service.services.permissions import Ability, Actor
from registry_service.services.projects import ProjectAccess


@dataclass(frozen=True)
class RepositoryView:
    """A repository with what the entity shows; ``None`` means "not asked for"."""

    repository: Repository
    # The image path: the project's full path, lowercased, and the repository's name.
    path: str
    tags: tuple[str, ...] | None = None
    tags_count: int | None = None
    size_bytes: int | None = None
    may_admin: bool = False


def image_path(project: Project, repository: Repository) -> str:
    base = project.full_path.lower()
    return f"{base}/{repository.name}" if repository.name else base


async def find_readable_project(catalog: CatalogBackend, actor: Actor, ref: str) -> ProjectAccess:
    """The project named by ``:id`` if the actor may read its images (404, then 403)."""
    access = await projects.find_project(catalog, actor, ref)
    projects.require(access, actor, Ability.READ_CONTAINER_IMAGE)
    return access


async def find_repository(
    catalog: CatalogBackend, access: ProjectAccess, repository_id: int
) -> Repository:
    """The project's repository ``repository_id``; another project's is as missing as none."""
    repository = await repository_rows.select_repository_in_project(
        catalog.reader, access.project.id, repository_id
    )
    if repository is None:
        raise RecordNotFound()
    return repository


async def list_project_repositories(
    catalog: CatalogBackend,
    access: ProjectAccess,
    *,
    tags: bool,
    tags_count: bool,
    limit: int,
    offset: int,
) -> tuple[list[RepositoryView], int]:
    """One page of a readable project's repositories by id, and the total."""
    found, total = await repository_rows.select_repositories_page(
        catalog.reader, [access.project.id], limit=limit, offset=offset
    )
    views = await _views(catalog, {access.project.id: access.project}, found, tags, tags_count)
    return views, total


async def find_readable_group(catalog: CatalogBackend, actor: Actor, ref: str) -> GroupAccess:
    """The group named by ``:id`` if the actor may read its images (404, then 403)."""
    group = await groups.find_group(catalog, actor, ref)
    groups.require(group, actor, Ability.READ_CONTAINER_IMAGE)
    return group


async def list_group_repositories(
    catalog: CatalogBackend, actor: Actor, group: GroupAccess, *, limit: int, offset: int
) -> tuple[list[RepositoryView], int]:
    """One page of the repositories of a group's projects and its subgroups' projects, those
    whose images the actor may read (a disabled registry or a hidden project drops out)."""
    readable: dict[int, Project] = {}
    for project in await project_rows.select_projects_in_namespace_tree(
        catalog.reader, group.group.id
    ):
        level = await projects.project_level(catalog, actor, project.id)
        if ProjectAccess(project, level).can(actor, Ability.READ_CONTAINER_IMAGE):
            readable[project.id] = project
    found, total = await repository_rows.select_repositories_page(
        catalog.reader, sorted(readable), limit=limit, offset=offset
    )
    return await _views(catalog, readable, found, False, False), total


async def get_repository(
    catalog: CatalogBackend,
    actor: Actor,
    repository_id: int,
    *,
    tags: bool,
    tags_count: bool,
    size: bool,
) -> RepositoryView:
    """``GET /registry/repositories/:id`` for a signed-in caller (the handler has refused
    anonymous ones with 401, before its parameters): an unknown id is 404 and a repository the
    actor may not read is 403 (its existence is not hidden here)."""
    repository = await repository_rows.select_repository_by_id(catalog.reader, repository_id)
    project = (
        await project_rows.select_project_by_id(catalog.reader, repository.project_id)
        if repository is not None
        else None
    )
    if repository is None or project is None:
        raise RecordNotFound()
    access = ProjectAccess(project, await projects.project_level(catalog, actor, project.id))
    if not access.can(actor, Ability.READ_CONTAINER_IMAGE):
        raise Forbidden()
    (view,) = await _views(catalog, {project.id: project}, [repository], tags, tags_count)
    return RepositoryView(
        repository=view.repository,
        path=view.path,
        tags=view.tags,
        tags_count=view.tags_count,
        size_bytes=(
            # A recursive walk over every tag: many rows, so off the event loop.
            await manifest_rows.select_repository_size(catalog.scan_reader, repository.id)
            if size
            else None
        ),
        may_admin=access.can(actor, Ability.ADMIN_CONTAINER_IMAGE),
    )


async def schedule_deletion(
    catalog: CatalogBackend,
    queue: JobQueue,
    actor: Actor,
    access: ProjectAccess,
    repository: Repository,
    now: datetime,
) -> int:
    """Mark the repository ``delete_scheduled`` and make sure a deletion job is on its way;
    returns that job's id.

    Asking again while a deletion is pending changes nothing (GitLab answers 202 again) and
    returns the pending job. A job is submitted whenever none is queued or running, so a crash
    between the mark and the submission is mended by the next request.
    """
    projects.require(access, actor, Ability.ADMIN_CONTAINER_IMAGE)
    # The mark, the look for an open job and the new job's intent are one transaction: the
    # mark locks the repository's row (and SQLite has one writer), so a request at the same
    # moment waits, then finds this job instead of writing a second.
    async with catalog.transaction() as tx:
        if await repository_rows.select_repository_by_id(tx, repository.id) is None:
            raise RecordNotFound()  # a deletion finished since the caller looked it up
        await deletion.ensure_repositories_deletable(tx, actor, [repository.id])
        new_jobs = await deletion.schedule_repository_deletions(tx, actor, [repository.id], now)
        pending = await job_rows.select_open_job_id(tx, JobKind.DELETE_REPOSITORY, repository.id)
    await deletion.enqueue_jobs(queue, new_jobs)
    assert pending is not None  # written above if there was none
    return pending


async def _views(
    catalog: CatalogBackend,
    projects_by_id: dict[int, Project],
    found: Sequence[Repository],
    tags: bool,
    tags_count: bool,
) -> list[RepositoryView]:
    ids = [r.id for r in found]
    # Every tag of up to a page of repositories: a scan, so off the event loop.
    scan = catalog.scan_reader
    names = await tag_rows.select_tag_names_of_repositories(scan, ids) if tags else {}
    counts = await tag_rows.count_tags_of_repositories(scan, ids) if tags_count else {}
    return [
        RepositoryView(
            repository=r,
            path=image_path(projects_by_id[r.project_id], r),
            tags=tuple(names[r.id]) if tags else None,
            tags_count=counts[r.id] if tags_count else None,
        )
        for r in found
    ]
