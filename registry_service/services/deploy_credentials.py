"""A deploy token presented as a registry credential, turned into an ``Actor``.

Only ``tokens.authenticate_basic`` calls this (the one place a username and secret become an
actor, for ``/v2`` Basic and the token flow alike); ``/api/v4`` never does, so a deploy token
there is an unknown token (401). It takes the value's digest rather than the value, so this
module needs nothing from ``tokens``; the row comes from ``tokens``' one lookup of both kinds.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from registry_service.catalog import deploy_tokens as deploy_token_rows
from registry_service.catalog.deploy_tokens import DeployToken
from registry_service.catalog.protocols import CatalogBackend
from registry_service.errors import Unauthorized
from registry_service.services.permissions import Actor, DeployTokenGrant

# What every minted deploy token starts with (GitLab's), so that logs can recognise one.
DEPLOY_TOKEN_PREFIX = "gldt-"


def is_expired(token: DeployToken, now: datetime) -> bool:
    # Expired from the instant named on (GitLab's API takes and shows a time, not a date).
    return token.expires_at is not None and token.expires_at <= now


async def deploy_token_actor(
    catalog: CatalogBackend,
    token: DeployToken | None,
    username: str,
    digest: str,
    now: datetime,
) -> Actor | None:
    """The actor of the deploy token looked up by ``digest``; None if there is none (the
    secret may be a personal token), 401 if the username is not the token's or the token is
    revoked or expired."""
    if token is None or not hmac.compare_digest(token.token_digest, digest):
        return None
    if token.username != username or token.revoked or is_expired(token, now):
        raise Unauthorized()
    reach = await deploy_token_rows.select_reached_project_ids(catalog.reader, token)
    return Actor(
        username=token.username,
        scopes=frozenset(token.scopes),
        deploy_token=DeployTokenGrant(token_id=token.id, project_ids=reach),
    )
