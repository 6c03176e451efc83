"""Handlers, parameters and entities of a project's container registry protection rules:
``/projects/:id/registry/protection/tag/rules`` and ``…/repository/rules`` (list, create,
``PATCH /:protection_rule_id``, delete). GitLab's fields, plus ``immutable`` on tag rules
(GitLab offers immutable rules through GraphQL only; here they share the REST resource).

Parameters are Grape's 400s; a rule the project cannot have is the service's 422.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from marshmallow import Schema, ValidationError, fields, validates_schema

from registry_service.api.params import one_of
from registry_service.http import context as ctx
from registry_service.http import schema_types as T
from registry_service.http.fields import (
    MISSING,
    GitLabBool,
    GitLabInt,
    GitLabParams,
    GitLabStr,
    request_data,
)
from registry_service.services import protection_rules as rules
from registry_service.services.protection import RuleLevel

LEVELS = tuple(level.wire for level in RuleLevel)
NO_CONTENT = 204


def _level(value: str | None) -> int | None:
    return None if value is None else int(RuleLevel.from_wire(value))


def _wire(level: int | None) -> str | None:
    return None if level is None else RuleLevel(level).wire


def _level_field(**kwargs: Any) -> GitLabStr:
    return GitLabStr(load_default=None, allow_none=True, validate=one_of(LEVELS), **kwargs)


# --- parameters -----------------------------------------------------------------------------


class RuleIdParams(GitLabParams):
    protection_rule_id = GitLabInt(required=True)


class CreateTagRuleParams(GitLabParams):
    tag_name_pattern = GitLabStr(required=True)
    minimum_access_level_for_push = _level_field()
    minimum_access_level_for_delete = _level_field()
    # Ours: an immutable rule takes neither level.
    immutable = GitLabBool(load_default=False)

    @validates_schema(skip_on_field_errors=True)
    def levels_match_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        levels = ("minimum_access_level_for_push", "minimum_access_level_for_delete")
        if data["immutable"]:
            sent = [name for name in levels if data.get(name) is not None]
            if sent:
                raise ValidationError(f"immutable, {', '.join(sent)} are mutually exclusive")
            return
        missing = {name: [MISSING] for name in levels if data.get(name) is None}
        if missing:
            raise ValidationError(missing)


class UpdateTagRuleParams(RuleIdParams):
    tag_name_pattern = GitLabStr(load_default=None, allow_none=True)
    minimum_access_level_for_push = _level_field()
    minimum_access_level_for_delete = _level_field()
    immutable = GitLabBool(load_default=None, allow_none=True)


class CreateRepositoryRuleParams(GitLabParams):
    repository_path_pattern = GitLabStr(required=True)
    minimum_access_level_for_push = _level_field()
    minimum_access_level_for_delete = _level_field()

    @validates_schema(skip_on_field_errors=True)
    def a_level(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["minimum_access_level_for_push"] is None and (
            data["minimum_access_level_for_delete"] is None
        ):
            # Grape's at_least_one_of.
            raise ValidationError(
                "minimum_access_level_for_push, minimum_access_level_for_delete are missing, at"
                " least one parameter must be provided"
            )


class UpdateRepositoryRuleParams(RuleIdParams):
    repository_path_pattern = GitLabStr(load_default=None, allow_none=True)
    minimum_access_level_for_push = _level_field()
    minimum_access_level_for_delete = _level_field()


# --- entities -------------------------------------------------------------------------------


class TagRuleSchema(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    tag_name_pattern = fields.String()
    minimum_access_level_for_push = fields.Function(
        lambda r: _wire(r.push_level), metadata=T.STR_OR_NULL
    )
    minimum_access_level_for_delete = fields.Function(
        lambda r: _wire(r.delete_level), metadata=T.STR_OR_NULL
    )
    immutable = fields.Boolean()


class RepositoryRuleSchema(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    repository_path_pattern = fields.String()
    minimum_access_level_for_push = fields.Function(
        lambda r: _wire(r.push_level), metadata=T.STR_OR_NULL
    )
    minimum_access_level_for_delete = fields.Function(
        lambda r: _wire(r.delete_level), metadata=T.STR_OR_NULL
    )


# --- handlers -------------------------------------------------------------------------------


async def list_tag_rules(request: web.Request) -> web.Response:
    found = await rules.list_tag_rules(
        ctx.catalog(request), ctx.actor(request), request.match_info["id"]
    )
    return ctx.json(TagRuleSchema(many=True).dump(found))


async def create_tag_rule(request: web.Request) -> web.Response:
    params = await parse(request, CreateTagRuleParams)
    created = await rules.create_tag_rule(
        ctx.catalog(request),
        ctx.actor(request),
        request.match_info["id"],
        pattern=params["tag_name_pattern"],
        push_level=_level(params["minimum_access_level_for_push"]),
        delete_level=_level(params["minimum_access_level_for_delete"]),
        immutable=params["immutable"],
        now=ctx.now(request),
    )
    return ctx.json(TagRuleSchema().dump(created), status=201)


async def update_tag_rule(request: web.Request) -> web.Response:
    sent, params = await parse_with_sent(request, UpdateTagRuleParams)
    updated = await rules.update_tag_rule(
        ctx.catalog(request),
        ctx.actor(request),
        request.match_info["id"],
        params["protection_rule_id"],
        rules.TagRuleChange(
            tag_name_pattern=params["tag_name_pattern"],
            push_level=_level(params["minimum_access_level_for_push"]),
            delete_level=_level(params["minimum_access_level_for_delete"]),
            immutable=params["immutable"],
            clears_level=_cleared(sent, "minimum_access_level_for_push")
            or _cleared(sent, "minimum_access_level_for_delete"),
        ),
    )
    return ctx.json(TagRuleSchema().dump(updated))


async def delete_tag_rule(request: web.Request) -> web.Response:
    params = await parse(request, RuleIdParams)
    await rules.delete_tag_rule(
        ctx.catalog(request), ctx.actor(request), request.match_info["id"],
        params["protection_rule_id"],
    )
    return web.Response(status=NO_CONTENT)


async def list_repository_rules(request: web.Request) -> web.Response:
    found = await rules.list_repository_rules(
        ctx.catalog(request), ctx.actor(request), request.match_info["id"]
    )
    return ctx.json(RepositoryRuleSchema(many=True).dump(found))


async def create_repository_rule(request: web.Request) -> web.Response:
    params = await parse(request, CreateRepositoryRuleParams)
    created = await rules.create_repository_rule(
        ctx.catalog(request),
        ctx.actor(request),
        request.match_info["id"],
        pattern=params["repository_path_pattern"],
        push_level=_level(params["minimum_access_level_for_push"]),
        delete_level=_level(params["minimum_access_level_for_delete"]),
        now=ctx.now(request),
    )
    return ctx.json(RepositoryRuleSchema().dump(created), status=201)


async def update_repository_rule(request: web.Request) -> web.Response:
    sent, params = await parse_with_sent(request, UpdateRepositoryRuleParams)
    updated = await rules.update_repository_rule(
        ctx.catalog(request),
        ctx.actor(request),
        request.match_info["id"],
        params["protection_rule_id"],
        rules.RepositoryRuleChange(
            repository_path_pattern=params["repository_path_pattern"],
            push_level=_level(params["minimum_access_level_for_push"]),
            delete_level=_level(params["minimum_access_level_for_delete"]),
            # A level sent as null (or "") clears it; one not sent is kept.
            clears_push=_cleared(sent, "minimum_access_level_for_push"),
            clears_delete=_cleared(sent, "minimum_access_level_for_delete"),
        ),
    )
    return ctx.json(RepositoryRuleSchema().dump(updated))


async def delete_repository_rule(request: web.Request) -> web.Response:
    params = await parse(request, RuleIdParams)
    await rules.delete_repository_rule(
        ctx.catalog(request), ctx.actor(request), request.match_info["id"],
        params["protection_rule_id"],
    )
    return web.Response(status=NO_CONTENT)


def _cleared(sent: dict[str, Any], name: str) -> bool:
    return name in sent and sent[name] in (None, "")


async def parse(request: web.Request, schema: type[Schema]) -> dict[str, Any]:
    return (await parse_with_sent(request, schema))[1]


async def parse_with_sent(
    request: web.Request, schema: type[Schema]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters as sent and as loaded; an empty level (a form's "") counts as null."""
    sent = await request_data(request)
    cleaned = {k: (None if v == "" and k.startswith("minimum_") else v) for k, v in sent.items()}
    loaded: dict[str, Any] = schema().load(cleaned)
    return sent, loaded

