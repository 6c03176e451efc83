"""A 50,000-tag cleanup job waiting in a data directory, and what the crash tests watch it with.

``prepare_cleanup(data_dir)`` writes, through the catalog and the services in the test process
(the data directory's SQLite file, or with ``catalog_url=`` a PostgreSQL database), a project
``crash/big`` whose repository has 50,000 tags with distinct dates, an administrator to request
the cleanup, and the cleanup job's intent (``submit_job`` with ``NO_RUNNER``, so it
is queued before any runner exists). It returns the tag set an uninterrupted run leaves,
computed with the pure planner. The dates are relative to the real clock, with wide gaps around
every boundary the rules draw (``keep_n`` and ``older_than``), so the plan the job makes a
minute later is the same one.

``JobWatch`` reads the job row and the tags from the catalog file with a plain read-only
``sqlite3`` connection (safe beside a running server or worker: WAL). ``WorkerProcess`` runs
``registry-service worker`` as a child process, as ``RegistryServer`` runs ``serve``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from jobs.cleanup import CleanupRules, TagInfo, plan_cleanup
from jobs.tag_cleanup import BATCH
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.db import Catalog, format_time
from registry_service.catalog.opening import open_catalog
from registry_service.catalog.protocols import CatalogBackend
from registry_service.services.job_data import CleanupParams
from registry_service.services.jobs import NO_RUNNER, submit_job
from registry_service.settings import load
from tests.e2e.server import REPO_ROOT, STOP_TIMEOUT_S, base_env
from tests.factories import Factory
from tests.jobs.tagsets import SeedTag, make_repository, seed_tags

TAG_COUNT = 50_000
RELEASES = 2_000  # old, but kept by name_regex_keep
RECENT = 8_000  # newer than older_than: KEEP_N_COUNT of them by keep_n, the rest by age
KEEP_N_COUNT = 3_000
OLD = TAG_COUNT - 1 - RELEASES - RECENT  # "latest" is the 1; every old build is deleted
OLDER_THAN = "7d"
PARAMS = CleanupParams(
    name_regex_delete=".*",
    name_regex_keep="release-.*",
    keep_n=KEEP_N_COUNT,
    older_than=OLDER_THAN,
)
# No tag is dated within this much of a boundary, so a plan made this much later (or
# earlier) than ``prepare_cleanup`` ran is the same plan.
MARGIN = timedelta(hours=6)
PROJECT_PATH = "crash/big"


# PARAMS as the bulk delete's query (anchoring is the server's setting, not a parameter).
QUERY = {
    name: str(value)
    for name, value in PARAMS.to_json().items()
    if value is not None and name != "anchoring"
}


def rules() -> CleanupRules:
    return PARAMS.rules()


def cleanup_tags(now: datetime) -> list[SeedTag]:
    """The 50,000 tags, every one with its own creation and push second.

    Recent builds are created between ``now - 1 h`` and ``now - 1 h - 8000 min`` (~5.6 days,
    so all newer than the 7-day cutoff by more than MARGIN); old builds and releases from
    ``now - 8 days`` back, interleaved (every fifth old date is a release). Names are not in
    date order, so the deletion batches (oldest first) are spread over the name space.
    """
    tags = [SeedTag("latest", now - timedelta(minutes=30), now - timedelta(minutes=30))]
    for i in range(RECENT):
        created = now - timedelta(hours=1) - timedelta(minutes=i)
        tags.append(SeedTag(f"build-{(i * 7919) % RECENT:05d}-r", created, created))
    old_start = now - timedelta(days=8)
    release = build = 0
    for i in range(RELEASES + OLD):
        created = old_start - timedelta(minutes=i)
        if i % 5 == 0 and release < RELEASES:
            tags.append(SeedTag(f"release-{release:05d}", created, created))
            release += 1
        else:
            tags.append(SeedTag(f"build-{(build * 7919) % OLD:05d}-o", created, created))
            build += 1
    assert len(tags) == TAG_COUNT and len({t.name for t in tags}) == TAG_COUNT
    return tags


def expected_remaining(tags: list[SeedTag], now: datetime) -> frozenset[str]:
    """What an uninterrupted run planned at ``now`` leaves; checked to be the same for a plan
    made MARGIN earlier or later."""
    infos = [TagInfo(t.name, t.created, t.pushed) for t in tags]
    plans = {
        frozenset(plan_cleanup(infos, rules(), at).delete)
        for at in (now - MARGIN, now, now + MARGIN)
    }
    assert len(plans) == 1, "the plan depends on when the job starts: widen the margins"
    deleted = plans.pop()
    return frozenset(t.name for t in tags) - deleted


@dataclass(frozen=True)
class CleanupScenario:
    data_dir: Path
    job_id: int | None  # None until the cleanup is requested (``submit=False``)
    project_id: int
    repository_id: int
    requester_token: str  # an administrator's API token (``PRIVATE-TOKEN``)
    all_tags: frozenset[str]
    expected: frozenset[str]  # the tags an uninterrupted run leaves
    tags: tuple[SeedTag, ...] = field(repr=False, default=())

    @property
    def planned(self) -> int:
        return len(self.all_tags) - len(self.expected)


async def open_scenario_catalog(data_dir: Path, catalog_url: str) -> CatalogBackend:
    """The data directory's SQLite catalog, or the database ``catalog_url`` names."""
    if not catalog_url:
        return await Catalog.open_in(data_dir)
    return await open_catalog(
        load(
            None,
            {
                "REGISTRY_SERVICE_DATA_DIR": str(data_dir),
                "REGISTRY_SERVICE_CATALOG_URL": catalog_url,
            },
        )
    )


