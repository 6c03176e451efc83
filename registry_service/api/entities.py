"""Response entities of the identity endpoints (users, groups, projects, members), as
marshmallow ``*Schema`` classes in GitLab's field order.

Entities that need URLs take the external base URL through the schema context argument
``base_url`` (passed at construction), never from global state.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marshmallow import Schema, fields

from registry_service.catalog.rows import Member, Namespace, User
from registry_service.http import schema_types as T
from registry_service.services.projects import ProjectView


def gitlab_time(when: datetime | None) -> str | None:
    """GitLab's API time format: UTC, milliseconds, ``Z``."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def gitlab_date(day: date | None) -> str | None:
    return day.isoformat() if day else None


class UrlSchema(Schema):
    def __init__(self, *, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url


class UserSchema(UrlSchema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    state = fields.String()
    locked = fields.Constant(False, metadata=T.BOOL)
    avatar_url = fields.Constant(None, metadata=T.NULL)
    web_url = fields.Method("get_web_url", metadata=T.STR)

    def get_web_url(self, user: User) -> str:
        return f"{self.base_url}/{user.username}"


class CurrentUserSchema(UserSchema):
    created_at = fields.Function(lambda u: gitlab_time(u.created_at), metadata=T.TIME)
    bio = fields.Constant("", metadata=T.STR)
    email = fields.String(allow_none=True)
    is_admin = fields.Boolean()
    external = fields.Boolean()


class TokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    revoked = fields.Boolean()
    created_at = fields.Function(lambda t: gitlab_time(t.created_at), metadata=T.TIME)
    scopes = fields.Function(lambda t: list(t.scopes), metadata=T.STR_LIST)
    user_id = fields.Integer()
    last_used_at = fields.Function(
        lambda t: gitlab_time(t.last_used_at), metadata=T.TIME_OR_NULL
    )
    active = fields.Method("get_active", metadata=T.BOOL)
    expires_at = fields.Function(lambda t: gitlab_date(t.expires_at), metadata=T.DATE_OR_NULL)

    def __init__(self, *, now: datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.now = now

    def get_active(self, token: Any) -> bool:
        expires_at = token.expires_at
        return not token.revoked and (expires_at is None or expires_at > self.now.date())


class NewTokenSchema(TokenSchema):
    token = fields.String()


class GroupSchema(UrlSchema):
    id = fields.Integer()
    web_url = fields.Method("get_web_url", metadata=T.STR)
    name = fields.String()
    path = fields.String()
    description = fields.String()
    visibility = fields.String()
    avatar_url = fields.Constant(None, metadata=T.NULL)
    full_name = fields.String()
    full_path = fields.String()
    created_at = fields.Function(lambda g: gitlab_time(g.created_at), metadata=T.TIME)
    parent_id = fields.Integer(allow_none=True)

    def get_web_url(self, group: Namespace) -> str:
        return f"{self.base_url}/groups/{group.full_path}"


class NamespaceSchema(UrlSchema):
    id = fields.Integer()
    name = fields.String()
    path = fields.String()
    kind = fields.String()
    full_path = fields.String()
    parent_id = fields.Integer(allow_none=True)
    avatar_url = fields.Constant(None, metadata=T.NULL)
    web_url = fields.Method("get_web_url", metadata=T.STR)

    def get_web_url(self, ns: Namespace) -> str:
        prefix = "/groups/" if ns.kind == "group" else "/"
        return f"{self.base_url}{prefix}{ns.full_path}"


class ContainerExpirationPolicySchema(Schema):
    """GitLab's ``API::Entities::ContainerExpirationPolicy``, in its field order."""

    cadence = fields.String()
    enabled = fields.Boolean()
    keep_n = fields.Integer(allow_none=True)
    older_than = fields.String(allow_none=True)
    name_regex = fields.String(allow_none=True)
    name_regex_keep = fields.String(allow_none=True)
    next_run_at = fields.Function(lambda p: gitlab_time(p.next_run_at), metadata=T.TIME_OR_NULL)


class ProjectSchema(UrlSchema):
    """GitLab's project entity (the subset container-registry clients read)."""

    id = fields.Function(lambda v: v.project.id, metadata=T.INT)
    description = fields.Function(lambda v: v.project.description, metadata=T.STR)
    name = fields.Function(lambda v: v.project.name, metadata=T.STR)
    name_with_namespace = fields.Method("get_name_with_namespace", metadata=T.STR)
    path = fields.Function(lambda v: v.project.path, metadata=T.STR)
    path_with_namespace = fields.Function(lambda v: v.project.full_path, metadata=T.STR)
    created_at = fields.Function(
        lambda v: gitlab_time(v.project.created_at), metadata=T.TIME
    )
    default_branch = fields.Constant(None, metadata=T.NULL)
    tag_list: fields.Constant[list[str]] = fields.Constant([], metadata=T.STR_LIST)
    topics: fields.Constant[list[str]] = fields.Constant([], metadata=T.STR_LIST)
    web_url = fields.Method("get_web_url", metadata=T.STR)
    avatar_url = fields.Constant(None, metadata=T.NULL)
    namespace = fields.Method("get_namespace", metadata=T.OBJECT)
    visibility = fields.Function(lambda v: v.project.visibility, metadata=T.STR)
    container_registry_enabled = fields.Function(
        lambda v: v.project.container_registry_access_level != "disabled", metadata=T.BOOL
    )
    # Where GitLab's project entity has it: right after container_registry_enabled.
    container_expiration_policy = fields.Nested(ContainerExpirationPolicySchema, attribute="policy")
    container_registry_access_level = fields.Function(
        lambda v: v.project.container_registry_access_level, metadata=T.STR
    )
    container_registry_image_prefix = fields.Method("get_image_prefix", metadata=T.STR)
    creator_id = fields.Function(lambda v: v.project.creator_id, metadata=T.INT_OR_NULL)

    def __init__(self, *, base_url: str, registry_host: str, **kwargs: Any) -> None:
        super().__init__(base_url=base_url, **kwargs)
        self.registry_host = registry_host

    def get_name_with_namespace(self, view: ProjectView) -> str:
        return f"{view.namespace.full_name} / {view.project.name}"

    def get_web_url(self, view: ProjectView) -> str:
        return f"{self.base_url}/{view.project.full_path}"

    def get_namespace(self, view: ProjectView) -> dict[str, Any]:
        data: dict[str, Any] = NamespaceSchema(base_url=self.base_url).dump(view.namespace)
        return data

    def get_image_prefix(self, view: ProjectView) -> str:
        return f"{self.registry_host}/{view.project.full_path.lower()}"


class MemberSchema(UrlSchema):
    id = fields.Function(lambda m: m.user.id, metadata=T.INT)
    username = fields.Function(lambda m: m.user.username, metadata=T.STR)
    name = fields.Function(lambda m: m.user.name, metadata=T.STR)
    state = fields.Function(lambda m: m.user.state, metadata=T.STR)
    avatar_url = fields.Constant(None, metadata=T.NULL)
    web_url = fields.Method("get_web_url", metadata=T.STR)
    access_level = fields.Integer()
    created_at = fields.Function(lambda m: gitlab_time(m.created_at), metadata=T.TIME)
    expires_at = fields.Function(lambda m: gitlab_date(m.expires_at), metadata=T.DATE_OR_NULL)

    def get_web_url(self, member: Member) -> str:
        return f"{self.base_url}/{member.user.username}"
