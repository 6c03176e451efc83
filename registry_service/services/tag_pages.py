"""Tags of a repository as the web interface lists them: sorted by name, build date or push
date, filtered by a part of the name, a keyset page at a time, with the platforms of indexes.

The repository has already been found within a project the actor may read
(``repositories.find_readable_project`` and ``find_repository``, the API's checks). A page is
two catalog statements whatever the repository's size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from registry_service.catalog import tag_pages as tag_page_rows
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Repository
from registry_service.manifests.media_types import INDEX_TYPES

MAX_PAGE_SIZE = 200


class TagSort(StrEnum):
    NAME = "name"
    BUILT = "built"
    PUSHED = "pushed"


@dataclass(frozen=True)
class TagEntry:
    name: str
    digest: str
    media_type: str
    size_bytes: int | None
    built_at: datetime | None
    pushed_at: datetime
    # "os/architecture[/variant]" of each child, for an index; empty for an image.
    platforms: tuple[str, ...]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class TagPage:
    tags: list[TagEntry]
    # Every tag of the repository, filter or not (kept by triggers: no count at read time).
    total: int
    # (sort value, name) to continue after, when there is a next page.
    next_after: tuple[str, str] | None
    # (sort value, name) to go back before, when there is a previous page.
    previous_before: tuple[str, str] | None = None


def platform_label(platform_json: str | None) -> str:
    """``linux/arm64/v8`` from a child's platform JSON; ``unknown`` without one."""
    try:
        platform = json.loads(platform_json) if platform_json else None
    except ValueError:
        platform = None
    if not isinstance(platform, dict):
        return "unknown"
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(str(p) for p in parts if p) or "unknown"


async def list_tag_page(
    catalog: CatalogBackend,
    repository: Repository,
    *,
    sort: TagSort,
    descending: bool,
    name_contains: str | None,
    after: tuple[str, str] | None,
    limit: int,
    before: tuple[str, str] | None = None,
) -> TagPage:
    """The page after ``after`` (or the first), or with ``before`` the page that ends just
    before it — read in the opposite order from ``before`` and turned around."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    backwards = before is not None
    # One row past the page says whether another page lies that way, without counting.
    rows = await tag_page_rows.select_tag_page(
        catalog.reader,
        repository.id,
        sort=str(sort),
        descending=descending != backwards,
        name_contains=name_contains or None,
        after=before if backwards else after,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    has_next = backwards or more
    has_previous = more if backwards else after is not None
    platforms = await tag_page_rows.select_children_platforms(
        catalog.reader, [r.manifest_id for r in rows if r.media_type in INDEX_TYPES]
    )
    tags = [
        TagEntry(
            name=r.name,
            digest=r.digest,
            media_type=r.media_type,
            size_bytes=r.size_bytes,
            built_at=r.built_at,
            pushed_at=r.pushed_at,
            platforms=tuple(platform_label(p) for p in platforms.get(r.manifest_id, [])),
        )
        for r in rows
    ]
    next_after = (rows[-1].sort_value, rows[-1].name) if has_next and rows else None
    previous = (rows[0].sort_value, rows[0].name) if has_previous and rows else None
    total = await tag_rows.count_tags(catalog.reader, repository.id)
    return TagPage(tags, total, next_after, previous)
