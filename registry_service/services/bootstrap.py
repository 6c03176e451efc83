"""First start: an empty catalog gets an administrator ``root`` and a token for it."""

from __future__ import annotations

from datetime import datetime

from registry_service.catalog import users as user_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.services.provisioning import ensure_token, ensure_user
from registry_service.services.tokens import VALID_SCOPES, new_token_value

ROOT_USERNAME = "root"


async def ensure_root(catalog: CatalogBackend, *, admin_token: str, now: datetime) -> str | None:
    """Create ``root`` on an empty catalog; return the token value if we generated one.

    With ``admin_token`` set, that value is (also) registered for root on every start, unless
    it is already known — so an operator can always get in with the configured token.
    """
    async with catalog.transaction() as tx:
        empty = await user_rows.count_users(tx) == 0
        if not empty and not admin_token:
            return None
        root, _ = await ensure_user(
            tx,
            username=ROOT_USERNAME,
            name="Administrator",
            email=None,
            is_admin=True,
            external=False,
            now=now,
        )
        if not root.is_admin:
            return None
        value = admin_token or new_token_value()
        if empty or admin_token:
            await ensure_token(
                tx,
                user=root,
                name="bootstrap",
                value=value,
                scopes=list(VALID_SCOPES),
                expires_at=None,
                now=now,
            )
    return None if admin_token or not empty else value
