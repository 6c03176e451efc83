"""Page: deleting one or several tags (Developer+, as the API's single-tag delete), in two
steps — the first post shows what would go and asks, the second (``confirmed=yes``) deletes.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from registry_service.errors import TagNotFound
from registry_service.http import context as ctx
from registry_service.services import projects, repositories, tags
from registry_service.services.permissions import Ability
from registry_service.web.csrf import checked_form
from registry_service.web.lookups import readable_repository, repository_url
from registry_service.web.render import page, redirect, render
from registry_service.web.sessions import Viewer

# A confirmation page lists every tag it will delete; more than this is a cleanup's job.
MAX_TAGS = 500


@page
async def delete_tags(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await checked_form(request, viewer)
    access, repository = await readable_repository(request, viewer)
    projects.require(access, viewer.actor, Ability.DESTROY_CONTAINER_IMAGE)
    names = sorted(set(form.getall("tag", [])))[:MAX_TAGS]
    back = repository_url(access, repository)
    if not names:
        return redirect(back)
    if form.get("confirmed") != "yes":
        return render(request, viewer, "confirm_tag_delete.html", {
            "project": access.project,
            "repository": repository,
            "path": repositories.image_path(access.project, repository),
            "names": names,
            "action": f"{back}/tags/delete",
            "back": back,
        })
    deleted = 0
    for name in names:
        try:
            await tags.delete_tag(
                ctx.catalog(request), viewer.actor, access, repository, name, ctx.now(request)
            )
        except TagNotFound:
            continue  # deleted meanwhile: what the person wanted
        deleted += 1
    return redirect(f"{back}?{urlencode({'deleted': deleted})}")
