"""Acceptance: python-gitlab drives the management calls of issue 14 against the real server —
users (list, block, unblock, delete), project and group members (direct and inherited, edit,
remove), personal access tokens (list, get, rotate, revoke), the registry's access level, and
project and group deletion, whose repositories go through the server's repository-deletion
jobs (the seeded images are really there, and really gone afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest
import requests

from tests.e2e.conftest import _shut_down
from tests.e2e.gitlab_support import (
    DEV_API,
    MAINT,
    PROJECT,
    SUB_PROJECT,
    images_entry,
    wait_for,
    write_seed,
)
from tests.e2e.server import RegistryServer, read_catalog
from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 30


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RegistryServer]:
    seed = write_seed(
        tmp_path / "seed.toml",
        images_entry(PROJECT, tags=["v1", "latest"]),
        images_entry(f"{PROJECT}/worker", tags=["v1"]),
        images_entry(SUB_PROJECT, tags=["stable"]),
    )
    started = RegistryServer(tmp_path / "server", args=["--seed", str(seed)])
    started.start(timeout_s=60)
    yield started
    _shut_down(started)


def as_admin(server: RegistryServer) -> gitlab.Gitlab:
    return gitlab.Gitlab(server.url, private_token=server.admin_token, timeout=HTTP_TIMEOUT_S)


def as_user(server: RegistryServer, token: str) -> gitlab.Gitlab:
    return gitlab.Gitlab(server.url, private_token=token, timeout=HTTP_TIMEOUT_S)


def pull_status(server: RegistryServer, image: str, token: str, user: str = "maint") -> int:
    return requests.get(f"{server.url}/v2/{image}/tags/list", auth=(user, token),
                        timeout=HTTP_TIMEOUT_S).status_code


def repository_status(server: RegistryServer, repository_id: int) -> int:
    return requests.get(f"{server.url}/api/v4/registry/repositories/{repository_id}",
                        headers={"PRIVATE-TOKEN": server.admin_token or ""},
                        timeout=HTTP_TIMEOUT_S).status_code


def project_ids(server: RegistryServer) -> list[int]:
    """The catalog's project rows, read from the file (marked ones included)."""
    return [int(str(row[0])) for row in read_catalog(server.data_dir, ["projects"])["projects"]]


def test_users_block_unblock_delete(server: RegistryServer) -> None:
    gl = as_admin(server)
    everyone = gl.users.list(get_all=True)
    assert {u.username for u in everyone} >= {"maint", "dev"}
    (dev,) = gl.users.list(username="dev")

    dev.block()
    assert dev.state == "blocked"
    assert [u.username for u in gl.users.list(blocked=True)] == ["dev"]
    with pytest.raises(gitlab.GitlabGetError) as blocked:
        as_user(server, DEV_API.token).auth()
    assert blocked.value.response_code == 403
    assert blocked.value.error_message == "403 Forbidden - Your account has been blocked."
    assert pull_status(server, PROJECT, DEV_API.token, "dev") == 401
    dev.unblock()
    assert dev.state == "active"
    as_user(server, DEV_API.token).auth()
    assert pull_status(server, PROJECT, DEV_API.token, "dev") == 200

    # A non-administrator sees the basic entity only.
    limited = as_user(server, MAINT.token).users.list(username="dev")
    assert "email" not in limited[0].attributes

    gl.users.delete(dev.id)
    assert gl.users.list(username="dev") == []
    assert pull_status(server, PROJECT, DEV_API.token, "dev") == 401


def test_members_of_projects_and_groups(server: RegistryServer) -> None:
    gl = as_admin(server)
    project = gl.projects.get(PROJECT)
    group = gl.groups.get("grp")
    dev = gl.users.list(username="dev")[0]

    assert project.members.list(get_all=True) == []
    inherited = {m.username: m.access_level for m in project.members_all.list(get_all=True)}
    assert inherited == {"maint": 40, "dev": 30}
    assert project.members_all.get(dev.id).access_level == 30
    group_all = {m.username: m.access_level for m in group.members_all.list(get_all=True)}
    assert group_all == {"maint": 40, "dev": 30}
    assert group.members_all.get(dev.id).access_level == 30

    member = group.members.get(dev.id)
    member.access_level = 20
    member.save()
    assert group.members.get(dev.id).access_level == 20
    assert pull_status(server, PROJECT, DEV_API.token, "dev") == 200

    project.members.create({"user_id": dev.id, "access_level": 40})
    assert project.members_all.get(dev.id).access_level == 40
    project.members.delete(dev.id)
    group.members.get(dev.id).delete()
    assert {m.username for m in group.members.list(get_all=True)} == {"maint"}
    # Without any membership the private project is hidden from dev's registry login.
    assert pull_status(server, PROJECT, DEV_API.token, "dev") == 404
    # Maintainers do not manage a group's members (Owners do).
    group.members.create({"user_id": dev.id, "access_level": 30})
    as_maint = as_user(server, MAINT.token).groups.get("grp", lazy=True)
    with pytest.raises(gitlab.GitlabDeleteError) as refused:
        as_maint.members.delete(dev.id)
    assert refused.value.response_code == 403


