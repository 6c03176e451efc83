"""Handlers: deleting a project or a group (GitLab answers 202 and finishes in the background)."""

from __future__ import annotations

from aiohttp import web

from registry_service.http import context as ctx
from registry_service.services import deletion

# GitLab's ``accepted!`` body.
ACCEPTED = {"message": "202 Accepted"}


async def delete_project(request: web.Request) -> web.Response:
    await deletion.delete_project(
        ctx.catalog(request), ctx.queue(request), ctx.actor(request),
        request.match_info["id"], ctx.now(request),
    )
    return ctx.json(ACCEPTED, status=202)


async def delete_group(request: web.Request) -> web.Response:
    await deletion.delete_group(
        ctx.catalog(request), ctx.queue(request), ctx.actor(request),
        request.match_info["id"], ctx.now(request),
    )
    return ctx.json(ACCEPTED, status=202)