async def copy_tags(catalog_url: str, repository_id: int, tags: list[SeedTag]) -> None:
    """What ``seed_tags`` writes (one manifest per tag, then the tags), in two statements over
    arrays: row by row through the catalog's writer, 100,000 round trips to PostgreSQL take
    minutes on this machine, and the 50,000-tag tests need their tags in seconds."""
    manifests = [
        (
            "sha256:" + hashlib.sha256(f"{repository_id}/{tag.name}".encode()).hexdigest(),
            tag.name.encode(),
            format_time(tag.created) if tag.created else None,
            format_time(tag.pushed),
        )
        for tag in tags
    ]
    conn = await asyncpg.connect(catalog_url)
    try:
        async with conn.transaction():
            rows = await conn.fetch(
                "INSERT INTO manifests (repository_id, digest, media_type, payload, size_bytes,"
                " image_created_at, total_size_bytes, created_at)"
                " SELECT $1, d, 'application/vnd.oci.image.manifest.v1+json', p, length(p), c, 0,"
                " pu FROM unnest($2::text[], $3::bytea[], $4::text[], $5::text[]) AS u(d, p, c, pu)"
                " RETURNING id, payload",
                repository_id, *(list(column) for column in zip(*manifests, strict=True)),
            )
            manifest_id = {bytes(r["payload"]).decode(): r["id"] for r in rows}
            await conn.execute(
                "INSERT INTO tags (repository_id, name, manifest_id, pushed_at)"
                " SELECT $1, n, m, pu FROM unnest($2::text[], $3::bigint[], $4::text[])"
                " AS u(n, m, pu)",
                repository_id,
                [t.name for t in tags],
                [manifest_id[t.name] for t in tags],
                [format_time(t.pushed) for t in tags],
            )
    finally:
        await conn.close()


