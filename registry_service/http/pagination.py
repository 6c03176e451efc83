"""GitLab's offset pagination: the ``page``/``per_page`` rules and every header of §5.

Link URLs are built from the configured external URL (python-gitlab warns when a Link points
elsewhere), with the request's path as sent (so ``%2F`` stays encoded) and every request
parameter, path parameters and the effective ``page``/``per_page`` included, keys sorted and
encoded as Rails' ``to_query`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from aiohttp import web
from marshmallow import post_load

from registry_service.http.fields import GitLabInt, GitLabParams
from registry_service.redaction import is_secret_name

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# Past this many items GitLab stops counting: X-Total, X-Total-Pages and rel="last" go away.
COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def limit(self) -> int:
        return self.size


class PaginationParams(GitLabParams):
    page = GitLabInt(load_default=1)
    per_page = GitLabInt(load_default=DEFAULT_PER_PAGE)

    @post_load
    def to_page(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["page"] = page_from(data.pop("page"), data.pop("per_page"))
        return data


# Past this page the offset would not fit SQLite's 64-bit integers; it is empty anyway.
MAX_PAGE = 2**63 // (MAX_PER_PAGE + 1)


def page_from(page: int, per_page: int) -> Page:
    """Kaminari's clamping: page ≤ 0 → 1, negative per_page → default, over the max → max."""
    if per_page < 0:
        per_page = DEFAULT_PER_PAGE
    return Page(min(max(page, 1), MAX_PAGE), min(per_page, MAX_PER_PAGE))


def _query(params: dict[str, Any]) -> str:
    pairs: list[str] = []
    for key in sorted(params):
        value = params[key]
        if isinstance(value, list):
            pairs.extend(f"{quote_plus(key)}%5B%5D={quote_plus(str(v))}" for v in value)
        else:
            pairs.append(f"{quote_plus(key)}={quote_plus(str(value))}")
    return "&".join(pairs)


def pagination_headers(
    request: web.Request, base_url: str, page: Page, total: int
) -> dict[str, str]:
    """X-* headers and Link for one page out of ``total`` items."""
    pages = max(1, -(-total // page.size)) if page.size else 1
    has_next = page.size > 0 and page.number * page.size < total
    has_prev = page.number > 1
    counted = total <= COUNT_LIMIT
    params: dict[str, Any] = {}
    for key in request.query:
        if not is_secret_name(key):  # credentials are never echoed in a URL
            values = request.query.getall(key)
            params[key.removesuffix("[]")] = list(values) if key.endswith("[]") else values[-1]
    params.update(request.match_info)
    params["per_page"] = page.size
    path = request.raw_path.split("?", 1)[0]

    def link(number: int, rel: str) -> str:
        return f'<{base_url}{path}?{_query({**params, "page": number})}>; rel="{rel}"'

    links = []
    if has_prev:
        links.append(link(page.number - 1, "prev"))
    if has_next:
        links.append(link(page.number + 1, "next"))
    links.append(link(1, "first"))
    if counted:
        links.append(link(pages, "last"))
    headers = {
        "X-Per-Page": str(page.size),
        "X-Page": str(page.number),
        "X-Next-Page": str(page.number + 1) if has_next else "",
        "X-Prev-Page": str(page.number - 1) if has_prev else "",
        "Link": ", ".join(links),
    }
    if counted:
        headers["X-Total"] = str(total)
        headers["X-Total-Pages"] = str(pages)
    return headers


def keyset_link_header(request: web.Request, base_url: str, updates: dict[str, Any]) -> str:
    """GitLab's keyset ``Link``: only ``rel="next"``, the request's own query with
    ``updates`` (``per_page``, ``last``, ``sort``) merged in, keys sorted."""
    params: dict[str, Any] = {}
    for key in request.query:
        if not is_secret_name(key):  # credentials are never echoed in a URL
            values = request.query.getall(key)
            params[key.removesuffix("[]")] = list(values) if key.endswith("[]") else values[-1]
    params.update(updates)
    path = request.raw_path.split("?", 1)[0]
    return f'<{base_url}{path}?{_query(params)}>; rel="next"'
