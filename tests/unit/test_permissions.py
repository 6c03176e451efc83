"""The registry abilities of ``project_can`` as one table (gitlab-api.md §4).

Each row of ``GRID`` is a (registry access level, project visibility) pair; each column an
actor. A cell lists the abilities that actor has: R = read_container_image,
C = create_container_image (push), D = destroy_container_image, A = admin_container_image,
``-`` = none. The rules it encodes: public + enabled → anyone reads; internal + enabled → any
signed-in non-external user reads; registry level ``private`` → Reporter+ only; ``disabled`` →
nobody, admin included; push and delete Developer+; admin_container_image Maintainer+.
"""

from __future__ import annotations

import pytest

from registry_service.services.permissions import (
    Ability,
    AccessLevel,
    Actor,
    RegistryAccess,
    Visibility,
    project_can,
)

LETTERS = {
    "R": Ability.READ_CONTAINER_IMAGE,
    "C": Ability.CREATE_CONTAINER_IMAGE,
    "D": Ability.DESTROY_CONTAINER_IMAGE,
    "A": Ability.ADMIN_CONTAINER_IMAGE,
}

# Actor name → (actor, effective membership level on the project).
ACTORS: dict[str, tuple[Actor, AccessLevel]] = {
    "anonymous": (Actor(), AccessLevel.NO_ACCESS),
    "external": (Actor(user_id=2, username="ext", external=True), AccessLevel.NO_ACCESS),
    "external_guest": (Actor(user_id=10, username="extguest", external=True), AccessLevel.GUEST),
    "external_reporter": (Actor(user_id=3, username="extrep", external=True), AccessLevel.REPORTER),
    "non_member": (Actor(user_id=4, username="nobody"), AccessLevel.NO_ACCESS),
    "guest": (Actor(user_id=5, username="guest"), AccessLevel.GUEST),
    "reporter": (Actor(user_id=6, username="reporter"), AccessLevel.REPORTER),
    "developer": (Actor(user_id=7, username="developer"), AccessLevel.DEVELOPER),
    "maintainer": (Actor(user_id=8, username="maintainer"), AccessLevel.MAINTAINER),
    "owner": (Actor(user_id=9, username="owner"), AccessLevel.OWNER),
    "admin": (Actor(user_id=1, username="root", is_admin=True), AccessLevel.NO_ACCESS),
}
COLUMNS = list(ACTORS)

# One row per (registry level, visibility); one whitespace-separated cell per actor, in
# the order of ACTORS.
# fmt: off
GRID: list[tuple[str, str, str]] = [
    # registry   visibility  anon ext extguest extrep nonmember guest rep dev  maint owner admin
    ("enabled",  "public",   "R    R   R        R      R         R     R   RCD  RCDA  RCDA  RCDA"),
    ("enabled",  "internal", "-    -   -        R      R         R     R   RCD  RCDA  RCDA  RCDA"),
    ("enabled",  "private",  "-    -   -        R      -         -     R   RCD  RCDA  RCDA  RCDA"),
    ("private",  "public",   "-    -   -        R      -         -     R   RCD  RCDA  RCDA  RCDA"),
    ("private",  "internal", "-    -   -        R      -         -     R   RCD  RCDA  RCDA  RCDA"),
    ("private",  "private",  "-    -   -        R      -         -     R   RCD  RCDA  RCDA  RCDA"),
    ("disabled", "public",   "-    -   -        -      -         -     -   -    -     -     -"),
    ("disabled", "internal", "-    -   -        -      -         -     -   -    -     -     -"),
    ("disabled", "private",  "-    -   -        -      -         -     -   -    -     -     -"),
]
# fmt: on

CASES = [
    pytest.param(registry, visibility, actor, cell, id=f"{registry}-{visibility}-{actor}")
    for registry, visibility, cells in GRID
    for actor, cell in zip(COLUMNS, cells.split(), strict=True)
]


@pytest.mark.parametrize(("registry", "visibility", "actor_name", "expected"), CASES)
def test_registry_abilities_follow_the_role_and_visibility_table(
    registry: str, visibility: str, actor_name: str, expected: str
) -> None:
    actor, level = ACTORS[actor_name]
    granted = {
        letter
        for letter, ability in LETTERS.items()
        if project_can(
            actor,
            ability,
            visibility=Visibility(visibility),
            registry=RegistryAccess(registry),
            level=level,
        )
    }
    cell = "".join(sorted(granted, key="RCDA".index)) or "-"
    assert cell == expected


def test_grid_covers_every_registry_level_and_visibility() -> None:
    pairs = {(registry, visibility) for registry, visibility, _ in GRID}
    assert pairs == {(r.value, v.value) for r in RegistryAccess for v in Visibility}
