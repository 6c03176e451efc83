"""Crashes in the middle of a 50,000-tag cleanup: the job still ends ``done``, once, and leaves
exactly the tags an uninterrupted run leaves (``tests.e2e.jobs_fixture`` computes them with the
pure planner).

- ``serve`` with the in-process runner is SIGKILLed mid-job and started again.
- ``registry-service worker`` (arq) is SIGKILLed mid-job and another worker is started: it may
  take the job over only once the dead worker's lease has expired (60 s), so this test waits
  that long.
- ``redis-server`` is restarted mid-job (everything in Redis is lost).
- A cleanup requested through the API while Redis is down runs once Redis is back.

The job deletes 2,000 tags per transaction, ~20 batches in about a second. To kill at a known
point the test takes the catalog's write lock itself (``WriteHold``) once the job has saved
some progress: the job's next batch waits for the lock, the test reads how far it got, and the
runner is killed while waiting. After the kill the catalog must show exactly the batches the
saved progress counts, and nothing more. Between the kill and the restart 50 tags of month-old
images are pushed: the saved plan does not name them, so the resumed job must leave them,
where a job that planned again would delete them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from jobs.tag_cleanup import BATCH
from tests.e2e.jobs_fixture import (
    QUERY,
    TAG_COUNT,
    CleanupScenario,
    JobState,
    JobWatch,
    WorkerProcess,
    WriteHold,
    prepare_cleanup,
    push_late_tags,
)
from tests.e2e.server import RegistryServer, StartServer
from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

# Generous for a loaded 2-core machine; the job itself takes ~1-2 s.
JOB_TIMEOUT_S = 60.0
# An arq worker may take over a dead worker's job only once its lease has run out
# (jobs.lease_seconds, shortened here to SHORT_LEASE_S), plus a sweep (5 s).
TAKEOVER_TIMEOUT_S = 120.0
SHORT_LEASE_S = 5
REDIS_DOWN_S = 1.0


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, not started yet."""
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


Workers = Callable[..., WorkerProcess]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """A factory of started ``registry-service worker`` processes,
    ``workers(data_dir, redis_url, env={…})``, each killed when the test ends."""
    made: list[WorkerProcess] = []

    def make(data_dir: Path, redis_url: str, env: Mapping[str, str] | None = None) -> WorkerProcess:
        worker = WorkerProcess(
            tmp_path / f"worker-{len(made)}", data_dir, redis_url, dict(env or {})
        )
        made.append(worker)
        worker.start()
        return worker

    yield make
    for worker in made:
        worker.kill()


@dataclass(frozen=True)
class Interrupted:
    job: JobState  # as the killed runner left it (with the saved plan)
    tags: frozenset[str]  # the repository's tags right after the kill


def kill_mid_job(
    scenario: CleanupScenario,
    watch: JobWatch,
    kill: Callable[[], object],
    *,
    alive: Callable[[], str | None],
) -> Interrupted:
    """Once the job has committed at least one batch, hold its next one back, note how far
    it got, and ``kill`` its runner there."""
    # Also stop at the end of the job: too fast to catch must fail the test, not time out.
    watch.wait_for(
        lambda job: job.processed >= BATCH or job.state in ("done", "failed"),
        timeout_s=JOB_TIMEOUT_S, what="a first batch of deletions", alive=alive,
    )
    with WriteHold(scenario.data_dir):
        kill()
        job, tags = watch.job(), watch.tags()
    print(f"interrupted at {job.processed} of {scenario.planned} deletions: {len(tags)} tags left")
    return Interrupted(job, tags)


def assert_interrupted_mid_job(scenario: CleanupScenario, at_kill: Interrupted) -> None:
    job = at_kill.job
    assert job.state == "running", job.summary()
    assert BATCH <= job.processed < scenario.planned, job.summary()
    # The saved plan is the one an uninterrupted run follows...
    plan = [name for name, _ in job.result["plan"]]
    assert len(plan) == scenario.planned
    assert set(plan) == scenario.all_tags - scenario.expected
    # ...and the catalog holds exactly the batches the saved progress counts: each batch's
    # deletions were committed with its progress, none without.
    assert job.counts["deleted"] == job.processed
    assert at_kill.tags == scenario.all_tags - set(plan[: job.processed])
    assert len(at_kill.tags) == TAG_COUNT - job.processed


def assert_cleaned_once(
    scenario: CleanupScenario, watch: JobWatch, at_kill: Interrupted | None, late: frozenset[str]
) -> None:
    """Done, not failed; every planned tag deleted once and nothing else, late tags left."""
    job = watch.job()
    assert job.state == "done" and job.error is None, job.summary()
    planned = scenario.all_tags - scenario.expected
    assert job.counts["processed"] == job.counts["deleted"] == scenario.planned, job.summary()
    assert job.counts["planned"] == scenario.planned and job.counts["tags"] == TAG_COUNT
    assert len(job.result["deleted_tags"]) == scenario.planned
    assert set(job.result["deleted_tags"]) == planned
    assert "left_alone" not in job.result, job.result.get("left_alone")
    if at_kill is not None:
        # Resumed, not started again: the plan is the one made before the kill (a new plan
        # would carry a new time), and the finished row no longer carries the plan itself.
        assert job.result["planned_at"] == at_kill.job.result["planned_at"]
        assert "plan" not in job.result
        assert job.attempts > at_kill.job.attempts
    remaining = watch.tags()
    missing, extra = (scenario.expected | late) - remaining, remaining - (scenario.expected | late)
    assert not missing and not extra, (
        f"{len(missing)} tag(s) wrongly deleted, e.g. {sorted(missing)[:5]}; "
        f"{len(extra)} tag(s) left that the plan deletes, e.g. {sorted(extra)[:5]}"
    )
    assert watch.jobs_of_repository() == [(watch.job_id, "cleanup_tags", "done")]