async def _prepare(
    data_dir: Path, now: datetime, submit: bool, catalog_url: str
) -> CleanupScenario:
    catalog = await open_scenario_catalog(data_dir, catalog_url)
    try:
        factory = Factory(catalog, now)
        requester = await factory.user("cleaner", admin=True)
        repository = await make_repository(factory, PROJECT_PATH)
        tags = cleanup_tags(now)
        if catalog_url:
            await copy_tags(catalog_url, repository.id, tags)
        else:
            await seed_tags(catalog, repository, tags)
        job_id = (
            await submit_job(
                catalog, NO_RUNNER, PARAMS,
                requester_id=requester.user.id, project_id=repository.project_id,
                repository_id=repository.id, now=now,
            )
            if submit
            else None
        )
    finally:
        await catalog.close()
    return CleanupScenario(
        data_dir=data_dir,
        job_id=job_id,
        project_id=repository.project_id,
        repository_id=repository.id,
        requester_token=requester.token,
        all_tags=frozenset(t.name for t in tags),
        expected=expected_remaining(tags, now),
        tags=tuple(tags),
    )


def prepare_cleanup(
    data_dir: Path, *, submit: bool = True, catalog_url: str = ""
) -> CleanupScenario:
    """Seed the repository and (unless ``submit`` is off) queue its cleanup; no runner is
    around yet. ``catalog_url`` names a PostgreSQL catalog to seed instead of the data
    directory's SQLite file."""
    scenario = asyncio.run(_prepare(data_dir, datetime.now(UTC), submit, catalog_url))
    # The numbers the tests rely on: ~40,000 deletions over several batches (the kill comes
    # after the first, with most of the plan still to do), and every rule keeping something.
    assert scenario.planned == OLD and scenario.planned > 3 * BATCH
    assert {"latest", "release-00000", "build-00000-r", "build-07999-r"} <= scenario.expected
    return scenario


LATE_TAGS = 50


async def _push_late_tags(scenario: CleanupScenario, now: datetime) -> frozenset[str]:
    catalog = await Catalog.open_in(scenario.data_dir)
    try:
        repository = await repository_rows.select_repository_by_id(
            catalog.reader, scenario.repository_id
        )
        assert repository is not None
        late = [
            SeedTag(f"late-{i:03d}", now - timedelta(days=30 + i), now) for i in range(LATE_TAGS)
        ]
        await seed_tags(catalog, repository, late)
    finally:
        await catalog.close()
    return frozenset(t.name for t in late)


def push_late_tags(scenario: CleanupScenario) -> frozenset[str]:
    """Tags pushed after the job made its plan (while its runner was dead), of images built a
    month ago. The plan does not name them, so the resumed job must leave them; a job that
    planned again instead would delete every one (old, and outside keep_n)."""
    return asyncio.run(_push_late_tags(scenario, datetime.now(UTC)))


# --- watching the job -----------------------------------------------------------------------


@dataclass(frozen=True)
class JobState:
    state: str
    counts: dict[str, Any]
    result: dict[str, Any]
    error: str | None
    attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None

    @property
    def processed(self) -> int:
        return int(self.counts.get("processed", 0))

    @property
    def has_plan(self) -> bool:
        return "plan" in self.result

    def summary(self) -> str:
        return (
            f"state={self.state} attempts={self.attempts} counts={self.counts} "
            f"error={self.error!r} owner={self.lease_owner!r}"
        )