def test_personal_access_tokens(server: RegistryServer) -> None:
    gl = as_admin(server)
    maint = as_user(server, MAINT.token)
    mine = maint.personal_access_tokens.list(get_all=True)
    assert {t.name for t in mine} == {"all", "ro"}
    current = maint.personal_access_tokens.get("self")
    assert current.name == "all" and current.scopes == ["api", "read_registry", "write_registry"]
    assert gl.personal_access_tokens.get(current.id).user_id == current.user_id
    assert {t.user_id for t in gl.personal_access_tokens.list(get_all=True)} >= {current.user_id}

    rotated = maint.personal_access_tokens.rotate(current.id)
    assert rotated["name"] == "all" and rotated["token"] != MAINT.token
    with pytest.raises(gitlab.GitlabAuthenticationError):
        maint.auth()
    assert pull_status(server, PROJECT, MAINT.token) == 401
    assert pull_status(server, PROJECT, rotated["token"]) == 200

    fresh = as_user(server, rotated["token"])
    ro = next(t for t in fresh.personal_access_tokens.list() if t.name == "ro")
    fresh.personal_access_tokens.delete(ro.id)
    assert fresh.personal_access_tokens.get(ro.id).revoked is True
    again = fresh.personal_access_tokens.get(rotated["id"], lazy=True)
    again.rotate(self_rotate=True)
    newest = as_user(server, again.token)
    newest.auth()
    newest.personal_access_tokens.delete("self")
    with pytest.raises(gitlab.GitlabAuthenticationError):
        newest.auth()


def test_registry_access_level_and_deletions(server: RegistryServer) -> None:
    gl = as_admin(server)
    project = gl.projects.get(PROJECT)
    repositories = project.repositories.list(get_all=True)
    assert len(repositories) == 2

    project.container_registry_access_level = "disabled"
    project.save()
    assert gl.projects.get(PROJECT).container_registry_access_level == "disabled"
    assert pull_status(server, PROJECT, MAINT.token) == 403
    project.container_registry_access_level = "enabled"
    project.save()
    assert pull_status(server, PROJECT, MAINT.token) == 200

    # Deleting takes an Owner: the group's Maintainer is refused.
    with pytest.raises(gitlab.GitlabDeleteError) as refused:
        as_user(server, MAINT.token).projects.delete(project.id)
    assert refused.value.response_code == 403

    project.delete()
    assert pull_status(server, PROJECT, MAINT.token) == 404
    with pytest.raises(gitlab.GitlabGetError):
        gl.projects.get(PROJECT)

    for repository in repositories:
        wait_for(lambda r=repository: repository_status(server, r.id), 404)

    group = gl.groups.get("grp")
    tool = gl.projects.get(SUB_PROJECT)
    (tool_repo,) = tool.repositories.list()
    group.delete()
    assert pull_status(server, SUB_PROJECT, MAINT.token) == 404
    wait_for(lambda: [g.full_path for g in gl.groups.list(get_all=True)], [])
    wait_for(lambda: repository_status(server, tool_repo.id), 404)


def test_a_project_deletion_survives_a_crash_before_any_job_ran(tmp_path: Path) -> None:
    """``serve`` with a Redis URL only queues jobs; with no worker, the deletion's jobs wait.
    The server is SIGKILLed, Redis is gone, and a plain ``serve`` on the same data finishes
    the deletion from what the catalog holds."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    seed = write_seed(tmp_path / "seed.toml", images_entry(PROJECT, tags=["v1", "v2"]))
    server = RegistryServer(tmp_path / "server", args=["--seed", str(seed)],
                            env={"REGISTRY_SERVICE_REDIS_URL": redis.url})
    server.start(timeout_s=60)
    try:
        gl = as_admin(server)
        project = gl.projects.get(PROJECT)
        (repository,) = project.repositories.list()
        project.delete()
        assert pull_status(server, PROJECT, MAINT.token) == 404
        # Nothing ran: the repository is still there, scheduled.
        assert repository_status(server, repository.id) == 200
        server.kill()
        redis.stop()
        # The project row waits, marked, for its repository.
        assert project.id in project_ids(server)

        server.extra_env.pop("REGISTRY_SERVICE_REDIS_URL")
        server.start(args=[], timeout_s=60)
        wait_for(lambda: repository_status(server, repository.id), 404)
        wait_for(lambda: project.id in project_ids(server), False)
        assert pull_status(server, PROJECT, MAINT.token) == 404
    finally:
        _shut_down(server)
        redis.stop()
