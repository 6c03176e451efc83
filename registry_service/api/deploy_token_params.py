"""Request parameters of the deploy token endpoints (GitLab's "Deploy tokens API")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import fields

from registry_service.api.params import one_of
from registry_service.http.fields import (
    INVALID,
    GitLabBool,
    GitLabInt,
    GitLabParams,
    GitLabStr,
    GitLabStrList,
)
from registry_service.http.pagination import PaginationParams
from registry_service.services.deploy_tokens import AVAILABLE_SCOPES


class GitLabDateTime(fields.Field[dt.datetime | None]):
    """Grape's DateTime: ISO 8601, a bare date meaning its midnight UTC, a time without an
    offset meaning UTC. ``""`` is nil (python-gitlab's documentation sends it for "never")."""

    default_error_messages = {"invalid": INVALID}

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dt.datetime | None:
        if value == "":
            return None
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                pass
            else:
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt.UTC)
                return parsed.astimezone(dt.UTC)
        raise self.make_error("invalid")


class DeployTokenListParams(PaginationParams):
    active = GitLabBool(load_default=False)


class CreateDeployTokenParams(GitLabParams):
    name = GitLabStr(required=True)
    scopes = GitLabStrList(
        required=True, validate=lambda scopes: all(one_of(AVAILABLE_SCOPES)(s) for s in scopes)
    )
    expires_at = GitLabDateTime(load_default=None, allow_none=True)
    username = GitLabStr(load_default=None, allow_none=True)


class DeployTokenIdParams(GitLabParams):
    """``:token_id`` is an Integer in GitLab's route: anything else is 400."""

    token_id = GitLabInt(required=True)
