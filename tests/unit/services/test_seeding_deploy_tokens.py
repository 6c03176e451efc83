"""Deploy tokens in a seed file (services/seeding.py): fixed values on projects and groups,
usable as registry credentials, loaded once, and refused with the entry named when wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.errors import Unauthorized
from registry_service.services import tokens
from registry_service.services.deploy_tokens import all_deploy_tokens
from registry_service.services.seeding import SeedInvalid, apply_seed

PULL = "gldt-seed-web-pull-token-0001"
PUSH = "gldt-seed-acme-push-token-001"


def document(**extra: Any) -> dict[str, Any]:
    return {
        "groups": [{"path": "acme", "deploy_tokens": [
            {"name": "ci", "username": "ci-pusher", "value": PUSH,
             "scopes": ["read_registry", "write_registry"],
             "expires_at": datetime(2030, 1, 31, 12, 0)},
        ]}],
        "projects": [{"path": "acme/web", "deploy_tokens": [
            {"name": "k8s", "value": PULL, **extra},
        ]}],
    }


async def test_seeded_deploy_tokens_log_in_and_load_once(
    catalog: Catalog, clock: SettableClock
) -> None:
    report = await apply_seed(catalog, document(), clock.now())
    assert report.created["tokens"] == 2
    seeded = await all_deploy_tokens(catalog)
    assert [(t.name, t.username, t.scopes, t.expires_at) for t in seeded] == [
        ("ci", "ci-pusher", ("read_registry", "write_registry"),
         datetime(2030, 1, 31, 12, 0, tzinfo=UTC)),
        ("k8s", f"gitlab+deploy-token-{seeded[1].id}", ("read_registry",), None),
    ]
    pusher = await tokens.authenticate_basic(catalog, "ci-pusher", PUSH, clock.now())
    assert pusher.deploy_token is not None and pusher.scopes == {"read_registry",
                                                                  "write_registry"}
    puller = await tokens.authenticate_basic(catalog, seeded[1].username, PULL, clock.now())
    assert puller.deploy_token is not None and puller.deploy_token.token_id == seeded[1].id
    with pytest.raises(Unauthorized):
        await tokens.authenticate_basic(catalog, "ci-pusher", PULL, clock.now())

    again = await apply_seed(catalog, document(), clock.now())
    assert not again.changed
    assert await all_deploy_tokens(catalog) == seeded


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"scopes": ["api"]}, "projects.acme/web.deploy_tokens: Scopes api are not deploy"),
        ({"value": "short"}, "projects.acme/web.deploy_tokens: deploy token 'k8s': at least 20"),
        ({"value": PUSH}, "projects.acme/web.deploy_tokens: deploy token 'k8s': that value is"),
        ({"expires_at": "soon"}, "expires_at must be a TOML date or date-time"),
        ({"username": "no spaces"}, "Username can contain only"),
    ],
)
async def test_a_bad_seeded_deploy_token_names_its_entry_and_changes_nothing(
    catalog: Catalog, clock: SettableClock, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(SeedInvalid, match=message):
        await apply_seed(catalog, document(**extra), clock.now())
    assert await all_deploy_tokens(catalog) == []