def wait_done(watch: JobWatch, *, timeout_s: float, alive: Callable[[], str | None]) -> JobState:
    return watch.wait_for(
        lambda job: job.state in ("done", "failed"),
        timeout_s=timeout_s, what="the end of the job", interval_s=0.05, alive=alive,
    )


# --- in-process runner ----------------------------------------------------------------------


def test_server_killed_mid_cleanup_resumes_the_job_on_restart(
    start_server: StartServer,
) -> None:
    server = start_server(start=False)
    scenario = prepare_cleanup(server.data_dir)
    watch = JobWatch(scenario)
    try:
        server.start()
        at_kill = kill_mid_job(scenario, watch, server.kill, alive=_exited(server))
        assert_interrupted_mid_job(scenario, at_kill)
        late = push_late_tags(scenario)

        server.start()
        wait_done(watch, timeout_s=JOB_TIMEOUT_S, alive=_exited(server))
        assert_cleaned_once(scenario, watch, at_kill, late)
        assert server.stop() == 0
    finally:
        watch.close()


# --- arq worker -----------------------------------------------------------------------------


def test_worker_killed_mid_cleanup_another_worker_finishes_the_job(
    start_server: StartServer,
    redis: RedisServer,
    workers: Workers,
) -> None:
    redis.start()
    server = start_server(start=False, env={"REGISTRY_SERVICE_REDIS_URL": redis.url})
    scenario = prepare_cleanup(server.data_dir)
    watch = JobWatch(scenario)
    try:
        server.start()  # only enqueues: the intent is already in the catalog, unenqueued
        first = workers(server.data_dir, redis.url, env=short_lease())
        at_kill = kill_mid_job(scenario, watch, first.kill, alive=first.died)
        assert_interrupted_mid_job(scenario, at_kill)
        assert at_kill.job.lease_expires_at is not None
        late = push_late_tags(scenario)

        second = workers(server.data_dir, redis.url, env=short_lease())
        # The dead worker's lease keeps the job from everyone until it expires.
        taken = watch.wait_for(
            lambda job: job.attempts > at_kill.job.attempts,
            timeout_s=TAKEOVER_TIMEOUT_S, what="a takeover by the second worker",
            interval_s=0.05, alive=second.died,
        )
        assert datetime.now(UTC) >= at_kill.job.lease_expires_at, taken.summary()
        assert taken.lease_owner != at_kill.job.lease_owner
        wait_done(watch, timeout_s=JOB_TIMEOUT_S, alive=second.died)
        assert_cleaned_once(scenario, watch, at_kill, late)
        assert second.running and server.running
    finally:
        watch.close()


def test_redis_restarted_mid_cleanup_the_job_still_completes(
    start_server: StartServer,
    redis: RedisServer,
    workers: Workers,
) -> None:
    redis.start()
    server = start_server(start=False, env={"REGISTRY_SERVICE_REDIS_URL": redis.url})
    scenario = prepare_cleanup(server.data_dir)
    watch = JobWatch(scenario)

    def restart_redis() -> None:
        # Down for longer than the worker's poll interval (0.5 s), as a real restart is:
        # the worker meets the dead connection and a refused reconnect, not just a new one.
        redis.stop()
        time.sleep(REDIS_DOWN_S)
        redis.start()

    try:
        server.start()
        worker = workers(server.data_dir, redis.url)
        at_restart = kill_mid_job(scenario, watch, restart_redis, alive=worker.died)
        assert_interrupted_mid_job(scenario, at_restart)

        wait_done(watch, timeout_s=JOB_TIMEOUT_S, alive=worker.died)
        assert_cleaned_once(scenario, watch, None, frozenset())
        # The worker never stopped: the attempt it was running went on to the end.
        assert watch.job().result["planned_at"] == at_restart.job.result["planned_at"]
        assert watch.job().attempts == at_restart.job.attempts == 1
        # ...and it is still there for the next job, after arq's own bookkeeping in Redis.
        time.sleep(REDIS_DOWN_S)
        assert worker.running, worker.output()
    finally:
        watch.close()


def test_cleanup_requested_while_redis_is_down_runs_when_it_is_back(
    start_server: StartServer,
    redis: RedisServer,
    workers: Workers,
) -> None:
    # ``redis`` is not started: its port is free, so connecting is refused.
    server = start_server(start=False, env={"REGISTRY_SERVICE_REDIS_URL": redis.url})
    scenario = prepare_cleanup(server.data_dir, submit=False)
    watch = JobWatch(scenario)
    try:
        server.start()
        answer = requests.delete(
            f"{server.url}/api/v4/projects/{scenario.project_id}/registry/repositories/"
            f"{scenario.repository_id}/tags",
            params=QUERY,
            headers={"PRIVATE-TOKEN": scenario.requester_token},
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        queued = watch.job()
        assert (queued.state, queued.attempts) == ("queued", 0), queued.summary()
        assert "not enqueued" in server.stderr

        redis.start()
        worker = workers(server.data_dir, redis.url)
        wait_done(watch, timeout_s=JOB_TIMEOUT_S, alive=worker.died)
        assert_cleaned_once(scenario, watch, None, frozenset())
        assert watch.job().attempts == 1
    finally:
        watch.close()


def short_lease() -> dict[str, str]:
    return {"REGISTRY_SERVICE_JOBS_LEASE_SECONDS": str(SHORT_LEASE_S)}


def _exited(server: RegistryServer) -> Callable[[], str | None]:
    def check() -> str | None:
        if server.running:
            return None
        return f"the server exited\n--- stderr ---\n{server.stderr[-4000:]}"

    return check
