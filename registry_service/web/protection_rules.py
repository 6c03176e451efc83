"""Pages: a project's protection rules — tag rules (protected or immutable) and repository rules
— listed, created, their levels edited, deleted after a confirmation step, all through the
protection rule service the API uses, so its rules are the API's: Maintainer+ to manage
(403 below), Owner or administrator for immutable rules, at most five tag rules, RE2 patterns,
and the service's own messages for a rule the project cannot have (422, as on the API).

A form the page cannot read (a level that is not one of the three) is 400, as the API's
parameter check is. Immutable rules have no levels and are never edited; the page offers no
form for that, and a forged post gets the service's refusal.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDict

from registry_service.errors import (
    BadRequest,
    ProtectionRuleInvalid,
    RecordNotFound,
    RegistryError,
)
from registry_service.http import context as ctx
from registry_service.services import projects
from registry_service.services import protection_rules as rules
from registry_service.services.permissions import AccessLevel
from registry_service.services.protection import (
    MAX_TAG_PATTERN_LENGTH,
    MAX_TAG_RULES_PER_PROJECT,
    RuleLevel,
)
from registry_service.web.csrf import checked_form
from registry_service.web.render import page, redirect, render
from registry_service.web.sessions import Viewer

LEVELS = tuple(level.wire for level in RuleLevel)
BAD_LEVEL = "An access level must be one of: " + ", ".join(LEVELS) + "."


def _base(request: web.Request) -> str:
    return f"/projects/{request.match_info['project_id']}/protection-rules"


def _level(form: MultiDict[str], name: str, *, optional: bool = False) -> int | None:
    """The form's level: a wire name, or (``optional``) empty for none."""
    value = form.get(name, "")
    if optional and value == "":
        return None
    try:
        return int(RuleLevel.from_wire(value))
    except ValueError:
        raise BadRequest(BAD_LEVEL) from None


def _rule_id(request: web.Request) -> int:
    try:
        return int(request.match_info["rule_id"])
    except ValueError:
        raise RecordNotFound() from None


async def _render_rules(
    request: web.Request,
    viewer: Viewer,
    *,
    problem: str | None = None,
    status: int = 200,
    refilled: tuple[str, MultiDict[str]] | None = None,
) -> web.Response:
    """The page; ``refilled``: the create form (``tag`` or ``repository``) to show again with
    what was typed in it."""
    catalog = ctx.catalog(request)
    ref = request.match_info["project_id"]
    # The services check Maintainer+ (404 hidden, 403 below) before reading any rule.
    tag_rules = await rules.list_tag_rules(catalog, viewer.actor, ref)
    repository_rules = await rules.list_repository_rules(catalog, viewer.actor, ref)
    access = await projects.find_project(catalog, viewer.actor, ref)
    return render(request, viewer, "protection_rules.html", {
        "project": access.project,
        "base_url": _base(request),
        "tag_rules": tag_rules,
        "repository_rules": repository_rules,
        # The service's rule: immutable rules bind administrators too, so Owners make them.
        "may_immutable": viewer.actor.is_admin or access.level >= AccessLevel.OWNER,
        "levels": LEVELS,
        "max_tag_rules": MAX_TAG_RULES_PER_PROJECT,
        "max_pattern": MAX_TAG_PATTERN_LENGTH,
        "wire": lambda level: None if level is None else RuleLevel(level).wire,
        "problem": problem,
        "tag_form": refilled[1] if refilled and refilled[0] == "tag" else MultiDict(),
        "repository_form": (
            refilled[1] if refilled and refilled[0] == "repository" else MultiDict()
        ),
    }, status=status)


async def _refused(
    request: web.Request,
    viewer: Viewer,
    exc: RegistryError,
    refilled: tuple[str, MultiDict[str]] | None = None,
) -> web.Response:
    """The page again, the service's message above the forms and the API's status."""
    return await _render_rules(
        request, viewer, problem=exc.message or exc.gitlab_text, status=exc.status,
        refilled=refilled,
    )


@page
async def show_rules(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _render_rules(request, viewer)


@page
async def create_tag_rule(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await checked_form(request, viewer)
    immutable = form.get("kind") == "immutable"
    try:
        # An immutable rule takes no level: the ones the form still sends are not its own.
        push = None if immutable else _level(form, "push_level")
        delete = None if immutable else _level(form, "delete_level")
        await rules.create_tag_rule(
            ctx.catalog(request), viewer.actor, request.match_info["project_id"],
            pattern=form.get("tag_name_pattern", ""), push_level=push, delete_level=delete,
            immutable=immutable, now=ctx.now(request),
        )
    except (BadRequest, ProtectionRuleInvalid) as exc:
        return await _refused(request, viewer, exc, ("tag", form))
    return redirect(_base(request))


@page
async def create_repository_rule(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await checked_form(request, viewer)
    try:
        await rules.create_repository_rule(
            ctx.catalog(request), viewer.actor, request.match_info["project_id"],
            pattern=form.get("repository_path_pattern", "").strip(),
            push_level=_level(form, "push_level", optional=True),
            delete_level=_level(form, "delete_level", optional=True),
            now=ctx.now(request),
        )
    except (BadRequest, ProtectionRuleInvalid) as exc:
        return await _refused(request, viewer, exc, ("repository", form))
    return redirect(_base(request))


@page
async def update_rule(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """New levels for a rule; its pattern and kind stay (delete and create to change them)."""
    form = await checked_form(request, viewer)
    catalog, ref, rule_id = ctx.catalog(request), request.match_info["project_id"], _rule_id(
        request
    )
    try:
        if request.match_info["kind"] == "tag":
            await rules.update_tag_rule(catalog, viewer.actor, ref, rule_id, rules.TagRuleChange(
                push_level=_level(form, "push_level"), delete_level=_level(form, "delete_level"),
            ))
        else:
            push = _level(form, "push_level", optional=True)
            delete = _level(form, "delete_level", optional=True)
            await rules.update_repository_rule(
                catalog, viewer.actor, ref, rule_id, rules.RepositoryRuleChange(
                    push_level=push, delete_level=delete,
                    clears_push=push is None, clears_delete=delete is None,
                ),
            )
    except (BadRequest, ProtectionRuleInvalid) as exc:
        return await _refused(request, viewer, exc)
    return redirect(_base(request))


@page
async def delete_rule(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """Two steps, as deleting tags: the first post asks, the second (``confirmed=yes``)
    deletes. The rule is read through the listing service, so a Developer is refused first."""
    form = await checked_form(request, viewer)
    catalog, ref, rule_id = ctx.catalog(request), request.match_info["project_id"], _rule_id(
        request
    )
    kind, actor = request.match_info["kind"], viewer.actor
    if form.get("confirmed") != "yes":
        patterns = (
            {r.id: r.tag_name_pattern for r in await rules.list_tag_rules(catalog, actor, ref)}
            if kind == "tag"
            else {
                r.id: r.repository_path_pattern
                for r in await rules.list_repository_rules(catalog, actor, ref)
            }
        )
        if rule_id not in patterns:
            raise RecordNotFound()
        return render(request, viewer, "confirm_rule_delete.html", {
            "kind": kind,
            "pattern": patterns[rule_id],
            "action": f"{_base(request)}/{kind}/{rule_id}/delete",
            "back": _base(request),
        })
    if kind == "tag":
        await rules.delete_tag_rule(catalog, viewer.actor, ref, rule_id)
    else:
        await rules.delete_repository_rule(catalog, viewer.actor, ref, rule_id)
    return redirect(_base(request))
