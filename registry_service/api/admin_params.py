"""Request parameters of the management endpoints (users, members, personal access tokens,
deletions), as marshmallow ``*Params`` schemas."""

from __future__ import annotations

from marshmallow import validate

from registry_service.api.params import NOT_VALID_VALUE, one_of
from registry_service.http.fields import GitLabBool, GitLabDate, GitLabInt, GitLabParams, GitLabStr
from registry_service.http.pagination import PaginationParams


class UserListParams(PaginationParams):
    username = GitLabStr(load_default=None, allow_none=True)
    search = GitLabStr(load_default=None, allow_none=True)
    active = GitLabBool(load_default=False)
    blocked = GitLabBool(load_default=False)
    order_by = GitLabStr(
        load_default="id",
        validate=one_of(("id", "name", "username", "created_at", "updated_at")),
    )
    sort = GitLabStr(load_default="desc", validate=one_of(("asc", "desc")))


class DeleteUserParams(GitLabParams):
    hard_delete = GitLabBool(load_default=False)


class MemberListParams(PaginationParams):
    query = GitLabStr(load_default=None, allow_none=True)


class EditMemberParams(GitLabParams):
    access_level = GitLabInt(
        required=True, validate=validate.OneOf((10, 20, 30, 40, 50), error=NOT_VALID_VALUE)
    )
    expires_at = GitLabDate(load_default=None, allow_none=True)


class TokenListParams(PaginationParams):
    user_id = GitLabInt(load_default=None, allow_none=True)


class RotateTokenParams(GitLabParams):
    expires_at = GitLabDate(load_default=None, allow_none=True)
