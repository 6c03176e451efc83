"""Writes under a pull storm: registry-service against CNCF distribution 2.8.2 (not run by tests).

W writer clients loop ``POST /v2/<repo>/blobs/uploads/`` then ``DELETE`` of that session (one
*write* is that pair, its latency the pair's), while R reader clients loop ``GET`` of one
manifest, for a fixed time per case. Writers and readers run in two separate client processes,
so a write's latency is not the time the readers' client loop kept it waiting. Each case runs
on registry-service and right after on distribution, and one table prints both, so the
comparison is within one run (the machine is shared: compare rows of one run, not of two).

    .venv/bin/python bench/write_under_reads.py [--seconds 8] [--cases 1:0,1:50,10:50]
        [--only registry-service|distribution] [--serve-arg=--workers --serve-arg=2]

The table also gives each server's CPU time (user + system, its processes together) within
the timed window: what its answers cost, which a loaded machine does not change much.

Needs ``docker-registry`` on PATH (Debian: ``apt-get install docker-registry``); stops its
servers and removes their temp dirs on exit, error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from bench_http import create_tags, expect, open_session, start_upload
from bench_images import MANIFEST_MEDIA_TYPE, small_image
from bench_targets import (
    StepFailed,
    Target,
    cpu_seconds,
    start_distribution,
    start_registry_service,
)

TAG = "latest"
DEFAULT_CASES = ((1, 0), (1, 50), (10, 50))


@dataclass(frozen=True)
class Loop:
    """What one client process did: operations completed and each one's seconds."""

    count: int
    latencies_s: list[float]


@dataclass(frozen=True)
class CaseResult:
    target: str
    writers: int
    readers: int
    writes: Loop
    reads: Loop
    server_cpu_s: float  # user + system CPU of the server's processes within the timed window


async def _write_once(session: aiohttp.ClientSession, repo: str) -> None:
    location = await start_upload(session, repo)
    async with session.delete(location) as response:
        await expect(response, 204)


async def _read_once(session: aiohttp.ClientSession, repo: str) -> None:
    headers = {"Accept": MANIFEST_MEDIA_TYPE}
    async with session.get(f"/v2/{repo}/manifests/{TAG}", headers=headers) as response:
        await expect(response, 200)
        await response.read()


async def _clients(target: Target, kind: str, clients: int, until: float) -> Loop:
    """``clients`` concurrent loops of one operation until the monotonic clock reads ``until``;
    an operation still running then is not counted."""
    step = _write_once if kind == "write" else _read_once
    latencies: list[float] = []

    async def client(session: aiohttp.ClientSession) -> None:
        while (started := time.monotonic()) < until:
            await step(session, target.repo)
            ended = time.monotonic()
            if ended <= until:
                latencies.append(ended - started)

    async with open_session(target) as session:
        tasks = [asyncio.ensure_future(client(session)) for _ in range(clients)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=until - time.monotonic() + 60)
    return Loop(len(latencies), latencies)


def _client_process(target: Target, kind: str, clients: int, until: float) -> Loop:
    return asyncio.run(_clients(target, kind, clients, until))


def run_case(pool: ProcessPoolExecutor, target: Target, writers: int, readers: int,
             seconds: float) -> CaseResult:
    # Both processes start (fork, import) before the clock: they share one deadline.
    until = time.monotonic() + 1.0 + seconds
    reads = pool.submit(_client_process, target, "read", readers, until) if readers else None
    writes = pool.submit(_client_process, target, "write", writers, until)
    time.sleep(max(0.0, until - seconds - time.monotonic()))
    cpu_before = cpu_seconds(target.pid)
    time.sleep(max(0.0, until - time.monotonic()))
    server_cpu_s = cpu_seconds(target.pid) - cpu_before
    return CaseResult(
        target.name, writers, readers, writes.result(),
        reads.result() if reads is not None else Loop(0, []), server_cpu_s,
    )


def _ms(latencies: list[float], q: float) -> str:
    if not latencies:
        return "-"
    if len(latencies) == 1:
        return f"{latencies[0] * 1000:.1f}"
    cut = statistics.quantiles(latencies, n=100, method="inclusive")
    return f"{cut[int(q * 100) - 1] * 1000:.1f}"


def print_table(results: list[CaseResult], seconds: float) -> None:
    print(f"\nwrites = POST upload + DELETE session pairs completed in {seconds:g} s; "
          "latency per pair; reads = manifest GETs")
    header = ("| case | registry | writes | write p50 ms | write p99 ms | reads |"
              " read p50 ms | server CPU s |")
    print(header)
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| W={r.writers}, R={r.readers} | {r.target} | {r.writes.count:,} |"
              f" {_ms(r.writes.latencies_s, 0.5)} | {_ms(r.writes.latencies_s, 0.99)} |"
              f" {r.reads.count:,} | {_ms(r.reads.latencies_s, 0.5)} |"
              f" {r.server_cpu_s:.1f} |")
    print("\ntargets (issue 13.1), ours against distribution in this run:")
    by_case: dict[tuple[int, int], dict[str, CaseResult]] = {}
    for r in results:
        by_case.setdefault((r.writers, r.readers), {})[r.target] = r
    for (w, rd), pair in by_case.items():
        ours, theirs = pair.get("registry-service"), pair.get("distribution")
        if ours is None or theirs is None or rd == 0:
            continue
        p50_ours = statistics.median(ours.writes.latencies_s or [float("inf")])
        p50_theirs = statistics.median(theirs.writes.latencies_s or [float("inf")])
        checks = {
            "writes >= theirs": ours.writes.count >= theirs.writes.count,
            "write p50 <= 2x theirs": p50_ours <= 2 * p50_theirs,
            "reads >= 1.5x theirs": ours.reads.count >= 1.5 * theirs.reads.count,
        }
        verdict = ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in checks.items())
        print(f"  W={w}, R={rd}: {verdict}")


def parse_cases(text: str) -> list[tuple[int, int]]:
    cases = []
    for item in text.split(","):
        w, _, r = item.partition(":")
        cases.append((int(w), int(r)))
    return cases


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds the ExitStack: servers stopped, temp dirs removed


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--cases", type=parse_cases,
                        default=list(DEFAULT_CASES), help="W:R pairs, e.g. 1:0,1:50,10:50")
    parser.add_argument("--only", choices=("registry-service", "distribution"))
    parser.add_argument("--serve-arg", action="append", default=[], dest="serve_args",
                        help="one more argument for registry-service serve, e.g. "
                        "--serve-arg=--workers --serve-arg=2")
    args = parser.parse_args()
    venv_bin = Path(sys.executable).parent
    image = small_image()
    results: list[CaseResult] = []
    with ExitStack() as stack:
        targets: list[Target] = []
        if args.only != "distribution":
            targets.append(start_registry_service(stack, venv_bin, args.serve_args))
        if args.only != "registry-service":
            targets.append(start_distribution(stack))
        for target in targets:
            asyncio.run(create_tags(target, target.repo, image, [TAG], 1))
        # Fork-free start method: the client processes must not inherit the parent's loop.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=context) as pool:
            for writers, readers in args.cases:
                for target in targets:
                    try:
                        result = run_case(pool, target, writers, readers, args.seconds)
                    except StepFailed as exc:
                        print(f"{target.name} W={writers} R={readers}: {exc}", file=sys.stderr)
                        print(target.log_tail(), file=sys.stderr)
                        return 1
                    results.append(result)
                    print(f"  {target.name} W={writers} R={readers}: {result.writes.count}"
                          f" writes, {result.reads.count} reads", file=sys.stderr)
    print_table(results, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
