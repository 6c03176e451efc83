"""Request parameters of the identity endpoints, as marshmallow ``*Params`` schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

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


POLICY_ATTRIBUTES = "container_expiration_policy_attributes"
# The names PUT /projects/:id reads here; GitLab's ``at_least_one_of`` lists all of its own.
AT_LEAST_ONE_UPDATE = (
    f"{POLICY_ATTRIBUTES}, container_registry_access_level, description are missing,"
    " at least one parameter must be provided"
)
# Sent alongside the parameters but not parameters of the endpoint.
NOT_UPDATE_KEYS = frozenset({"id", "private_token", "access_token", "job_token"})


class ContainerExpirationPolicyParams(Schema):
    """The Hash ``container_expiration_policy_attributes``: only Grape's type coercion here
    (absent attributes stay absent; ``""`` is nil for the Integer and Boolean ones); the
    allowed values are the model's validation (``services/policies.py``)."""

    class Meta:
        unknown = EXCLUDE

    cadence = GitLabStr(allow_none=True)
    keep_n = GitLabInt(allow_none=True)
    older_than = GitLabStr(allow_none=True)
    name_regex = GitLabStr(allow_none=True)
    name_regex_keep = GitLabStr(allow_none=True)
    enabled = GitLabBool(allow_none=True)

    @pre_load
    def blank_is_nil(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            k: None if k in ("keep_n", "enabled") and v == "" else v for k, v in data.items()
        }


class UpdateProjectParams(GitLabParams):
    description = GitLabStr()
    container_registry_access_level = GitLabStr(validate=one_of(REGISTRY_LEVELS))
    container_expiration_policy_attributes = fields.Nested(ContainerExpirationPolicyParams)

    @pre_load
    def nest_brackets(self, data: Any, **kwargs: Any) -> Any:
        """Query and form encode the Hash as ``container_expiration_policy_attributes[cadence]``
        (Rack's nesting); JSON sends an object. Both become one mapping."""
        if not isinstance(data, dict):
            return data
        prefix = POLICY_ATTRIBUTES + "["
        flat = {k[len(prefix) : -1]: v for k, v in data.items() if k.startswith(prefix)
                and k.endswith("]")}
        if not flat:
            return data
        rest = {k: v for k, v in data.items() if not k.startswith(prefix)}
        nested = rest.get(POLICY_ATTRIBUTES)
        rest[POLICY_ATTRIBUTES] = {**flat, **nested} if isinstance(nested, dict) else flat
        return rest

    @validates_schema(pass_original=True)
    def at_least_one(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        sent = set(original) if isinstance(original, dict) else set()
        if not sent - NOT_UPDATE_KEYS:
            raise ValidationError(AT_LEAST_ONE_UPDATE)
