"""Request parameters of the identity endpoints, as marshmallow ``*Params`` schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validate, validates_schema

from registry_service.http.fields import (
    GitLabBool,
    GitLabDate,
    GitLabInt,
    GitLabParams,
    GitLabStr,
    GitLabStrList,
)
from registry_service.http.pagination import PaginationParams

NOT_VALID_VALUE = "does not have a valid value"
VISIBILITIES = ("private", "internal", "public")
REGISTRY_LEVELS = ("enabled", "private", "disabled")


def one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error=NOT_VALID_VALUE)


class CreateUserParams(GitLabParams):
    username = GitLabStr(required=True)
    name = GitLabStr(required=True)
    email = GitLabStr(load_default=None, allow_none=True)
    admin = GitLabBool(load_default=False)
    external = GitLabBool(load_default=False)


class CreateTokenParams(GitLabParams):
    name = GitLabStr(required=True)
    scopes = GitLabStrList(required=True)
    expires_at = GitLabDate(load_default=None, allow_none=True)

    @validates_schema
    def known_scopes(self, data: dict[str, Any], **kwargs: Any) -> None:
        allowed = {"api", "read_api", "read_registry", "write_registry"}
        if "scopes" in data and (not data["scopes"] or set(data["scopes"]) - allowed):
            raise ValidationError(NOT_VALID_VALUE, "scopes")


class GroupListParams(PaginationParams):
    all_available = GitLabBool(load_default=None, allow_none=True)
    search = GitLabStr(load_default=None, allow_none=True)
    top_level_only = GitLabBool(load_default=False)
    order_by = GitLabStr(load_default="name", validate=one_of(("name", "path", "id")))
    sort = GitLabStr(load_default="asc", validate=one_of(("asc", "desc")))


class CreateGroupParams(GitLabParams):
    name = GitLabStr(required=True)
    path = GitLabStr(required=True)
    parent_id = GitLabInt(load_default=None, allow_none=True)
    visibility = GitLabStr(load_default="private", validate=one_of(VISIBILITIES))
    description = GitLabStr(load_default="")


class ProjectListParams(PaginationParams):
    membership = GitLabBool(load_default=False)
    owned = GitLabBool(load_default=False)
    visibility = GitLabStr(load_default=None, allow_none=True, validate=one_of(VISIBILITIES))
    search = GitLabStr(load_default=None, allow_none=True)
    order_by = GitLabStr(
        load_default="created_at",
        validate=one_of(("id", "name", "path", "created_at", "updated_at", "last_activity_at")),
    )
    sort = GitLabStr(load_default="desc", validate=one_of(("asc", "desc")))
    simple = GitLabBool(load_default=False)


class CreateProjectParams(GitLabParams):
    name = GitLabStr(load_default=None, allow_none=True)
    path = GitLabStr(load_default=None, allow_none=True)
    namespace_id = GitLabInt(load_default=None, allow_none=True)
    visibility = GitLabStr(load_default="private", validate=one_of(VISIBILITIES))
    container_registry_access_level = GitLabStr(
        load_default=None, allow_none=True, validate=one_of(REGISTRY_LEVELS)
    )
    container_registry_enabled = GitLabBool(load_default=None, allow_none=True)
    description = GitLabStr(load_default="")

    @validates_schema
    def name_or_path(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("name") and not data.get("path"):
            raise ValidationError("name, path are missing, at least one parameter must be provided")


class AddMemberParams(GitLabParams):
    user_id = GitLabInt(required=True)
    access_level = GitLabInt(required=True, validate=validate.OneOf((10, 20, 30, 40, 50),
                                                                    error=NOT_VALID_VALUE))
    expires_at = GitLabDate(load_default=None, allow_none=True)
