"""Acceptance: the pytest plugin as an outside project uses it.

``pytester`` writes a project of its own — a ``conftest.py`` whose ``registry_seed`` has a
maintainer with a fixed token, a project and 24 dated tags, and a test module that drives the
``registry_server`` fixture with python-gitlab: list the tags, move the clock so the
``older_than`` cutoff moves, bulk delete, run the jobs, check what is left. It runs in a
subprocess (``runpytest_subprocess``), so the plugin is found through its ``pytest11`` entry
point exactly as in another project; nothing of this repository's test suite is imported.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e
pytest_plugins = ["pytester"]

CONFTEST = '''
import pytest

SEED = """
[[users]]
username = "maya"
tokens = [{ name = "ci", value = "glpat-maya-maintainer-token-01" }]

[[groups]]
path = "shop"

[[projects]]
path = "shop/api"
members = [{ user = "maya", access_level = "maintainer" }]

# build-1 ... build-24, an hour apart; build-24 is dated 2026-01-02T00:00Z.
[[images]]
repository = "shop/api"
tag_pattern = "build-{n}"
count = 24
created = 2026-01-02T00:00:00Z
created_every = "1h"
"""


@pytest.fixture
def registry_seed():
    return SEED
'''

TESTS = '''
from datetime import datetime, timezone

import gitlab

TOKEN = "glpat-maya-maintainer-token-01"


def builds(repo):
    return sorted(int(t.name.split("-")[1]) for t in repo.tags.list(get_all=True))


def test_bulk_delete_cutoff_follows_the_clock(registry_server):
    gl = gitlab.Gitlab(registry_server.url, private_token=TOKEN)
    [repo] = gl.projects.get("shop/api").repositories.list()
    assert repo.location == f"{registry_server.registry_host}/shop/api"
    assert builds(repo) == list(range(1, 25))

    # Half a day after the newest build: "older than 1d" reaches build-12.
    registry_server.set_clock(datetime(2026, 1, 2, 12, 30, tzinfo=timezone.utc))
    repo.tags.delete_in_bulk(name_regex_delete=".*", keep_n=5, older_than="1d")
    [job] = [j for j in registry_server.run_jobs() if j["kind"] == "cleanup_tags"]
    assert (job["state"], job["counts"]["deleted"]) == ("done", 12)
    assert builds(repo) == list(range(13, 25))

    # Six hours on, the same request reaches build-18 (the lease is off in fixture mode).
    registry_server.advance_clock("6h")
    repo.tags.delete_in_bulk(name_regex_delete=".*", keep_n=5, older_than="1d")
    registry_server.run_jobs()
    assert builds(repo) == list(range(19, 25))


def test_the_next_test_starts_from_the_seed(registry_server):
    gl = gitlab.Gitlab(registry_server.url, private_token=registry_server.admin_token)
    [repo] = gl.projects.get("shop/api").repositories.list()
    assert builds(repo) == list(range(1, 25))
    drift = registry_server.now() - datetime.now(timezone.utc)
    assert abs(drift.total_seconds()) < 60
'''


def test_an_outside_project_uses_the_registry_server_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_registry=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=2)


def test_without_a_seed_the_server_is_empty_but_for_the_administrator(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_empty='''
import gitlab

def test_only_root(registry_server):
    gl = gitlab.Gitlab(registry_server.url, private_token=registry_server.admin_token)
    gl.auth()
    assert gl.user.username == "root"
    assert gl.projects.list(get_all=True) == []
    assert registry_server.run_jobs() is not None
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=1)
