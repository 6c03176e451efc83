"""``deploy_token_can`` as one table: what a deploy token may do on a project it reaches and
on one it does not, by scopes, visibility and registry access level.

Letters as in ``test_permissions.py``: V = read_project (sees it), R = read_container_image,
C = create_container_image (push), D = destroy_container_image, A = admin_container_image,
M = admin_deploy_token (manage tokens); ``-`` = none.
"""

from __future__ import annotations

import pytest

from registry_service.services.permissions import (
    Ability,
    Actor,
    DeployTokenGrant,
    RegistryAccess,
    Visibility,
    deploy_token_can,
)

LETTERS = {
    "V": Ability.READ_PROJECT,
    "R": Ability.READ_CONTAINER_IMAGE,
    "C": Ability.CREATE_CONTAINER_IMAGE,
    "D": Ability.DESTROY_CONTAINER_IMAGE,
    "A": Ability.ADMIN_CONTAINER_IMAGE,
    "M": Ability.ADMIN_DEPLOY_TOKEN,
}
MINE, OTHER = 7, 8
READ, WRITE, BOTH = "read_registry", "write_registry", "read_registry write_registry"

# fmt: off
TABLE = [
    # reached, scopes,            visibility, registry,   abilities
    (True,  READ,                 "private",  "enabled",  "VR"),
    (True,  WRITE,                "private",  "enabled",  "VC"),
    (True,  BOTH,                 "private",  "private",  "VRC"),
    (True,  BOTH,                 "public",   "disabled", "V"),
    (True,  "read_repository",    "private",  "enabled",  "V"),
    (False, BOTH,                 "private",  "enabled",  "-"),
    (False, BOTH,                 "internal", "enabled",  "-"),
    (False, BOTH,                 "public",   "enabled",  "VR"),
    (False, WRITE,                "public",   "enabled",  "V"),
    (False, BOTH,                 "public",   "private",  "V"),
]
# fmt: on


@pytest.mark.parametrize(("reached", "scopes", "visibility", "registry", "expected"), TABLE)
def test_a_deploy_token_can_exactly_what_its_scopes_grant_where_it_reaches(
    reached: bool, scopes: str, visibility: str, registry: str, expected: str
) -> None:
    actor = Actor(
        username="gitlab+deploy-token-1",
        scopes=frozenset(scopes.split()),
        deploy_token=DeployTokenGrant(token_id=1, project_ids=frozenset({MINE})),
    )
    granted = "".join(
        letter
        for letter, ability in LETTERS.items()
        if deploy_token_can(
            actor, ability, project_id=MINE if reached else OTHER,
            visibility=Visibility(visibility), registry=RegistryAccess(registry),
        )
    )
    assert (granted or "-") == expected
    assert not actor.is_anonymous
