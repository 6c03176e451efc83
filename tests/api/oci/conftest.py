"""Who talks to /v2 in the OCI workflow tests.

Every workflow runs twice (``access``): (a) a public project pulled anonymously, and (b) a
private project pulled by a Reporter. Pushes always carry a Developer's credentials and deletes
a Maintainer's, since the registry needs an identity for both.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient

from registry_service.catalog.rows import Project
from registry_service.services.permissions import AccessLevel
from tests import oci_content as oc
from tests.factories import Factory

NAME = "group/app"


@dataclass(frozen=True)
class Access:
    """One auth scenario over the image ``NAME``: who pulls, who pushes, who deletes."""

    visibility: str
    project: Project
    reader: oc.Registry
    writer: oc.Registry
    maintainer: oc.Registry


async def member(
    client: TestClient, factory: Factory, project: Project, level: AccessLevel, username: str
) -> oc.Registry:
    """A user with ``level`` on ``project``, as a /v2 client logged in with their token."""
    user = await factory.user(username)
    await factory.member(user.user, level, project=project)
    return oc.Registry(client, oc.basic(username, user.token))


@pytest.fixture(params=["public", "private"])
async def access(request: pytest.FixtureRequest, client: TestClient, factory: Factory) -> Access:
    visibility: str = request.param
    project = await factory.project(NAME, visibility=visibility)
    if visibility == "public":
        reader = oc.Registry(client)
    else:
        reader = await member(client, factory, project, AccessLevel.REPORTER, "reporter")
    return Access(
        visibility=visibility,
        project=project,
        reader=reader,
        writer=await member(client, factory, project, AccessLevel.DEVELOPER, "developer"),
        maintainer=await member(client, factory, project, AccessLevel.MAINTAINER, "maintainer"),
    )
