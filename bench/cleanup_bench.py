"""Bulk tag cleanup of a 100,000-tag repository: registry-service's bulk-delete job against
deleting the same tags one by one through CNCF distribution 2.8.2's API (not run by the tests).

registry-service: 100,000 tags (one manifest each, created a minute apart) are written into the
catalog before ``serve`` starts; then ``DELETE /api/v4/projects/:id/registry/repositories/:rid/
tags?name_regex_delete=.*&keep_n=10000`` (GitLab's bulk delete, E6) enqueues the cleanup job,
and the clock runs from sending that request until the job row reads ``done`` (the catalog is
polled read-only every 5 ms). Meanwhile one client per endpoint requests the tags list in a
loop (``/v2/…/tags/list?n=100`` and GitLab's E5 ``…/tags?per_page=20``); the latencies of the
requests that overlap the job are compared with a baseline taken with no job running.

distribution: the same tags written into its filesystem storage, then the same 90 % deleted as
cleanup scripts do it: per tag, ``HEAD /v2/…/manifests/<tag>`` for the digest, then ``DELETE
/v2/…/manifests/<digest>``, a few requests in parallel. That takes far longer than any sane
run, so after a warm-up it runs for a time budget and the total is extrapolated. bench/README.md
explains each figure. Needs ``docker-registry`` on PATH.

    .venv/bin/python bench/cleanup_bench.py [--quick] [--tags 100000] [--dist-budget-s 120]
        [--runner in-process|arq]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from bench_tagseed import (
    MANIFEST_MEDIA_TYPE,
    SeededRepository,
    TagSet,
    default_now,
    seed_catalog_sync,
    write_distribution_layout,
)
from bench_targets import (
    StepFailed,
    Target,
    distribution_root,
    start_distribution,
    start_redis,
    start_seeded_registry_service,
)

from registry_service.catalog.db import CATALOG_FILENAME

VENV_BIN = Path(sys.executable).parent
TARGET_WALL_S = 2.0
JOB_POLL_S = 0.005
JOB_TIMEOUT_S = 600.0
HTTP_TIMEOUT_S = 120.0
# Scripts ask for both schema-2 types; distribution answers 404 to a HEAD of an OCI manifest
# whose Accept lacks the OCI type.
ACCEPT = f"{MANIFEST_MEDIA_TYPE}, application/vnd.docker.distribution.manifest.v2+json"
SERVE_ENV = {
    # No once-an-hour limit on the bulk delete (Decision 6), and no garbage collection
    # started by the runner while we measure (it would compete for the writer).
    "REGISTRY_SERVICE_CLEANUP_BULK_DELETE_INTERVAL_SECONDS": "0",
    "REGISTRY_SERVICE_GC_INTERVAL_SECONDS": "0",
}
JOB_QUERY = (
    "SELECT id, state, created_at, started_at, finished_at, counts, error FROM jobs"
    " WHERE kind = 'cleanup_tags' AND id > ? ORDER BY id DESC LIMIT 1"
)
JobRow = Mapping[str, Any]


class CatalogProbe(Protocol):
    """The bench's own look into the catalog of the registry it measures, beside the server:
    the cleanup job's row, and the tags before and after."""

    async def last_job_id(self) -> int: ...

    async def job_after(self, after_id: int) -> JobRow | None: ...

    async def tag_names(self) -> set[str]: ...

    async def close(self) -> None: ...


