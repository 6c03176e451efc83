"""Page: a repository's tags — sortable by name, build date or push date, filterable by a part
of the name, a keyset page at a time (so the 1,000th page costs what the first does)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from aiohttp import web

from registry_service.http import context as ctx
from registry_service.services import repositories, tag_pages
from registry_service.services.permissions import Ability
from registry_service.services.tag_pages import TagSort
from registry_service.web import tag_deletes
from registry_service.web.lookups import readable_repository, repository_url
from registry_service.web.params import int_value, text_value
from registry_service.web.render import page, render
from registry_service.web.sessions import Viewer
from registry_service.web.tag_badges import tag_badges

PER_PAGE = 50


@page
async def show_repository(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    access, repository = await readable_repository(request, viewer)
    query = request.query
    try:
        sort = TagSort(query.get("sort", "name"))
    except ValueError:
        sort = TagSort.NAME
    descending = query.get("order", "asc") == "desc"
    name_filter = text_value(query, "filter")
    after = _cursor(query, "after")
    before = None if after is not None else _cursor(query, "before")
    per_page = int_value(query, "per_page", PER_PAGE, low=1, high=tag_pages.MAX_PAGE_SIZE)
    listing = await tag_pages.list_tag_page(
        ctx.catalog(request), repository, sort=sort, descending=descending,
        name_contains=name_filter, after=after, before=before, limit=per_page,
    )
    base = repository_url(access, repository)
    links = _links(base, listing, sort, descending, name_filter, per_page)
    return render(request, viewer, "repository.html", {
        "project": access.project,
        "repository": repository,
        "path": repositories.image_path(access.project, repository),
        "registry_host": ctx.settings(request).registry_host,
        "tags": listing.tags,
        "badges": await tag_badges(request, access.project.id, (t.name for t in listing.tags)),
        "tags_count": listing.total,
        # Set by the tag deletion's redirect (tag_deletes.py).
        "deleted": int_value(query, "deleted", 0, low=0, high=tag_deletes.MAX_TAGS),
        "sort": str(sort),
        "descending": descending,
        "filter": name_filter or "",
        **links,
        "may_destroy": access.can(viewer.actor, Ability.DESTROY_CONTAINER_IMAGE),
        "may_admin": access.can(viewer.actor, Ability.ADMIN_CONTAINER_IMAGE),
        "base_url": base,
    })


def _cursor(query: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """A keyset cursor from ``<name>`` (a tag name) and ``<name>_key`` (its sort value)."""
    tag = query.get(name)
    return (query.get(f"{name}_key", tag or ""), tag) if tag else None


def _links(
    base: str,
    listing: tag_pages.TagPage,
    sort: TagSort,
    descending: bool,
    name_filter: str | None,
    per_page: int,
) -> dict[str, object]:
    """The first, previous and next pages (keyset: before the first row's key, after the
    last one's) and each column's sort link, keeping the filter and page size."""
    kept = {"sort": str(sort), "order": "desc" if descending else "asc"}
    if name_filter:
        kept["filter"] = name_filter
    if per_page != PER_PAGE:
        kept["per_page"] = str(per_page)
    next_url = previous_url = None
    if listing.next_after is not None:
        key, name = listing.next_after
        next_url = f"{base}?{urlencode({**kept, 'after_key': key, 'after': name})}"
    if listing.previous_before is not None:
        key, name = listing.previous_before
        previous_url = f"{base}?{urlencode({**kept, 'before_key': key, 'before': name})}"
    return {
        "first_url": f"{base}?{urlencode(kept)}" if previous_url else None,
        "previous_url": previous_url,
        "next_url": next_url,
        "sort_urls": {
            s.value: f"{base}?{urlencode({**kept, **_order_for(s, sort, descending)})}"
            for s in TagSort
        },
    }


def _order_for(target: TagSort, current: TagSort, descending: bool) -> dict[str, str]:
    """Clicking the current column flips its order; another column starts ascending by name
    and newest-first by date."""
    if target is current:
        return {"sort": target.value, "order": "asc" if descending else "desc"}
    return {"sort": target.value, "order": "asc" if target is TagSort.NAME else "desc"}