class JobWatch:
    """Reads one job and one repository's tags from the catalog file (read-only)."""

    def __init__(self, scenario: CleanupScenario) -> None:
        self.scenario = scenario
        self._job_id = scenario.job_id
        self._db = sqlite3.connect(
            f"file:{scenario.data_dir / 'registry.sqlite3'}?mode=ro", uri=True, timeout=10
        )

    def close(self) -> None:
        self._db.close()

    def job(self, *, with_result: bool = True) -> JobState:
        """The job row; ``with_result=False`` skips the result (the saved plan is ~1 MB of
        JSON) for tight polling."""
        row = self._db.execute(
            f"SELECT state, counts, {'result' if with_result else 'NULL'}, error, attempts,"
            " lease_owner, lease_expires_at FROM jobs WHERE id = ?",
            (self.job_id,),
        ).fetchone()
        assert row is not None, f"job {self.job_id} is gone"
        state, counts, result, error, attempts, owner, expires = row
        return JobState(
            state, json.loads(counts or "{}"), json.loads(result or "{}"), error, attempts,
            owner, datetime.fromisoformat(expires) if expires else None,
        )

    def light_job(self) -> JobState:
        return self.job(with_result=False)

    @property
    def job_id(self) -> int:
        if self._job_id is None:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE repository_id = ?", (self.scenario.repository_id,)
            ).fetchall()
            assert len(rows) == 1, f"expected one cleanup job, found {rows}"
            self._job_id = int(rows[0][0])
        return self._job_id

    def jobs_of_repository(self) -> list[tuple[int, str, str]]:
        """(id, kind, state) of every job on the repository."""
        return [
            (int(r[0]), str(r[1]), str(r[2]))
            for r in self._db.execute(
                "SELECT id, kind, state FROM jobs WHERE repository_id = ? ORDER BY id",
                (self.scenario.repository_id,),
            )
        ]

    def tags(self) -> frozenset[str]:
        rows = self._db.execute(
            "SELECT name FROM tags WHERE repository_id = ?", (self.scenario.repository_id,)
        ).fetchall()
        return frozenset(r[0] for r in rows)

    def tag_count(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM tags WHERE repository_id = ?", (self.scenario.repository_id,)
        ).fetchone()
        return int(row[0])

    def wait_for(
        self,
        condition: Callable[[JobState], bool],
        *,
        timeout_s: float,
        what: str,
        interval_s: float = 0.005,
        alive: Callable[[], str | None] = lambda: None,
    ) -> JobState:
        """Poll the job (without its result) until ``condition``; ``alive`` returns a reason
        to give up early (a process that died)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.light_job()
            if condition(job):
                return job
            dead = alive()
            if dead is not None:
                raise AssertionError(f"waiting for {what}: {dead}; job: {job.summary()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout_s}s waiting for {what}; job: {job.summary()}"
                )
            time.sleep(interval_s)


class WriteHold:
    """The catalog's write lock, taken from the test process (``BEGIN IMMEDIATE``).

    While it is held the job cannot commit its next batch: its progress stands still, so the
    test can read how far it got and kill the process at exactly that point. Release it
    (``rollback``) right after the kill; a killed process holds nothing, so nothing waits.
    """

    def __init__(self, data_dir: Path) -> None:
        self._db = sqlite3.connect(
            data_dir / "registry.sqlite3", isolation_level=None, timeout=30
        )

    def __enter__(self) -> WriteHold:
        self._db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.execute("ROLLBACK")
        self._db.close()


# --- the worker process ---------------------------------------------------------------------


@dataclass
class WorkerProcess:
    """One ``registry-service worker`` (arq) at a time on ``data_dir`` and ``redis_url``."""

    workdir: Path
    data_dir: Path
    redis_url: str
    extra_env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def env(self) -> dict[str, str]:
        return {
            "REGISTRY_SERVICE_DATA_DIR": str(self.data_dir),
            "REGISTRY_SERVICE_REDIS_URL": self.redis_url,
            **self.extra_env,
        }

    @property
    def log_path(self) -> Path:
        return self.workdir / f"worker-{self.starts}.log"

    def start(self) -> None:
        if self.running:
            raise RuntimeError("the worker is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "registry_service", "worker"],
                env=base_env(self.env), cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def died(self) -> str | None:
        """Why the current worker is not running (None while it is)."""
        if self.process is None or self.running:
            return None
        return f"the worker exited with {self.process.returncode}\n{self.output()}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> int:
        if not self.running:
            return self.process.returncode if self.process else 0
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> int:
        if not self.running:
            return self.process.returncode if self.process else 0
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return self.kill()
