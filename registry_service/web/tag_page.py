"""Page: one tag — the manifest or index it points at, layers or children with sizes, the
image config's summary, annotations, referrers, and the pull commands to copy."""

from __future__ import annotations

from aiohttp import web

from registry_service.http import context as ctx
from registry_service.keys import storage_key
from registry_service.services import image_details, repositories
from registry_service.services.permissions import Ability
from registry_service.web.lookups import readable_repository, repository_url
from registry_service.web.render import page, render
from registry_service.web.sessions import Viewer
from registry_service.web.tag_badges import tag_badges


@page
async def show_tag(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    access, repository = await readable_repository(request, viewer)
    details = await image_details.get_image_details(
        ctx.catalog(request), request.config_dict[storage_key], repository,
        request.match_info["tag_name"],
    )
    reference = (
        f"{ctx.settings(request).registry_host}/"
        f"{repositories.image_path(access.project, repository)}:{details.tag}"
    )
    return render(request, viewer, "tag.html", {
        "project": access.project,
        "repository": repository,
        "path": repositories.image_path(access.project, repository),
        "details": details,
        "badge": (await tag_badges(request, access.project.id, [details.tag])).get(details.tag),
        "pull_commands": [
            ("docker", f"docker pull {reference}"),
            ("podman", f"podman pull {reference}"),
        ],
        "repository_url": repository_url(access, repository),
        "may_destroy": access.can(viewer.actor, Ability.DESTROY_CONTAINER_IMAGE),
    })
