"""Fixture mode: the ``/-/fixture/`` routes exist only when it is on, need an administrator,
and drive the server — its clock (token expiry, ``older_than``, the bulk-delete lease all move
with it), its jobs (run to the end on request) and its state (reset to the seed).

Most tests use the pytest plugin's in-process servers (``registry_server_pool``; this suite's
own ``registry_server`` is the plain ``serve`` of ``conftest.py``); two start the real
``serve`` process, with and without ``--fixture``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from registry_service.pytest_plugin import RegistryServer, ServerPool
from tests.e2e.conftest import StartServer
from tests.e2e.server import RegistryServer as ServeProcess
from tests.e2e.server import run_cli

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 60
MAINTAINER_TOKEN = "glpat-mia-maintainer-token-0001"
EXPIRING_TOKEN = "glpat-mia-expiring-token-00001"
DEVELOPER_TOKEN = "glpat-dev-developer-token-0001"
SEED = f"""
[[users]]
username = "mia"
tokens = [
    {{ name = "ci", value = "{MAINTAINER_TOKEN}" }},
    {{ name = "old", value = "{EXPIRING_TOKEN}", expires_at = 2027-01-01 }},
]

[[users]]
username = "dev"
tokens = [{{ name = "ci", value = "{DEVELOPER_TOKEN}" }}]

[[groups]]
path = "acme"

[[projects]]
path = "acme/app"
members = [
    {{ user = "mia", access_level = "maintainer" }},
    {{ user = "dev", access_level = "developer" }},
]

# build-1 … build-24, an hour apart; build-24 is dated 2026-01-02T00:00Z.
[[images]]
repository = "acme/app"
tag_pattern = "build-{{n}}"
count = 24
created = 2026-01-02T00:00:00Z
created_every = "1h"
"""
FIXTURE_ROUTES = [
    ("GET", "/-/fixture/clock"),
    ("PUT", "/-/fixture/clock"),
    ("POST", "/-/fixture/run-jobs"),
    ("POST", "/-/fixture/reset"),
]


def call(
    server: RegistryServer | ServeProcess,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
) -> requests.Response:
    headers = {"PRIVATE-TOKEN": token} if token else {}
    return requests.request(
        method, server.url + path, json=body, headers=headers, timeout=HTTP_TIMEOUT_S
    )


@pytest.fixture
def server(registry_server_pool: ServerPool) -> RegistryServer:
    return registry_server_pool.get(SEED, {})


@pytest.fixture
def limited_server(registry_server_pool: ServerPool) -> RegistryServer:
    """Fixture mode with GitLab's once-an-hour limit on bulk deletes switched back on."""
    return registry_server_pool.get(SEED, {"fixture": {"bulk_delete_interval_seconds": 3600}})


def build_numbers(server: RegistryServer, token: str = MAINTAINER_TOKEN) -> list[int]:
    repo = repository(server, token)
    return sorted(int(t.name.split("-")[1]) for t in repo.tags.list(get_all=True))


def repository(server: RegistryServer, token: str = MAINTAINER_TOKEN) -> Any:
    gl = gitlab.Gitlab(server.url, private_token=token, timeout=HTTP_TIMEOUT_S)
    [repo] = gl.projects.get("acme/app", lazy=True).repositories.list()
    return repo


def bulk_delete(server: RegistryServer, **params: Any) -> requests.Response:
    repo = repository(server)
    return call(
        server,
        "DELETE",
        f"/api/v4/projects/{repo.project_id}/registry/repositories/{repo.id}/tags",
        params,
        MAINTAINER_TOKEN,
    )


# --- the routes and who may call them ---------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), FIXTURE_ROUTES)
def test_fixture_routes_do_not_exist_without_fixture_mode(
    registry_server: ServeProcess, method: str, path: str
) -> None:
    answer = call(registry_server, method, path, {"advance": "1h"}, registry_server.admin_token)
    assert answer.status_code == 404


