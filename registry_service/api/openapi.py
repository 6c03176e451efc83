"""The OpenAPI 3 document of ``/api/v4``, built from the route table and the marshmallow
schemas the handlers use (apispec), served at ``/api/v4/openapi.json``.

The route table stays the only list of URLs: every route of the sub-app is documented from
``OPERATIONS``, keyed by handler, and a route without an entry is a programming error (a test
builds the document). Parameters come from the handler's ``*Params`` schema — query string for
GET and DELETE, JSON body for POST — and responses from its entity ``*Schema``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from registry_service.api import admin_params as ap
from registry_service.api import (
    deletions,
    deploy_tokens,
    groups,
    jobs,
    member_admin,
    members,
    personal_access_tokens,
    projects,
    repositories,
    tags,
    user_admin,
    users,
)
from registry_service.api import deploy_token_params as dp
from registry_service.api import params as p
from registry_service.api import protection_rules as pr
from registry_service.api import registry_params as rp
from registry_service.api.deploy_token_entities import DeployTokenSchema, NewDeployTokenSchema
from registry_service.api.entities import (
    CurrentUserSchema,
    GroupSchema,
    MemberSchema,
    NewTokenSchema,
    ProjectSchema,
    TokenSchema,
    UserSchema,
)
from registry_service.api.job_entities import CleanupPreviewSchema, JobSchema
from registry_service.api.jobs import JOB_ID_HEADER
from registry_service.api.registry_entities import (
    RepositorySchema,
    TagDetailsSchema,
    TagSchema,
)
from registry_service.http import context as ctx
from registry_service.http.fields import (
    GitLabBool,
    GitLabDate,
    GitLabInt,
    GitLabStr,
    GitLabStrList,
)
from registry_service.http.pagination import PaginationParams

Handler = Callable[[web.Request], Any]

# The request fields GitLab coerces leniently, documented as the types clients send.
FIELD_TYPES: dict[type[Any], tuple[str, str | None]] = {
    GitLabBool: ("boolean", None),
    GitLabInt: ("integer", None),
    GitLabStr: ("string", None),
    GitLabDate: ("string", "date"),
    GitLabStrList: ("array", None),
    dp.GitLabDateTime: ("string", "date-time"),
}

# Every error answer is GitLab's JSON object: {"message": ...} from helpers, {"error": ...} from
# parameter validation and token checks.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"oneOf": [{"type": "string"}, {"type": "object"}]},
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "scope": {"type": "string"},
    },
}
ERROR_TEXT = {
    400: "invalid parameters, or the operation was refused",
    401: "no valid token (where one is required)",
    403: "the token or role does not allow this",
    404: "no such resource, or not visible to the caller",
    405: "method not allowed (keyset pagination where unsupported)",
    422: "the project cannot have this rule (pattern taken, limit reached, immutable rule)",
}
# What python-gitlab, glab and curl send as credentials.
SECURITY_SCHEMES = {
    "private_token": {"type": "apiKey", "in": "header", "name": "PRIVATE-TOKEN"},
    "bearer": {"type": "http", "scheme": "bearer"},
}
# Path parameters: ``id`` is a numeric id or a URL-encoded full path (§5).
PATH_PARAMETERS = {
    "id": {"type": "string", "example": "1"},
    "user_id": {"type": "integer", "minimum": 1},
    "repository_id": {"type": "integer", "minimum": 1},
    "tag_name": {"type": "string", "example": "latest"},
    "job_id": {"type": "integer", "minimum": 1},
    "protection_rule_id": {"type": "integer", "minimum": 1},
    "token_id": {"type": "integer", "minimum": 1},
}
PAGINATION_HEADERS = ("X-Per-Page", "X-Page", "X-Next-Page", "X-Prev-Page", "X-Total",
                      "X-Total-Pages", "Link")


@dataclass(frozen=True)
class Operation:
    summary: str
    params: type[Schema] | None = None
    # An entity schema, a JSON schema, "count" for GitLab's bare-number bodies, or None for
    # no body.
    response: Schema | dict[str, Any] | str | None = None
    many: bool = False
    status: int = 200
    errors: tuple[int, ...] = (400, 401, 403, 404)
    tag: str = "registry"
    # Response headers of the success answer beyond pagination (e.g. the job id of a 202).
    headers: tuple[str, ...] = ()
    # Another success answer, as (status, entity schema, description): a dry run's 200.
    alternative: tuple[int, Schema, str] | None = None


def _host(cls: type[Schema], **kwargs: Any) -> Schema:
    # Entity schemas take what their URLs need at construction; none of it shows in a type.
    return cls(**kwargs)


_URL = {"base_url": "http://registry.invalid"}
_HOST = {"registry_host": "registry.invalid"}

_NOW = datetime.now(UTC)


def _deploy_token_operations() -> dict[Handler, Operation]:
    """The same five operations under a project and under a group, and the admin list."""
    token = DeployTokenSchema(now=_NOW)
    operations: dict[Handler, Operation] = {
        deploy_tokens.list_all_deploy_tokens: Operation(
            "Every deploy token (administrators)", dp.DeployTokenListParams, token, many=True,
            errors=(400, 401, 403), tag="deploy_tokens",
        ),
    }
    for kind, handlers in (
        ("project", (deploy_tokens.list_project_deploy_tokens,
                     deploy_tokens.create_project_deploy_token,
                     deploy_tokens.get_project_deploy_token,
                     deploy_tokens.delete_project_deploy_token)),
        ("group", (deploy_tokens.list_group_deploy_tokens,
                   deploy_tokens.create_group_deploy_token,
                   deploy_tokens.get_group_deploy_token,
                   deploy_tokens.delete_group_deploy_token)),
    ):
        list_, create, get, delete = handlers
        operations[list_] = Operation(
            f"A {kind}'s deploy tokens; Maintainer+", dp.DeployTokenListParams, token,
            many=True, tag="deploy_tokens",
        )
        operations[create] = Operation(
            f"Create a {kind} deploy token (its value is in this answer only); Maintainer+",
            dp.CreateDeployTokenParams, NewDeployTokenSchema(now=_NOW), status=201,
            tag="deploy_tokens",
        )
        operations[get] = Operation(
            f"One of a {kind}'s deploy tokens; Maintainer+", dp.DeployTokenIdParams, token,
            tag="deploy_tokens",
        )
        operations[delete] = Operation(
            f"Delete one of a {kind}'s deploy tokens; Maintainer+", dp.DeployTokenIdParams,
            None, status=204, tag="deploy_tokens",
        )
    return operations


OPERATIONS: dict[Handler, Operation] = {
    users.get_current_user: Operation(
        "The user the token belongs to", response=_host(CurrentUserSchema, **_URL),
        errors=(401, 403), tag="users",
    ),
    users.create_user: Operation(
        "Create a user (administrators)", p.CreateUserParams,
        _host(CurrentUserSchema, **_URL), status=201, tag="users",
    ),
    users.get_user: Operation(
        "One user", response=_host(UserSchema, **_URL), errors=(401, 403, 404), tag="users"
    ),
    users.create_personal_access_token: Operation(
        "Create a personal access token for a user (administrators)", p.CreateTokenParams,
        NewTokenSchema(now=datetime.now(UTC)), status=201, tag="users",
    ),
    groups.list_groups: Operation(
        "Groups the caller can see", p.GroupListParams, _host(GroupSchema, **_URL),
        many=True, tag="groups",
    ),
    groups.create_group: Operation(
        "Create a group", p.CreateGroupParams, _host(GroupSchema, **_URL), status=201,
        tag="groups",
    ),
    groups.get_group: Operation("One group", response=_host(GroupSchema, **_URL), tag="groups"),
    members.add_group_member: Operation(
        "Give a user a role in a group", p.AddMemberParams, _host(MemberSchema, **_URL),
        status=201, errors=(400, 401, 403, 404, 409), tag="groups",
    ),
    projects.list_projects: Operation(
        "Projects the caller can see", p.ProjectListParams, _host(ProjectSchema, **_URL,
                                                                  **_HOST),
        many=True, tag="projects",
    ),
    projects.create_project: Operation(
        "Create a project", p.CreateProjectParams, _host(ProjectSchema, **_URL, **_HOST),
        status=201, tag="projects",
    ),
    projects.get_project: Operation(
        "One project", response=_host(ProjectSchema, **_URL, **_HOST), tag="projects"
    ),
    projects.update_project: Operation(
        "Change a project: its description and cleanup policy"
        " (container_expiration_policy_attributes); Maintainer+",
        p.UpdateProjectParams, _host(ProjectSchema, **_URL, **_HOST), tag="projects",
    ),
    members.add_project_member: Operation(
        "Give a user a role in a project", p.AddMemberParams, _host(MemberSchema, **_URL),
        status=201, errors=(400, 401, 403, 404, 409), tag="projects",
    ),
    repositories.list_project_repositories: Operation(
        "A project's container repositories (E1)", rp.ProjectRepositoriesParams,
        _host(RepositorySchema, **_URL, **_HOST), many=True,
    ),
    repositories.list_group_repositories: Operation(
        "The container repositories of a group and its subgroups (E2)",
        rp.GroupRepositoriesParams, _host(RepositorySchema, **_URL, **_HOST), many=True,
    ),
    repositories.get_repository: Operation(
        "One container repository (E3)", rp.RepositoryParams,
        _host(RepositorySchema, **_URL, **_HOST),
    ),
    repositories.delete_repository: Operation(
        "Schedule the deletion of a repository and all its tags (E4)", rp.RepositoryIdParams,
        "count", status=202, headers=(JOB_ID_HEADER,),
    ),
    tags.list_tags: Operation(
        "A repository's tags, by name (E5); offset or keyset pagination", rp.TagListParams,
        _host(TagSchema, **_HOST, repository_path="group/project"), many=True,
        errors=(400, 401, 403, 404, 405),
    ),
    tags.bulk_delete_tags: Operation(
        "Delete tags in bulk, in the background (E6); with dry_run, preview the deletion",
        rp.BulkDeleteTagsParams, "count", status=202, headers=(JOB_ID_HEADER,),
        alternative=(200, CleanupPreviewSchema(), "dry_run=true: what would be deleted"),
    ),
    jobs.get_job: Operation(
        "One job (bulk delete, repository deletion, garbage collection)", rp.JobIdParams,
        JobSchema(), errors=(400, 401, 404), tag="jobs",
    ),
    jobs.list_project_jobs: Operation(
        "A project's registry jobs, newest first", rp.ProjectJobsParams, JobSchema(),
        many=True, tag="jobs",
    ),
    tags.get_tag: Operation(
        "One tag's details (E7)", rp.RepositoryIdParams,
        _host(TagDetailsSchema, **_HOST, repository_path="group/project"),
    ),
    tags.delete_tag: Operation(
        "Delete one tag (E8)", rp.RepositoryIdParams, "count",
    ),
    pr.list_tag_rules: Operation(
        "A project's tag protection rules, protected and immutable; Maintainer+",
        response=pr.TagRuleSchema(), many=True, errors=(401, 403, 404),
    ),
    pr.create_tag_rule: Operation(
        "Protect tags: both access levels, or immutable (ours: GitLab offers it in GraphQL)",
        pr.CreateTagRuleParams, pr.TagRuleSchema(), status=201,
        errors=(400, 401, 403, 404, 422),
    ),
    pr.update_tag_rule: Operation(
        "Change a tag protection rule (immutable rules are never changed)",
        pr.UpdateTagRuleParams, pr.TagRuleSchema(), errors=(400, 401, 403, 404, 422),
    ),
    pr.delete_tag_rule: Operation(
        "Delete a tag protection rule", pr.RuleIdParams, None, status=204,
    ),
    pr.list_repository_rules: Operation(
        "A project's repository protection rules; Maintainer+",
        response=pr.RepositoryRuleSchema(), many=True, errors=(401, 403, 404),
    ),
    pr.create_repository_rule: Operation(
        "Protect repositories whose path matches a pattern (* is a wildcard)",
        pr.CreateRepositoryRuleParams, pr.RepositoryRuleSchema(), status=201,
        errors=(400, 401, 403, 404, 422),
    ),
    pr.update_repository_rule: Operation(
        "Change a repository protection rule; a level sent as null is cleared",
        pr.UpdateRepositoryRuleParams, pr.RepositoryRuleSchema(),
        errors=(400, 401, 403, 404, 422),
    ),
    pr.delete_repository_rule: Operation(
        "Delete a repository protection rule", pr.RuleIdParams, None, status=204,
    ),
    **_deploy_token_operations(),
}


# The management calls of issue 14: users, members, personal access tokens, deletions.
_MEMBER = _host(MemberSchema, **_URL)
_ACCEPTED: dict[str, Any] = {
    "type": "object", "properties": {"message": {"type": "string", "enum": ["202 Accepted"]}},
}
OPERATIONS.update({
    user_admin.list_users: Operation(
        "Users: all for administrators (with state filters), active ones for others",
        ap.UserListParams, _host(CurrentUserSchema, **_URL), many=True, errors=(400, 401),
        tag="users",
    ),
    user_admin.block_user: Operation(
        "Block a user (administrators): true, or null if already blocked",
        response={"type": "boolean", "nullable": True}, status=201, errors=(401, 403, 404),
        tag="users",
    ),
    user_admin.unblock_user: Operation(
        "Unblock a user (administrators): true, or false if not blocked",
        response={"type": "boolean"}, status=201, errors=(401, 403, 404), tag="users",
    ),
    user_admin.delete_user: Operation(
        "Delete a user, their personal projects and (hard_delete) the groups only they own",
        ap.DeleteUserParams, status=204, errors=(400, 401, 403, 404, 409), tag="users",
    ),
    deletions.delete_project: Operation(
        "Delete a project and its container repositories, in the background (Owner)",
        response=_ACCEPTED, status=202, errors=(401, 403, 404), tag="projects",
    ),
    deletions.delete_group: Operation(
        "Delete a group, its subgroups and all their projects, in the background (Owner)",
        response=_ACCEPTED, status=202, errors=(401, 403, 404), tag="groups",
    ),
    personal_access_tokens.list_tokens: Operation(
        "Personal access tokens: the caller's; everyone's (or user_id's) for administrators",
        ap.TokenListParams, TokenSchema(now=datetime.now(UTC)), many=True,
        errors=(400, 401, 404), tag="personal_access_tokens",
    ),
    personal_access_tokens.get_token: Operation(
        "One personal access token (by id, or the one in use: self)",
        response=TokenSchema(now=datetime.now(UTC)), errors=(401, 404),
        tag="personal_access_tokens",
    ),
    personal_access_tokens.revoke_token: Operation(
        "Revoke a personal access token (by id, or self)", status=204,
        errors=(400, 401, 404), tag="personal_access_tokens",
    ),
    personal_access_tokens.rotate_token: Operation(
        "Rotate a personal access token: a new value, shown once; the old one is revoked",
        ap.RotateTokenParams, NewTokenSchema(now=datetime.now(UTC)),
        errors=(400, 401, 404), tag="personal_access_tokens",
    ),
})


def _member_operations(kind: str, *handlers: Handler) -> dict[Handler, Operation]:
    """The six member operations of projects or groups, handlers in route-table order."""
    tag = kind + "s"
    listing, inherited, inherited_one, one, edit, remove = handlers
    return {
        listing: Operation(f"A {kind}'s direct members", ap.MemberListParams, _MEMBER,
                           many=True, errors=(400, 401, 404), tag=tag),
        inherited: Operation(f"A {kind}'s members, inherited ones included (highest level"
                             " wins)", ap.MemberListParams, _MEMBER, many=True,
                             errors=(400, 401, 404), tag=tag),
        inherited_one: Operation(f"One member of a {kind}, inherited membership included",
                           response=_MEMBER, errors=(401, 404), tag=tag),
        one: Operation(f"One direct member of a {kind}", response=_MEMBER, errors=(401, 404),
                       tag=tag),
        edit: Operation(f"Change a {kind} member's access level or expiry",
                        ap.EditMemberParams, _MEMBER, tag=tag),
        remove: Operation(f"Remove a member from a {kind}", status=204, tag=tag),
    }


OPERATIONS.update(_member_operations(
    "project", member_admin.list_project_members, member_admin.list_all_project_members,
    member_admin.get_inherited_project_member, member_admin.get_project_member,
    member_admin.edit_project_member, member_admin.remove_project_member,
))
OPERATIONS.update(_member_operations(
    "group", member_admin.list_group_members, member_admin.list_all_group_members,
    member_admin.get_inherited_group_member, member_admin.get_group_member,
    member_admin.edit_group_member, member_admin.remove_group_member,
))



def build_openapi(api: web.Application, server_url: str) -> dict[str, Any]:
    """The document for the ``/api/v4`` sub-app ``api``, served from ``server_url``."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="registry-service: GitLab-compatible API",
        version=version("registry-service"),
        openapi_version="3.0.3",
        plugins=[plugin],
        servers=[{"url": server_url}],
        security=[{"private_token": []}, {"bearer": []}, {}],
    )
    for field_class, openapi_type in FIELD_TYPES.items():
        plugin.map_to_openapi_type(field_class, *openapi_type)  # type: ignore[no-untyped-call]
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    spec.components.schema("Error", ERROR_SCHEMA)

    paths: dict[str, dict[str, Any]] = {}
    for route in api.router.routes():
        if route.method == "HEAD" or route.handler is serve_openapi:
            continue
        operation = OPERATIONS.get(route.handler)
        if operation is None:
            raise LookupError(f"route {route.method} {route.resource} has no OpenAPI entry")
        # Mounted as a sub-app, routes carry the mount prefix that server_url already has.
        path = _path_template(route).removeprefix(urlsplit(server_url).path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(
            plugin, route.method, path, operation
        )
    for path, methods in paths.items():
        spec.path(path=path, operations=methods)
    return spec.to_dict()


def _path_template(route: web.AbstractRoute) -> str:
    info = route.resource.get_info() if route.resource else {}
    template = info.get("formatter") or info.get("path") or ""
    return str(template)


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _operation(
    plugin: MarshmallowPlugin, method: str, path: str, op: Operation
) -> dict[str, Any]:
    in_path = _path_names(path)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
        for name in in_path
    ]
    doc: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{method.lower()}{path}".replace("/", "_").replace("{", "").replace(
            "}", ""
        ),
    }
    if op.params is not None:
        fields = [name for name in op.params().fields if name not in in_path]
        exclude = tuple(name for name in op.params().fields if name in in_path)
        if method in {"GET", "DELETE"} and fields:
            schema = op.params(exclude=exclude)
            assert plugin.converter is not None  # set once the plugin is in an APISpec
            parameters.extend(plugin.converter.schema2parameters(schema, location="query"))
        elif fields:
            doc["requestBody"] = {
                "content": {"application/json": {"schema": op.params(exclude=exclude)}}
            }
    doc["parameters"] = parameters
    doc["responses"] = {str(op.status): _success(op)}
    if op.alternative is not None:
        status, schema, description = op.alternative
        doc["responses"][str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    for status in op.errors:
        doc["responses"][str(status)] = {
            "description": ERROR_TEXT.get(status, "refused"),
            "content": {"application/json": {"schema": "Error"}},
        }
    return doc


def _success(op: Operation) -> dict[str, Any]:
    if op.response == "count":
        # GitLab answers a delete with the status code itself as the JSON body.
        schema: Any = {"type": "integer", "enum": [op.status]}
    elif isinstance(op.response, dict):
        schema = op.response
    elif op.response is None:
        return {"description": "no body"}
    else:
        schema = op.response
        if op.many:
            schema = {"type": "array", "items": op.response}
    answer: dict[str, Any] = {
        "description": "success",
        "content": {"application/json": {"schema": schema}},
    }
    headers = op.headers
    if op.many and op.params is not None and issubclass(op.params, PaginationParams):
        headers = (*PAGINATION_HEADERS, *headers)
    if headers:
        answer["headers"] = {name: {"schema": {"type": "string"}} for name in headers}
    return answer


async def serve_openapi(request: web.Request) -> web.Response:
    # Built per request (a few milliseconds): only tooling asks for it.
    return ctx.json(build_openapi(request.app, ctx.base_url(request) + "/api/v4"))
