"""What /v2 handlers take from a request besides the shared state (``http/context.py``): the
image its URL names, checked against the caller; digests; and the body, streamed or capped."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from registry_service.catalog.rows import Repository
from registry_service.digests import Digest, parse_digest
from registry_service.errors import DigestInvalid, PayloadTooLarge
from registry_service.http.context import actor, catalog, now, settings
from registry_service.keys import grant_key
from registry_service.services import images, protection_rules, token_grants
from registry_service.services.images import Action, Image
from registry_service.services.protection_rules import Guard
from registry_service.services.registry_tokens import Grant

# Request bodies are read in pieces of about this size (aiohttp hands over what it has).
READ_CHUNK_BYTES = 1024 * 1024


def grant(request: web.Request) -> Grant | None:
    """What the caller's Bearer token grants; None when they sent none."""
    return request.get(grant_key)


async def image(request: web.Request, action: Action, name: str | None = None) -> Image:
    """The image named in the URL (or ``name``), if the caller may ``action`` it."""
    return (await guarded_image(request, action, name))[0]


async def guarded_image(
    request: web.Request, action: Action, name: str | None = None
) -> tuple[Image, Guard | None]:
    """The image, and for a push or delete the guard of its project's protection rules, once
    the repository rules have let the caller through (403 naming the rule if not).

    With a Bearer token the token's grant alone decides who may act (no catalog lookup); its
    rules level, fixed when the token was issued, meets the project's current rules."""
    path = name if name is not None else request.match_info["name"]
    granted = grant(request)
    if granted is not None:
        found = token_grants.granted_image(granted, path, action)
        if action is Action.PULL:
            return found, None
        guard = await protection_rules.guard_at_level(
            catalog(request), found.project_id, token_grants.rules_level(granted, path, action),
            found.path,
        )
        guard.require_repository(str(action))
        return found, guard
    found = await images.resolve(
        catalog(request),
        actor(request),
        path,
        action,
        auto_create=settings(request).registry.auto_create_projects,
        now=now(request),
    )
    if action is Action.PULL:
        return found, None
    guard = await protection_rules.guard_for(
        catalog(request), actor(request), found.project_id, found.path
    )
    guard.require_repository(str(action))
    return found, guard


async def repository(request: web.Request, action: Action) -> tuple[Image, Repository]:
    """The image and its existing repository (NAME_UNKNOWN if never pushed)."""
    found = await image(request, action)
    return found, await images.find_repository(catalog(request), found)


async def guarded_repository(
    request: web.Request, action: Action
) -> tuple[Repository, Guard | None]:
    """The existing repository, with the guard ``guarded_image`` gives."""
    found, guard = await guarded_image(request, action)
    return await images.find_repository(catalog(request), found), guard


def digest_param(text: str | None, what: str = "digest") -> Digest:
    if not text:
        raise DigestInvalid(f"{what} is required")
    return parse_digest(text)


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The request body as it arrives, never whole in memory."""
    async for piece in request.content.iter_chunked(READ_CHUNK_BYTES):
        yield piece


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The whole (small) body; 413 as soon as it passes ``limit`` bytes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the limit of {limit}")
    parts: list[bytes] = []
    size = 0
    async for piece in request.content.iter_chunked(64 * 1024):
        size += len(piece)
        if size > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes")
        parts.append(piece)
    return b"".join(parts)


def has_body(request: web.Request) -> bool:
    if request.content_length is not None:
        return request.content_length > 0
    return request.body_exists