def test_serve_fixture_flag_turns_fixture_mode_on(
    start_server: StartServer, tmp_path: Path
) -> None:
    seed = tmp_path / "seed.toml"
    seed.write_text(SEED)
    served = start_server(args=["--fixture", "--seed", str(seed)])
    target = datetime(2030, 1, 1, tzinfo=UTC)
    moved = call(served, "PUT", "/-/fixture/clock", {"now": target.isoformat()}, served.admin_token)
    assert moved.status_code == 200
    assert abs(datetime.fromisoformat(moved.json()["now"]) - target) < timedelta(seconds=5)
    reset = call(served, "POST", "/-/fixture/reset", token=served.admin_token)
    assert reset.status_code == 200
    assert abs(reset.json()["offset_seconds"]) < 1
    # The seed's user and the configured administrator both survive the reset.
    for token in (MAINTAINER_TOKEN, served.admin_token):
        assert call(served, "GET", "/api/v4/user", token=token).status_code == 200


def test_fixture_mode_refuses_a_redis_url(tmp_path: Path) -> None:
    # run-jobs waits for jobs and reset pauses them: the runner must be in the process.
    done = run_cli(
        ["serve", "--fixture"],
        {
            "REGISTRY_SERVICE_REDIS_URL": "redis://127.0.0.1:1/0",
            "REGISTRY_SERVICE_DATA_DIR": str(tmp_path / "data"),
        },
    )
    assert done.returncode == 2
    assert "fixture.enabled" in done.stderr and "jobs.redis_url" in done.stderr


@pytest.mark.parametrize(("method", "path"), FIXTURE_ROUTES)
def test_fixture_routes_need_an_administrator(
    server: RegistryServer, method: str, path: str
) -> None:
    anonymous = call(server, method, path, {"advance": "1h"})
    assert anonymous.status_code == 401
    assert anonymous.json() == {"message": "401 Unauthorized"}
    developer = call(server, method, path, {"advance": "1h"}, DEVELOPER_TOKEN)
    assert developer.status_code == 403
    assert developer.json() == {"message": "403 Forbidden - fixture routes need an administrator"}


# --- the clock --------------------------------------------------------------------------------


