"""The 100,000-tag bulk cleanup of ``cleanup_bench.py`` on a PostgreSQL catalog, beside the
same run on SQLite, in one go (not run by the tests).

Each backend gets its own ``serve`` and the same repository: the catalog is seeded into a SQLite
file exactly as ``cleanup_bench`` does. For PostgreSQL that file is then copied with
``registry-service migrate-catalog`` (timed, and its verification must pass) into a database of
a throwaway cluster (``tests/postgres_server.py``, durable: ``fsync`` and ``synchronous_commit``
on, as the SQLite catalog runs with ``synchronous = FULL``), and ``serve`` runs with
``REGISTRY_SERVICE_CATALOG_URL`` pointing at it. Then ``cleanup_bench.measure_ours`` does the
rest on both: baseline tag lists, the bulk DELETE with tag lists beside it, the job's row polled
every 5 ms (through asyncpg for PostgreSQL), the newest ``keep_n`` tags left.

    .venv/bin/python bench/postgres_cleanup_bench.py [--quick] [--tags 100000]
        [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import asyncpg
from bench_tagseed import SeededRepository, TagSet, default_now
from bench_targets import StepFailed, Target, start_seeded_registry_service
from cleanup_bench import (
    JOB_QUERY,
    SERVE_ENV,
    VENV_BIN,
    JobRow,
    OurResult,
    Params,
    Run,
    _exit_on_sigterm,
    load_note,
    measure_ours,
    seed_ours,
)

from registry_service.catalog.db import CATALOG_FILENAME

# tests/postgres_server.py is the one place that knows how to run a throwaway cluster here
# (as the postgres user under root); the bench runs from the repository, so it is importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.postgres_server import PostgresServer

TARGET_WALL_S = 5.0
BACKENDS = ("sqlite", "postgresql")


class PostgresProbe:
    """``cleanup_bench.CatalogProbe`` over asyncpg: the job row and the tags in PostgreSQL."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @classmethod
    async def connect(cls, url: str) -> PostgresProbe:
        return cls(await asyncpg.connect(url))

    async def last_job_id(self) -> int:
        return int(await self._conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM jobs"))

    async def job_after(self, after_id: int) -> JobRow | None:
        row = await self._conn.fetchrow(JOB_QUERY.replace("?", "$1"), after_id)
        return None if row is None else dict(row)

    async def tag_names(self) -> set[str]:
        return {r[0] for r in await self._conn.fetch("SELECT name FROM tags")}

    async def close(self) -> None:
        await self._conn.close()


def seed_then_copy(
    tag_set: TagSet,
    seeded: list[SeededRepository],
    timings: dict[str, float],
    url: str | None,
) -> Callable[[Path], None]:
    """cleanup_bench's seed step, then (with ``url``) the copy into PostgreSQL."""
    seed_sqlite = seed_ours(tag_set, seeded, timings)

    def seed(data_dir: Path) -> None:
        seed_sqlite(data_dir)
        if url is None:
            return
        started = time.perf_counter()
        copy = subprocess.run(
            [
                str(VENV_BIN / "registry-service"),
                "migrate-catalog",
                "--from",
                f"sqlite://{data_dir.resolve() / CATALOG_FILENAME}",
                "--to",
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        timings["migrate-catalog (copy and verify)"] = time.perf_counter() - started
        if copy.returncode != 0:
            raise StepFailed(f"migrate-catalog failed:\n{copy.stdout}\n{copy.stderr}")
        print("  " + copy.stdout.strip().splitlines()[-1], flush=True)

    return seed


async def measure(
    run: Run, target: Target, seeded: SeededRepository, tag_set: TagSet, url: str | None
) -> OurResult:
    probe = await PostgresProbe.connect(url) if url else None
    return await measure_ours(run, target, seeded, tag_set, probe)


def run_backend(
    stack: ExitStack, run: Run, backend: str, tag_set: TagSet, timings: dict[str, float]
) -> OurResult | None:
    url = None
    env = dict(SERVE_ENV)
    if backend == "postgresql":
        server = PostgresServer(durable=True)
        stack.callback(server.stop)
        server.start()
        url = server.create_database(migrated=False)
        env["REGISTRY_SERVICE_CATALOG_URL"] = url
    print(f"{backend}: seeding the catalog, then serve …", flush=True)
    seeded: list[SeededRepository] = []
    try:
        target = start_seeded_registry_service(
            stack, VENV_BIN, seed_then_copy(tag_set, seeded, timings, url), env
        )
    except StepFailed as exc:
        run.check(f"{backend}: {exc}", False)
        return None
    timings[f"{backend}: seed"] = timings.pop("seed")
    try:
        return asyncio.run(measure(run, target, seeded[0], tag_set, url))
    except (StepFailed, aiohttp.ClientError, TimeoutError) as exc:
        run.check(f"{backend}: {exc}", False)
        print(target.log_tail(), flush=True)
        return None


def print_report(run: Run, results: dict[str, OurResult], timings: dict[str, float]) -> None:
    p = run.params
    share = f"{p.deleted:,} of {p.tags:,} tags"
    rows: list[tuple[str, str]] = []
    for backend, ours in results.items():
        verdict = "met" if ours.wall_s < TARGET_WALL_S else "MISSED"
        target = f"  (target < {TARGET_WALL_S:g} s: {verdict})" if backend == "postgresql" else ""
        rows += [
            (f"{backend}: bulk DELETE answered 202 (ms)", f"{ours.delete_answer_ms:.1f}"),
            (
                f"{backend}: delete {share}, DELETE sent → job done (s)",
                f"{ours.wall_s:.2f}{target}",
            ),
            (f"{backend}: the job's own started_at → finished_at (s)", f"{ours.job_s:.2f}"),
            (f"{backend}: job created_at → started_at (s)", f"{ours.queue_s:.3f}"),
        ]
        for base, during in zip(ours.baseline, ours.during, strict=True):
            rows += [
                (f"{backend}: {during.label}: baseline", base.summary()),
                (f"{backend}: {during.label}: during the job", during.summary()),
            ]
    if set(results) == set(BACKENDS) and results["sqlite"].wall_s > 0:
        ratio = results["postgresql"].wall_s / results["sqlite"].wall_s
        rows.append(("postgresql ÷ sqlite, DELETE sent → job done", f"{ratio:.2f}"))
    width = max(len(label) for label, _ in rows) + 2 if rows else 10
    print()
    print("| " + "what".ljust(width) + "| value")
    print("|" + "-" * (width + 1) + "|" + "-" * 60)
    for label, value in rows:
        print("| " + label.ljust(width) + "| " + value)
    print()
    for key, seconds in timings.items():
        print(f"{key}: {seconds:.1f} s")
    for backend, ours in results.items():
        print(f"{backend} job counts: {ours.counts}; tags left: {ours.remaining:,}")
    for note in run.notes:
        print(note)
    failed = [what for what, ok in run.checks if not ok]
    print(
        f"checks: {len(run.checks) - len(failed)} of {len(run.checks)} passed"
        + ("" if not failed else "; FAILED: " + "; ".join(failed))
    )


def parse_args(argv: Sequence[str] | None) -> tuple[Params, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 tags")
    parser.add_argument("--tags", type=int, help="tags in the repository (default 100000)")
    parser.add_argument("--keep-n", type=int, help="keep_n (default a tenth of --tags)")
    parser.add_argument("--baseline-s", type=float, default=3.0)
    parser.add_argument("--only", choices=BACKENDS)
    args = parser.parse_args(argv)
    tags = args.tags or (20_000 if args.quick else 100_000)
    keep_n = args.keep_n if args.keep_n is not None else tags // 10
    if not 0 <= keep_n < tags:
        parser.error("--keep-n must be below --tags")
    backends = [args.only] if args.only else list(BACKENDS)
    return Params(tags=tags, keep_n=keep_n, baseline_s=args.baseline_s), backends


def main(argv: Sequence[str] | None = None) -> int:
    params, backends = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    run = Run(params)
    run.notes.append(load_note("at start"))
    tag_set = TagSet(params.tags, default_now())
    timings: dict[str, float] = {}
    results: dict[str, OurResult] = {}
    print(
        f"{params.tags:,} tags, delete all but the newest {params.keep_n:,} ({params.deleted:,})",
        flush=True,
    )
    with ExitStack() as stack:
        for backend in backends:
            result = run_backend(stack, run, backend, tag_set, timings)
            if result is not None:
                results[backend] = result
            run.notes.append(load_note(f"after {backend}"))
        print_report(run, results, timings)
    return 0 if all(ok for _, ok in run.checks) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temp dirs removed", file=sys.stderr)
        sys.exit(130)
