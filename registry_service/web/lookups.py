"""The project and repository a page's URL names, found with the API's checks (the project
hidden → 404, no read ability → 403, a repository of another project → 404)."""

from __future__ import annotations

from aiohttp import web

from registry_service.catalog.rows import Repository
from registry_service.errors import RecordNotFound
from registry_service.http import context as ctx
from registry_service.services import repositories
from registry_service.services.projects import ProjectAccess
from registry_service.web.sessions import Viewer


async def readable_repository(
    request: web.Request, viewer: Viewer
) -> tuple[ProjectAccess, Repository]:
    catalog = ctx.catalog(request)
    access = await repositories.find_readable_project(
        catalog, viewer.actor, request.match_info["project_id"]
    )
    try:
        repository_id = int(request.match_info["repository_id"])
    except ValueError:
        raise RecordNotFound() from None
    return access, await repositories.find_repository(catalog, access, repository_id)


def repository_url(access: ProjectAccess, repository: Repository) -> str:
    return f"/projects/{access.project.id}/repositories/{repository.id}"