def test_clock_starts_at_real_time_and_can_be_set_and_advanced(server: RegistryServer) -> None:
    assert abs(server.now() - datetime.now(UTC)) < timedelta(seconds=5)
    target = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert abs(server.set_clock(target) - target) < timedelta(seconds=5)
    advanced = server.advance_clock("1h30m")
    assert abs(advanced - (target + timedelta(minutes=90))) < timedelta(seconds=5)
    back = server.advance_clock(timedelta(days=-1))
    assert abs(back - (target + timedelta(minutes=90) - timedelta(days=1))) < timedelta(seconds=5)
    # It keeps ticking from where it was put.
    assert server.now() >= back


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"now": "2030-01-01T00:00:00Z", "advance": "1h"},
        {"now": "2030-01-01T00:00:00"},
        {"now": "yesterday"},
        {"advance": "-1h"},
        {"advance": "a fortnight"},
        {"advance": 3600},
        {"when": "2030-01-01T00:00:00Z"},
        ["2030-01-01T00:00:00Z"],
    ],
    ids=repr,
)
def test_bad_clock_bodies_are_refused(server: RegistryServer, body: Any) -> None:
    answer = call(server, "PUT", "/-/fixture/clock", body, server.admin_token)
    assert answer.status_code == 400
    assert set(answer.json()) == {"error"}
    assert abs(server.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_token_expiry_reads_the_clock(server: RegistryServer) -> None:
    assert call(server, "GET", "/api/v4/user", token=EXPIRING_TOKEN).status_code == 200
    server.set_clock(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert call(server, "GET", "/api/v4/user", token=EXPIRING_TOKEN).status_code == 401
    assert call(server, "GET", "/api/v4/user", token=MAINTAINER_TOKEN).status_code == 200


# --- jobs and date rules ----------------------------------------------------------------------


def test_older_than_cutoff_moves_with_the_clock(server: RegistryServer) -> None:
    server.set_clock(datetime(2026, 1, 2, 12, 30, tzinfo=UTC))
    assert bulk_delete(server, name_regex_delete=".*", keep_n=5, older_than="1d").status_code == 202
    [job] = cleanup_jobs(server)
    assert (job["state"], job["counts"]["deleted"]) == ("done", 12)
    assert build_numbers(server) == list(range(13, 25))
    server.advance_clock("6h")
    assert bulk_delete(server, name_regex_delete=".*", keep_n=5, older_than="1d").status_code == 202
    [job] = cleanup_jobs(server)
    assert (job["state"], job["counts"]["deleted"]) == ("done", 6)
    assert build_numbers(server) == list(range(19, 25))


def cleanup_jobs(server: RegistryServer) -> list[dict[str, Any]]:
    return [job for job in server.run_jobs() if job["kind"] == "cleanup_tags"]


def test_run_jobs_waits_for_every_job_including_retries(server: RegistryServer) -> None:
    # Two cleanups of one repository: the second waits for the first (it is retried later);
    # run-jobs makes the retry due and answers once both have ended.
    for keep_n in (20, 10):
        assert bulk_delete(server, name_regex_delete=".*", keep_n=keep_n).status_code == 202
    jobs = cleanup_jobs(server)
    assert [job["state"] for job in jobs] == ["done", "done"]
    assert build_numbers(server) == list(range(15, 25))
    assert cleanup_jobs(server) == []


def test_bulk_delete_lease_is_off_in_fixture_mode(server: RegistryServer) -> None:
    for _ in range(3):
        assert bulk_delete(server, name_regex_delete="nothing").status_code == 202


def test_bulk_delete_lease_when_configured_reads_the_clock(
    limited_server: RegistryServer,
) -> None:
    assert bulk_delete(limited_server, name_regex_delete="nothing").status_code == 202
    refused = bulk_delete(limited_server, name_regex_delete="nothing")
    assert refused.status_code == 400
    assert "already been made" in refused.json()["message"]
    limited_server.advance_clock("61m")
    assert bulk_delete(limited_server, name_regex_delete="nothing").status_code == 202


# --- reset ------------------------------------------------------------------------------------


def test_reset_restores_the_seed_and_removes_what_was_made(server: RegistryServer) -> None:
    admin = gitlab.Gitlab(server.url, private_token=server.admin_token, timeout=HTTP_TIMEOUT_S)
    seeded_ids = {p.path_with_namespace: p.id for p in admin.projects.list(get_all=True)}
    user = admin.users.create({"username": "temp", "name": "Temp", "email": "t@example.com"})
    user_token = user.personal_access_tokens.create({"name": "t", "scopes": ["api"]}).token
    admin.projects.create({"name": "extra", "namespace_id": admin.groups.get("acme").id})
    assert bulk_delete(server, name_regex_delete=".*", keep_n=1).status_code == 202
    server.run_jobs()
    assert build_numbers(server) == [24]
    server.advance_clock("30d")

    server.reset()

    assert abs(server.now() - datetime.now(UTC)) < timedelta(seconds=5)
    projects = {p.path_with_namespace: p.id for p in admin.projects.list(get_all=True)}
    assert projects == seeded_ids  # same ids, too
    assert call(server, "GET", "/api/v4/user", token=user_token).status_code == 401
    assert call(server, "GET", "/api/v4/user", token=MAINTAINER_TOKEN).status_code == 200
    assert build_numbers(server) == list(range(1, 25))
    # No job of before the reset is left to run.
    assert cleanup_jobs(server) == []


def test_pool_resets_a_server_before_handing_it_out_again(
    registry_server_pool: ServerPool,
) -> None:
    first = registry_server_pool.get(SEED, {})
    first.advance_clock("10d")
    assert bulk_delete(first, name_regex_delete=".*", keep_n=1).status_code == 202
    first.run_jobs()
    again = registry_server_pool.get(SEED, {})
    assert again is first
    assert abs(again.now() - datetime.now(UTC)) < timedelta(seconds=5)
    assert build_numbers(again) == list(range(1, 25))


@pytest.fixture
def stopped_server(tmp_path: Path) -> Iterator[RegistryServer]:
    made = RegistryServer(tmp_path, None, {})
    yield made
    made.stop()


def test_in_process_server_stops_cleanly_and_frees_its_port(
    stopped_server: RegistryServer,
) -> None:
    stopped_server.start()
    assert call(stopped_server, "GET", "/-/readiness").status_code == 200
    stopped_server.stop()
    with pytest.raises(requests.ConnectionError):
        call(stopped_server, "GET", "/-/readiness")
    stopped_server.stop()  # twice is fine
