"""Manifest GET req/s with ``serve --workers 1`` against ``--workers 2`` (SQLite or PostgreSQL).

Each round starts a fresh registry-service with ``--workers 1`` and then one with
``--workers 2`` (one at a time: clients and servers share the CPUs), pushes a small image, and
loads ``GET /v2/bench/app/manifests/latest`` with ``wrk`` (HTTP Basic, the manifest's media
type accepted). Several rounds, because on a shared machine one round proves little; every
figure is printed, and the ratio of the medians. Needs ``wrk`` on ``PATH`` (Debian: ``apt-get
install wrk``). From the repository's root::

    .venv/bin/python bench/workers_bench.py              # 3 rounds, 10 s per wrk run
    .venv/bin/python bench/workers_bench.py --rounds 5 --duration-s 20 --connections 64
    .venv/bin/python bench/workers_bench.py --catalog postgresql

With ``--catalog postgresql`` each server gets a fresh database of one throwaway cluster
(``tests/postgres_server.py``, durable: ``fsync`` on) through ``REGISTRY_SERVICE_CATALOG_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from bench_http import check_get, create_tags
from bench_images import MANIFEST_MEDIA_TYPE, small_image
from bench_targets import Target, start_registry_service
from bench_tools import run_wrk

# tests/postgres_server.py is the one place that knows how to run a throwaway cluster here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.postgres_server import PostgresServer

VENV_BIN = Path(sys.executable).parent
TAG = "latest"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration-s", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--catalog", choices=("sqlite", "postgresql"), default="sqlite")
    return parser.parse_args(argv)


def manifest_rps(
    args: argparse.Namespace, workers: int, postgres: PostgresServer | None
) -> tuple[float, float]:
    """(req/s, p99 ms) of one wrk run on a fresh server (and catalog) with ``workers``."""
    env = {}
    if postgres is not None:
        env["REGISTRY_SERVICE_CATALOG_URL"] = postgres.create_database(migrated=False)
    with ExitStack() as stack:
        target = start_registry_service(stack, VENV_BIN, ["--workers", str(workers)], env)
        asyncio.run(create_tags(target, target.repo, small_image(), [TAG], 1))
        path = f"/v2/{target.repo}/manifests/{TAG}"
        headers = {"Accept": MANIFEST_MEDIA_TYPE}
        asyncio.run(check_get(target, path, headers))
        warm_up(target, path, headers)
        result = run_wrk(
            target.base_url + path,
            target.auth_headers() | headers,
            threads=args.threads,
            connections=args.connections,
            duration_s=args.duration_s,
        )
        return result.requests_per_s, result.p99_ms


def warm_up(target: Target, path: str, headers: dict[str, str]) -> None:
    # Every child's first requests pay for lazy imports and cold caches; not what is measured.
    run_wrk(target.base_url + path, target.auth_headers() | headers, 2, 8, 2)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    figures: dict[int, list[float]] = {n: [] for n in args.workers}
    with ExitStack() as stack:
        postgres = None
        if args.catalog == "postgresql":
            postgres = PostgresServer(durable=True)
            stack.callback(postgres.stop)
            postgres.start()
        measure_rounds(args, figures, postgres)
    print(f"catalog: {args.catalog}")
    base = statistics.median(figures[args.workers[0]])
    for workers, rates in figures.items():
        median = statistics.median(rates)
        runs = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"--workers {workers}: median {median:,.0f} req/s ({runs}); "
              f"{median / base:.2f}x --workers {args.workers[0]}")
    return 0


def measure_rounds(
    args: argparse.Namespace, figures: dict[int, list[float]], postgres: PostgresServer | None
) -> None:
    for round_ in range(1, args.rounds + 1):
        for workers in args.workers:
            rate, p99 = manifest_rps(args, workers, postgres)
            figures[workers].append(rate)
            print(f"round {round_}: --workers {workers}: {rate:,.0f} req/s, p99 {p99:.1f} ms",
                  flush=True)


if __name__ == "__main__":
    sys.exit(main())
