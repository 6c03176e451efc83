"""Acceptance (issue 6, point 3): a cleanup policy driven by fixture mode's clock.

python-gitlab enables a daily policy on a project with 24 dated builds
(``project.container_expiration_policy_attributes = {...}; project.save()``, a PUT with a JSON
body). A day on, run-jobs runs the policy once and the tags are what ``older_than`` allows; six
hours later nothing runs (although a run then would delete more); another day on, it runs again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import gitlab
import pytest

from registry_service.pytest_plugin import RegistryServer, ServerPool

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 60
TOKEN = "glpat-pia-maintainer-token-0001"
SEED = f"""
[[users]]
username = "pia"
tokens = [{{ name = "ci", value = "{TOKEN}" }}]

[[groups]]
path = "acme"

[[projects]]
path = "acme/policy"
members = [{{ user = "pia", access_level = "maintainer" }}]

# build-1 … build-24, an hour apart: build-1 is dated 2026-01-01T01:00Z, build-24 2026-01-02T00:00Z.
[[images]]
repository = "acme/policy"
tag_pattern = "build-{{n}}"
count = 24
created = 2026-01-02T00:00:00Z
created_every = "1h"
"""
POLICY = {
    "enabled": True,
    "cadence": "1d",
    "keep_n": None,
    "older_than": "7d",
    "name_regex": "build-.*",
    "name_regex_keep": None,
}


@pytest.fixture
def server(registry_server_pool: ServerPool) -> RegistryServer:
    return registry_server_pool.get(SEED, {})


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def builds(repo: Any) -> list[int]:
    return sorted(int(t.name.split("-")[1]) for t in repo.tags.list(get_all=True))


def policy_runs(server: RegistryServer) -> list[dict[str, Any]]:
    return [job for job in server.run_jobs() if job["kind"] == "cleanup_tags"]


def test_a_daily_policy_runs_once_a_day_on_the_fixture_clock(server: RegistryServer) -> None:
    gl = gitlab.Gitlab(server.url, private_token=TOKEN, timeout=HTTP_TIMEOUT_S)
    server.set_clock(datetime(2026, 1, 7, 18, 0, tzinfo=UTC))
    project = gl.projects.get("acme/policy")
    assert project.container_expiration_policy["enabled"] is False

    enabled_at = server.now()
    project.container_expiration_policy_attributes = POLICY
    project.save()
    policy = gl.projects.get("acme/policy").container_expiration_policy
    assert {k: policy[k] for k in POLICY} == POLICY
    next_run_at = parse(policy["next_run_at"])
    assert timedelta(days=1) <= next_run_at - enabled_at < timedelta(days=1, seconds=30)

    [repo] = project.repositories.list()
    assert repo.cleanup_policy_started_at is None
    assert policy_runs(server) == []  # not due yet

    # A day (and a minute) on: one run; the cutoff 2026-01-01T18:01 takes build-1 … build-18.
    server.advance_clock(timedelta(days=1, minutes=1))
    [job] = policy_runs(server)
    assert (job["state"], job["counts"]["deleted"]) == ("done", 18)
    assert builds(repo) == list(range(19, 25))
    [repo] = project.repositories.list()
    first_start = parse(repo.cleanup_policy_started_at)
    assert first_start >= next_run_at
    next_run_at = parse(gl.projects.get("acme/policy").container_expiration_policy["next_run_at"])
    # Counted from the sweep that started the run, a moment before the repository's start.
    assert timedelta(days=1) - timedelta(seconds=30) < next_run_at - first_start <= timedelta(1)

    # Six hours on, a run would take every build that is left: none happens.
    server.advance_clock("6h")
    assert policy_runs(server) == []
    assert builds(repo) == list(range(19, 25))
    [repo] = project.repositories.list()
    assert parse(repo.cleanup_policy_started_at) == first_start

    # A day after the first run: the second one.
    server.advance_clock("18h")
    [job] = policy_runs(server)
    assert (job["state"], job["counts"]["deleted"]) == ("done", 6)
    assert builds(repo) == []
    [repo] = project.repositories.list()
    assert parse(repo.cleanup_policy_started_at) > first_start + timedelta(days=1)