class SqliteProbe:
    """Reads the catalog file read-only (WAL: never in the server's way)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        self._conn.row_factory = sqlite3.Row

    async def last_job_id(self) -> int:
        return int(self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM jobs").fetchone()[0])

    async def job_after(self, after_id: int) -> JobRow | None:
        row: sqlite3.Row | None = self._conn.execute(JOB_QUERY, (after_id,)).fetchone()
        return None if row is None else dict(row)

    async def tag_names(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT name FROM tags")}

    async def close(self) -> None:
        self._conn.close()


@dataclass(frozen=True)
class Params:
    tags: int = 100_000
    keep_n: int = 10_000
    baseline_s: float = 3.0
    dist_budget_s: float = 120.0
    dist_concurrency: int = 4
    dist_warmup: int = 4
    runner: str = "in-process"  # or "arq": serve enqueues on Redis, one worker runs the job

    @property
    def deleted(self) -> int:
        return self.tags - self.keep_n


@dataclass(frozen=True)
class Latencies:
    """Latencies (ms) of the requests of one endpoint within a window."""

    label: str
    values: list[float]

    def pct(self, q: float) -> float:
        ordered = sorted(self.values)
        if not ordered:
            return float("nan")
        # Nearest rank: the smallest value with at least q of the samples at or below it.
        rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))
        return ordered[min(rank, len(ordered)) - 1]

    def summary(self) -> str:
        if not self.values:
            return "no requests"
        return (
            f"p50 {self.pct(0.50):6.1f}  p99 {self.pct(0.99):6.1f}  max {max(self.values):6.1f} ms"
            f"  ({len(self.values)} requests)"
        )


@dataclass
class OurResult:
    delete_answer_ms: float = 0.0
    wall_s: float = 0.0  # DELETE sent → job row seen 'done'
    job_s: float = 0.0  # the job's own started_at → finished_at
    queue_s: float = 0.0  # the job's created_at → started_at
    counts: str = ""
    during: list[Latencies] = field(default_factory=list)
    baseline: list[Latencies] = field(default_factory=list)
    remaining: int = 0


@dataclass
class DistResult:
    warmup: int = 0
    measured: int = 0
    measured_s: float = 0.0
    tags_at_start: int = 0
    complete: bool = False
    total_s: float = 0.0  # measured (complete) or extrapolated, cost ∝ tags present (low)
    flat_s: float = 0.0  # extrapolated at the measured rate (high)
    per_delete_ms: list[float] = field(default_factory=list)
    remaining: int = 0


@dataclass
class Run:
    params: Params
    checks: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self, what: str, ok: bool) -> None:
        self.checks.append((what, ok))
        print(f"  check: {what}: {'ok' if ok else 'FAILED'}", flush=True)


def load_note(when: str) -> str:
    one, five, _ = os.getloadavg()
    return f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


# --- registry-service -------------------------------------------------------------------------


def seed_ours(
    tag_set: TagSet, seeded: list[SeededRepository], timings: dict[str, float]
) -> Callable[[Path], None]:
    """The seed step run before ``serve``: the catalog's tags; the repository's ids and the
    time taken go into ``seeded`` and ``timings``."""

    def seed(data_dir: Path) -> None:
        started = time.perf_counter()
        seeded.append(seed_catalog_sync(data_dir, "bench/app", tag_set))
        timings["seed"] = time.perf_counter() - started

    return seed


class Loop:
    """One client requesting one URL back to back; (start, end, status) of each request."""

    def __init__(self, label: str, url: str, headers: dict[str, str]) -> None:
        self.label, self.url, self.headers = label, url, headers
        self.samples: list[tuple[float, float, int]] = []
        self._stop = asyncio.Event()

    async def run(self, session: aiohttp.ClientSession) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            async with session.get(self.url, headers=self.headers) as response:
                await response.read()
                status = response.status
            self.samples.append((started, time.perf_counter(), status))

    def stop(self) -> None:
        self._stop.set()

    def within(self, start: float, end: float) -> Latencies:
        """Requests overlapping [start, end] (ms)."""
        return Latencies(
            self.label, [(e - s) * 1000 for s, e, _ in self.samples if e >= start and s <= end]
        )

    def failures(self) -> list[int]:
        return [status for _, _, status in self.samples if status != 200]


def tag_list_loops(target: Target, seeded: SeededRepository) -> list[Loop]:
    token = target.creds[1] if target.creds else ""
    api = (
        f"{target.base_url}/api/v4/projects/{seeded.project_id}/registry/repositories/"
        f"{seeded.repository_id}/tags?per_page=20"
    )
    return [
        Loop(
            "/v2 tags/list?n=100",
            f"{target.base_url}/v2/{target.repo}/tags/list?n=100",
            target.auth_headers(),
        ),
        Loop("/api/v4 E5 tags?per_page=20", api, {"PRIVATE-TOKEN": token}),
    ]


async def run_loops(
    session: aiohttp.ClientSession, loops: list[Loop], seconds: float
) -> tuple[float, float]:
    tasks = [asyncio.create_task(loop.run(session)) for loop in loops]
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    end = time.perf_counter()
    for loop in loops:
        loop.stop()
    await asyncio.gather(*tasks)
    return start, end


def _seconds_between(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


async def check_manifests(
    session: aiohttp.ClientSession, target: Target, tag_set: TagSet, indexes: Sequence[int]
) -> bool:
    """GET a few seeded tags' manifests: the answer's digest header and bytes must match."""
    expected = {t.name: t.digest for t in tag_set.tags() if int(t.name[6:]) in set(indexes)}
    for name, digest in expected.items():
        url = f"{target.base_url}/v2/{target.repo}/manifests/{name}"
        async with session.get(url, headers=target.auth_headers() | {"Accept": ACCEPT}) as resp:
            body = await resp.read()
            got = resp.headers.get("Docker-Content-Digest")
            if resp.status != 200 or got != digest:
                print(f"    GET {name}: {resp.status} {got} (want {digest})")
                return False
            if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
                return False
    return True


async def measure_ours(
    run: Run,
    target: Target,
    seeded: SeededRepository,
    tag_set: TagSet,
    probe: CatalogProbe | None = None,
) -> OurResult:
    """Baseline tag lists, then the bulk delete with tag lists beside it; ``probe`` reads the
    catalog (by default the SQLite file in the server's data directory)."""
    params, result = run.params, OurResult()
    conn = probe or SqliteProbe(catalog_path(target))
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            ends = [0, params.tags // 2, params.tags - 1]
            run.check(
                "registry-service serves seeded manifests (first, middle, last tag)",
                await check_manifests(session, target, tag_set, ends),
            )
            total = len(await conn.tag_names())
            run.check(
                f"catalog holds {params.tags:,} tags before the cleanup", total == params.tags
            )

            print(f"  baseline: tag lists for {params.baseline_s:g} s, no job", flush=True)
            loops = tag_list_loops(target, seeded)
            start, end = await run_loops(session, loops, params.baseline_s)
            result.baseline = [loop.within(start, end) for loop in loops]
            run.check(
                "baseline tag lists all answered 200", not any(loop.failures() for loop in loops)
            )

            os.sync()
            run.notes.append(load_note("before the bulk delete"))
            loops = tag_list_loops(target, seeded)
            tasks = [asyncio.create_task(loop.run(session)) for loop in loops]
            await asyncio.sleep(0.3)  # the loops are in their stride before the clock starts
            sent, done, row = await bulk_delete(session, conn, target, seeded, params, result)
            await asyncio.sleep(0.1)
            for loop in loops:
                loop.stop()
            await asyncio.gather(*tasks)
            result.during = [loop.within(sent, done) for loop in loops]
            run.check(
                "tag lists during the job all answered 200",
                not any(loop.failures() for loop in loops),
            )
        result.wall_s = done - sent
        if row["state"] != "done":
            raise StepFailed(f"cleanup job {row['id']} failed: {row['error']}")
        result.job_s = _seconds_between(row["started_at"], row["finished_at"])
        result.queue_s = _seconds_between(row["created_at"], row["started_at"])
        result.counts = row["counts"]
        remaining = await conn.tag_names()
    finally:
        await conn.close()
    result.remaining = len(remaining)
    kept = set(tag_set.names()[params.deleted :])
    run.check(f"{params.keep_n:,} tags remain, the newest ones", remaining == kept)
    return result


async def bulk_delete(
    session: aiohttp.ClientSession,
    conn: CatalogProbe,
    target: Target,
    seeded: SeededRepository,
    params: Params,
    result: OurResult,
) -> tuple[float, float, JobRow]:
    """Send E6; poll the job row until it is done or failed. (sent, seen done, job row)."""
    last_id = await conn.last_job_id()
    url = (
        f"{target.base_url}/api/v4/projects/{seeded.project_id}/registry/repositories/"
        f"{seeded.repository_id}/tags?name_regex_delete={quote('.*')}&keep_n={params.keep_n}"
    )
    token = target.creds[1] if target.creds else ""
    print(f"  DELETE …/tags?name_regex_delete=.*&keep_n={params.keep_n}", flush=True)
    sent = time.perf_counter()
    async with session.delete(url, headers={"PRIVATE-TOKEN": token}) as response:
        body = await response.text()
        answered = time.perf_counter()
        if response.status != 202:
            raise StepFailed(f"bulk delete: HTTP {response.status}: {body[:500]}")
    result.delete_answer_ms = (answered - sent) * 1000
    while True:
        row = await conn.job_after(last_id)
        if row is not None and row["state"] in ("done", "failed"):
            return sent, time.perf_counter(), row
        if time.perf_counter() - sent > JOB_TIMEOUT_S:
            raise StepFailed(f"cleanup job not done after {JOB_TIMEOUT_S:.0f} s")
        await asyncio.sleep(JOB_POLL_S)


def catalog_path(target: Target) -> Path:
    """registry-service's catalog file (its data dir is ``data`` beside the log)."""
    return target.log_path.parent / "data" / CATALOG_FILENAME


# --- distribution -----------------------------------------------------------------------------


async def dist_tags(session: aiohttp.ClientSession, target: Target) -> list[str]:
    # 2.8.2 answers the whole list whatever ``n`` is (and unsorted).
    async with session.get(f"{target.base_url}/v2/{target.repo}/tags/list") as response:
        if response.status != 200:
            raise StepFailed(f"distribution tags/list: HTTP {response.status}")
        return list((await response.json())["tags"] or [])


async def delete_one(session: aiohttp.ClientSession, target: Target, tag: str) -> float:
    """HEAD the tag for its digest, DELETE the manifest by digest; seconds taken."""
    base = f"{target.base_url}/v2/{target.repo}/manifests"
    started = time.perf_counter()
    async with session.head(f"{base}/{tag}", headers={"Accept": ACCEPT}) as response:
        digest = response.headers.get("Docker-Content-Digest")
        if response.status != 200 or not digest:
            raise StepFailed(f"HEAD {tag}: HTTP {response.status}")
    async with session.delete(f"{base}/{digest}") as response:
        await response.read()
        if response.status != 202:
            raise StepFailed(f"DELETE {tag} ({digest}): HTTP {response.status}")
    return time.perf_counter() - started


async def delete_many(
    session: aiohttp.ClientSession,
    target: Target,
    tags: Sequence[str],
    concurrency: int,
    deadline: float | None,
) -> list[float]:
    """Delete ``tags`` in order with ``concurrency`` workers; a worker starts no new deletion
    after ``deadline``. Returns each finished deletion's seconds."""
    queue = iter(tags)
    times: list[float] = []

    async def worker() -> None:
        for tag in queue:
            times.append(await delete_one(session, target, tag))
            if deadline is not None and time.perf_counter() >= deadline:
                return

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return times


def tag_sum(top: int, count: int) -> int:
    """top + (top-1) + … over ``count`` terms: tag-scans of ``count`` deletions from ``top``."""
    return count * top - count * (count - 1) // 2


async def measure_distribution(run: Run, target: Target, tag_set: TagSet) -> DistResult:
    params, result = run.params, DistResult()
    to_delete = tag_set.names()[: params.deleted]  # oldest first, as ours (keep_n = newest)
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S * 10)
    connector = aiohttp.TCPConnector(limit=params.dist_concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        run.check(
            "distribution serves seeded manifests (first, middle, last tag)",
            await check_manifests(session, target, tag_set, [0, params.tags // 2, params.tags - 1]),
        )
        listed = await dist_tags(session, target)
        run.check(f"distribution lists {params.tags:,} tags", sorted(listed) == tag_set.names())
        os.sync()
        run.notes.append(load_note("before distribution's deletions"))
        warm = min(params.dist_warmup, len(to_delete))
        print(f"  warm-up: {warm} deletions, {params.dist_concurrency} at a time", flush=True)
        await delete_many(session, target, to_delete[:warm], params.dist_concurrency, None)
        result.warmup = warm
        result.tags_at_start = params.tags - warm
        print(f"  deleting one by one for up to {params.dist_budget_s:g} s …", flush=True)
        start = time.perf_counter()
        times = await delete_many(
            session,
            target,
            to_delete[warm:],
            params.dist_concurrency,
            start + params.dist_budget_s,
        )
        result.measured_s = time.perf_counter() - start
        result.measured = len(times)
        result.per_delete_ms = [t * 1000 for t in times]
        result.complete = warm + result.measured == len(to_delete)
        deleted_names = to_delete[: warm + result.measured]
        # Each deletion scans every tag still there, so its cost is taken as proportional to
        # the tags present: the low estimate. The measured rate kept up throughout: the high one.
        per_tag_scan = result.measured_s / tag_sum(result.tags_at_start, result.measured)
        if result.complete:
            result.total_s = result.flat_s = result.measured_s
        else:
            result.total_s = per_tag_scan * tag_sum(params.tags, len(to_delete))
            result.flat_s = result.measured_s / result.measured * len(to_delete)
        remaining = await dist_tags(session, target)
        result.remaining = len(remaining)
        gone = set(deleted_names)
        run.check(
            f"distribution: the {len(deleted_names):,} deleted tags are gone, the others listed",
            set(remaining) == set(tag_set.names()) - gone,
        )
        base = f"{target.base_url}/v2/{target.repo}/manifests"
        async with session.head(f"{base}/{deleted_names[-1]}", headers={"Accept": ACCEPT}) as r:
            run.check(f"distribution: HEAD {deleted_names[-1]} (deleted) is 404", r.status == 404)
    return result


# --- report -----------------------------------------------------------------------------------


def print_report(
    run: Run, ours: OurResult | None, dist: DistResult | None, timings: dict[str, float]
) -> None:
    p = run.params
    share = f"{p.deleted:,} of {p.tags:,} tags"
    rows: list[tuple[str, str]] = []
    if ours is not None:
        verdict = "met" if ours.wall_s < TARGET_WALL_S else "MISSED"
        runner = (
            "one `registry-service worker` (arq, Redis)" if p.runner == "arq"
            else "serve's in-process runner"
        )
        rows += [
            ("registry-service: jobs run by", runner),
            ("registry-service: bulk DELETE answered 202 (ms)", f"{ours.delete_answer_ms:.1f}"),
            (
                f"registry-service: delete {share}, DELETE sent → job done (s)",
                f"{ours.wall_s:.2f}  (target < {TARGET_WALL_S:g} s: {verdict})",
            ),
            ("registry-service: the job's own started_at → finished_at (s)", f"{ours.job_s:.2f}"),
            ("registry-service: job created_at → started_at (s)", f"{ours.queue_s:.3f}"),
        ]
        for base, during in zip(ours.baseline, ours.during, strict=True):
            rows += [
                (f"{during.label}: baseline, no job", base.summary()),
                (f"{during.label}: during the job", during.summary()),
            ]
    if dist is not None:
        rate = dist.measured / dist.measured_s if dist.measured_s else float("nan")
        median = statistics.median(dist.per_delete_ms) if dist.per_delete_ms else float("nan")
        rows += [
            (
                f"distribution: HEAD+DELETE per tag, {p.dist_concurrency} in parallel",
                f"{dist.measured:,} deletions in {dist.measured_s:.1f} s"
                f" after {dist.warmup} warm-up = {rate:.3f}/s;"
                f" each {median:.0f} ms median at ~{dist.tags_at_start:,} tags",
            ),
        ]
        if dist.complete:
            rows.append((f"distribution: delete {share} (s, measured)", f"{dist.total_s:.1f}"))
        else:
            rows += [
                (
                    f"distribution: delete {share} (s, EXTRAPOLATED from {dist.measured:,})",
                    f"{dist.total_s:,.0f} ≈ {dist.total_s / 3600:.1f} h  (cost ∝ tags left: low)",
                ),
                (
                    "distribution: same, at the measured rate throughout (s)",
                    f"{dist.flat_s:,.0f} ≈ {dist.flat_s / 3600:.1f} h  (high)",
                ),
            ]
    if ours is not None and dist is not None and ours.wall_s > 0:
        rows.append(
            (
                "ratio distribution ÷ registry-service (> 1: registry-service faster)",
                f"{dist.total_s / ours.wall_s:,.0f}"
                + ("" if dist.complete else " (from the low distribution estimate)"),
            )
        )
    width = max(len(label) for label, _ in rows) + 2
    print()
    print("| " + "what".ljust(width) + "| value")
    print("|" + "-" * (width + 1) + "|" + "-" * 60)
    for label, value in rows:
        print("| " + label.ljust(width) + "| " + value)
    print()
    for key, seconds in timings.items():
        print(f"seeding: {key}: {seconds:.1f} s")
    if ours is not None:
        print(f"registry-service job counts: {ours.counts}; tags left: {ours.remaining:,}")
    if dist is not None:
        print(f"distribution tags left: {dist.remaining:,}")
    for note in run.notes:
        print(note)
    failed = [what for what, ok in run.checks if not ok]
    print(
        f"checks: {len(run.checks) - len(failed)} of {len(run.checks)} passed"
        + ("" if not failed else "; FAILED: " + "; ".join(failed))
    )


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Params, str | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="20,000 tags, 30 s distribution budget (~2 min)"
    )
    parser.add_argument("--tags", type=int, help="tags in the repository (default 100000)")
    parser.add_argument("--keep-n", type=int, help="keep_n (default a tenth of --tags)")
    parser.add_argument(
        "--dist-budget-s",
        type=float,
        help="seconds of timed deletions on distribution (default 120)",
    )
    parser.add_argument("--dist-concurrency", type=int, default=4)
    parser.add_argument("--baseline-s", type=float, default=3.0)
    parser.add_argument("--only", choices=["registry-service", "distribution"])
    parser.add_argument(
        "--runner",
        choices=["in-process", "arq"],
        default="in-process",
        help="who runs registry-service's job: serve itself (default), or an arq worker on a"
        " redis-server the bench starts",
    )
    args = parser.parse_args(argv)
    tags = args.tags or (20_000 if args.quick else 100_000)
    budget = args.dist_budget_s or (30.0 if args.quick else 120.0)
    keep_n = args.keep_n if args.keep_n is not None else tags // 10
    if not 0 <= keep_n < tags:
        parser.error("--keep-n must be below --tags")
    params = Params(
        tags=tags,
        keep_n=keep_n,
        baseline_s=args.baseline_s,
        dist_budget_s=budget,
        dist_concurrency=args.dist_concurrency,
        runner=args.runner,
    )
    return params, args.only


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the ExitStack: servers stopped, temp dirs removed


def main(argv: Sequence[str] | None = None) -> int:
    params, only = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    run = Run(params)
    run.notes.append(load_note("at start"))
    tag_set = TagSet(params.tags, default_now())
    timings: dict[str, float] = {}
    ours: OurResult | None = None
    dist: DistResult | None = None
    print(
        f"{params.tags:,} tags, delete all but the newest {params.keep_n:,} ({params.deleted:,})",
        flush=True,
    )
    with ExitStack() as stack:
        if only in (None, "registry-service"):
            print("registry-service: seeding the catalog, then serve …", flush=True)
            seeded: list[SeededRepository] = []
            env, workers = dict(SERVE_ENV), 0
            if params.runner == "arq":
                env["REGISTRY_SERVICE_REDIS_URL"], workers = start_redis(stack), 1
            target = start_seeded_registry_service(
                stack, VENV_BIN, seed_ours(tag_set, seeded, timings), env, workers=workers
            )
            timings["registry-service catalog"] = timings.pop("seed")
            print(f"registry-service at {target.base_url} (pid {target.pid})", flush=True)
            try:
                ours = asyncio.run(measure_ours(run, target, seeded[0], tag_set))
            except (StepFailed, aiohttp.ClientError, TimeoutError) as exc:
                run.check(f"registry-service: {exc}", False)
                print(target.log_tail(), flush=True)
        if only in (None, "distribution"):
            target = start_distribution(stack)
            print(
                f"distribution at {target.base_url} (pid {target.pid}): writing its storage …",
                flush=True,
            )
            started = time.perf_counter()
            write_distribution_layout(distribution_root(target), target.repo, tag_set)
            timings["distribution filesystem"] = time.perf_counter() - started
            try:
                dist = asyncio.run(measure_distribution(run, target, tag_set))
            except (StepFailed, aiohttp.ClientError, TimeoutError) as exc:
                run.check(f"distribution: {exc}", False)
                print(target.log_tail(), flush=True)
        print_report(run, ours, dist, timings)
    return 0 if all(ok for _, ok in run.checks) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temp dirs removed", file=sys.stderr)
        sys.exit(130)
