"""The deploy token entity in GitLab's field order; ``token`` only in the answer to a create."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields

from registry_service.api.entities import gitlab_time
from registry_service.http import schema_types as T
from registry_service.services.deploy_credentials import is_expired
from registry_service.services.deploy_tokens import DeployToken


class DeployTokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    username = fields.String()
    expires_at = fields.Function(lambda t: gitlab_time(t.expires_at), metadata=T.TIME_OR_NULL)
    revoked = fields.Boolean()
    expired = fields.Method("get_expired", metadata=T.BOOL)
    scopes = fields.Function(lambda t: list(t.scopes), metadata=T.STR_LIST)

    def __init__(self, *, now: datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.now = now

    def get_expired(self, token: DeployToken) -> bool:
        return is_expired(token, self.now)


class NewDeployTokenSchema(DeployTokenSchema):
    token = fields.String()
