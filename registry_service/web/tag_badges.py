"""The "protected"/"immutable" badges of the repository and tag pages: the project's tag rules
read once per page (one indexed statement, whatever the number of tags) and matched as the
push and delete checks match them (``services/protection.py``)."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from registry_service.http import context as ctx
from registry_service.services.protection import TagProtection
from registry_service.services.protection_rules import load_tag_protection


def badge(protection: TagProtection, name: str) -> str | None:
    """``immutable`` wins over ``protected``: it is the stronger promise about the tag."""
    if protection.is_immutable(name):
        return "immutable"
    return "protected" if protection.protects(name) else None


async def tag_badges(request: web.Request, project_id: int, names: Iterable[str]) -> dict[str, str]:
    """Each of ``names`` a rule matches, with its badge."""
    protection = await load_tag_protection(ctx.catalog(request).reader, project_id)
    if not protection:
        return {}
    found = {name: badge(protection, name) for name in names}
    return {name: kind for name, kind in found.items() if kind is not None}
