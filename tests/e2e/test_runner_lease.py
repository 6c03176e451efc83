"""One active job runner per catalog across separate ``serve`` processes (the ``jobs-runner``
catalog lease), with real processes on one data directory and a short lease (6 s, renewed every
2 s):

- of two servers exactly one says ``"jobs_runner": "active"`` on ``/-/health``; repository
  deletions requested through either run once each (one claim), and only the active one logs
  that it runs the jobs;
- SIGKILL of the active server mid-cleanup: the other becomes active within one lease period
  and finishes the job from its saved plan, every planned tag deleted once;
- SIGSTOP of the active server (alive, but not renewing, as a stalled host): the other takes
  over only once the lease has run out; on SIGCONT the first steps down, so one is active;
- fixture mode (its reset wipes the catalog) refuses to start beside an active server.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.gitlab_support import MAINT, PROJECT, images_entry, write_seed
from tests.e2e.jobs_fixture import QUERY, JobWatch, prepare_cleanup, push_late_tags
from tests.e2e.server import RegistryServer, ServerFailed, StartServer
from tests.e2e.test_job_crash import (
    JOB_TIMEOUT_S,
    assert_cleaned_once,
    assert_interrupted_mid_job,
    kill_mid_job,
    wait_done,
)

pytestmark = pytest.mark.e2e

LEASE_S, RENEW_S = 6.0, 2.0
SHORT_LEASE = {
    "REGISTRY_SERVICE_JOBS_RUNNER_LEASE_SECONDS": str(LEASE_S),
    "REGISTRY_SERVICE_JOBS_RUNNER_RENEW_SECONDS": str(RENEW_S),
}
HTTP_TIMEOUT_S = 30
WAIT_S = 60.0
# A standby's takeover is seen by polling /-/health: allow one poll and a tick of slack.
POLL_S = 0.1


def role(server: RegistryServer) -> str:
    answer = requests.get(server.url + "/-/health", timeout=HTTP_TIMEOUT_S)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["jobs_runner"])


def roles(*servers: RegistryServer) -> list[str]:
    return [role(server) for server in servers]


def wait_role(server: RegistryServer, wanted: str, timeout_s: float) -> float:
    """Seconds until ``server`` reports ``wanted``."""
    started = time.monotonic()
    while role(server) != wanted:
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{server.url} not {wanted} after {timeout_s}s\n{server.stderr}")
        time.sleep(POLL_S)
    return time.monotonic() - started


def start_second(start_server: StartServer, first: RegistryServer) -> RegistryServer:
    second = start_server(start=False, env=SHORT_LEASE)
    second.data_dir = first.data_dir
    second.start()
    return second


def log_count(server: RegistryServer, needle: str) -> int:
    return server.stderr.count(needle)


def jobs(data_dir: Path) -> list[tuple[int, str, str, int]]:
    with sqlite3.connect(f"file:{data_dir / 'registry.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT id, kind, state, attempts FROM jobs ORDER BY id").fetchall()
    return [(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def api(server: RegistryServer, method: str, path: str) -> Any:
    answer = requests.request(
        method, f"{server.url}/api/v4{path}", headers={"PRIVATE-TOKEN": MAINT.token},
        timeout=HTTP_TIMEOUT_S,
    )
    assert answer.status_code in (200, 202, 204), (method, path, answer.status_code, answer.text)
    return answer.json() if answer.content else None


def test_two_servers_have_one_active_runner_and_run_each_job_once(
    start_server: StartServer, tmp_path: Path
) -> None:
    names = [f"r{n}" for n in range(6)]
    seed = write_seed(
        tmp_path / "seed.toml", *(images_entry(f"{PROJECT}/{name}", tags=["v1"]) for name in names)
    )
    first = start_server(args=["--seed", str(seed)], env=SHORT_LEASE)
    second = start_second(start_server, first)

    assert roles(first, second) == ["active", "standby"]
    project = PROJECT.replace("/", "%2F")
    repositories = api(first, "GET", f"/projects/{project}/registry/repositories")
    assert sorted(r["name"] for r in repositories) == names
    # Asked through either server, alternately: the standby only writes the intent.
    for n, repository in enumerate(repositories):
        server = (first, second)[n % 2]
        api(server, "DELETE", f"/projects/{project}/registry/repositories/{repository['id']}")

    deadline = time.monotonic() + WAIT_S
    while any(state != "done" for _, _, state, _ in jobs(first.data_dir)):
        assert time.monotonic() < deadline, jobs(first.data_dir)
        time.sleep(0.2)
    done = jobs(first.data_dir)
    # Each claimed once; the scheduled collection made once, though both servers started.
    assert {(state, attempts) for _, _, state, attempts in done} == {("done", 1)}
    assert Counter(kind for _, kind, _, _ in done) == {
        "delete_repository": len(names), "collect_garbage": 1
    }
    assert api(second, "GET", f"/projects/{project}/registry/repositories") == []
    assert roles(first, second) == ["active", "standby"]
    assert log_count(first, "job runner active") == 1
    assert log_count(second, "job runner active") == 0
    assert log_count(second, "job runner standing by") == 1


def test_sigkill_of_the_active_server_hands_its_job_to_the_other_within_a_lease(
    start_server: StartServer,
) -> None:
    first = start_server(start=False, env=SHORT_LEASE)
    scenario = prepare_cleanup(first.data_dir, submit=False)
    watch = JobWatch(scenario)
    try:
        first.start()
        second = start_second(start_server, first)
        assert roles(first, second) == ["active", "standby"]
        # Requested through the standby; the active one runs it.
        answer = requests.delete(
            f"{second.url}/api/v4/projects/{scenario.project_id}/registry/repositories/"
            f"{scenario.repository_id}/tags",
            params=QUERY, headers={"PRIVATE-TOKEN": scenario.requester_token},
            timeout=HTTP_TIMEOUT_S,
        )
        assert answer.status_code == 202, answer.text

        at_kill = kill_mid_job(scenario, watch, first.kill, alive=lambda: None)
        killed_at = time.monotonic()
        assert_interrupted_mid_job(scenario, at_kill)
        late = push_late_tags(scenario)

        wait_role(second, "active", LEASE_S)
        took_over_s = time.monotonic() - killed_at
        print(f"the standby was active {took_over_s:.2f} s after the SIGKILL")
        assert took_over_s < LEASE_S

        wait_done(watch, timeout_s=JOB_TIMEOUT_S, alive=lambda: None)
        assert_cleaned_once(scenario, watch, at_kill, late)
        assert log_count(second, "job runner active") == 1
        assert second.stop() == 0
    finally:
        watch.close()


def test_a_stalled_active_server_is_replaced_after_its_lease_and_then_steps_down(
    start_server: StartServer,
) -> None:
    first = start_server(env=SHORT_LEASE)
    second = start_second(start_server, first)
    assert roles(first, second) == ["active", "standby"]
    assert first.process is not None

    first.signal(signal.SIGSTOP)  # alive: its lock files prove nothing, its lease must run out
    stopped_at = time.monotonic()
    try:
        wait_role(second, "active", LEASE_S + RENEW_S + 5)
        took_over_s = time.monotonic() - stopped_at
        print(f"the standby was active {took_over_s:.2f} s after the SIGSTOP")
        # Not before the lease the stalled server last renewed ran out (renewed up to one
        # renewal period before the stop).
        assert took_over_s >= LEASE_S - RENEW_S
    finally:
        first.signal(signal.SIGCONT)

    wait_role(first, "standby", RENEW_S + 5)
    assert roles(first, second) == ["standby", "active"]
    assert log_count(first, "job runner stepping down: lease jobs-runner was taken") == 1
    assert log_count(second, "job runner active") == 1
    assert first.stop() == 0
    assert second.stop() == 0


def test_fixture_mode_refuses_a_data_directory_another_server_runs_jobs_for(
    start_server: StartServer,
) -> None:
    """Its reset would wipe the other server's catalog: it must be the active runner."""
    first = start_server(env=SHORT_LEASE)
    fixture = start_server(start=False, env=SHORT_LEASE, args=["--fixture"])
    fixture.data_dir = first.data_dir
    with pytest.raises(ServerFailed):
        fixture.start()
    assert fixture.wait() == 1
    assert "fixture mode needs a catalog of its own" in fixture.stderr
    assert role(first) == "active"
