"""Bearer tokens from /jwt/auth against HTTP Basic on the hot /v2 reads (not run by the tests).

Starts one ``registry-service serve`` (as ``registry_bench.py`` does), pushes a small image to
``bench/app``, and then runs ``wrk`` on ``GET /v2/bench/app/manifests/v1`` and on
``HEAD /v2/bench/app/blobs/<layer>``, each with ``Authorization: Basic`` (a personal token: a
token lookup, a user lookup and the project's permission check on every request) and with
``Authorization: Bearer`` (a JWT checked by its signature and claims, then only the data
lookups). The two alternate, Basic first, for ``--rounds`` rounds, so load from elsewhere hits
both alike; a fresh token is fetched before each Bearer run (they last 5 minutes). Prints
req/s per round and the medians. Needs ``wrk``.

The manifest GET is measured with ``wrk``. The blob HEAD is measured with an aiohttp client
in this process (``--connections`` requests in flight), because ``wrk`` waits for a body after
a HEAD answer that has a ``Content-Length``; that client shares the CPUs with the server, so its
rates are lower than wrk's, the same for both schemes.

    .venv/bin/python bench/token_bench.py [--seconds 5] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import aiohttp
from bench_http import expect, open_session, push_blob, put_manifest
from bench_images import MANIFEST_MEDIA_TYPE, small_image
from bench_targets import Target, start_registry_service
from bench_tools import parse_wrk, run_timed

VENV_BIN = Path(sys.executable).parent


async def prepare(target: Target) -> str:
    """Push a one-layer image as ``v1``; return its layer's digest."""
    image = small_image()
    async with open_session(target) as session:
        for digest, data in image.blobs.items():
            await push_blob(session, target.repo, data, digest)
        await put_manifest(session, target.repo, "v1", image.manifest)
    return next(iter(image.blobs))  # the layer comes first, then the config


async def fetch_token(target: Target) -> str:
    assert target.creds is not None
    params = {"service": "container_registry", "scope": f"repository:{target.repo}:pull"}
    async with (
        open_session(target) as session,
        session.get("/jwt/auth", params=params) as response,
    ):
        await expect(response, 200)
        token: str = (await response.json())["token"]
        return token


def wrk_get(url: str, authorization: str, args: argparse.Namespace) -> float:
    argv = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
            "-H", f"Authorization: {authorization}", "-H", f"Accept: {MANIFEST_MEDIA_TYPE}", url]
    _, out = run_timed(argv, timeout_s=args.seconds + 60)
    result = parse_wrk(out)
    if result.non_2xx:
        raise SystemExit(f"wrk {url}: {result.non_2xx} of {result.requests} answers not 2xx")
    return result.requests_per_s


async def aiohttp_head(url: str, authorization: str, args: argparse.Namespace) -> float:
    deadline = time.perf_counter() + args.seconds
    done = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with session.head(url) as response:
                if response.status != 200:
                    raise SystemExit(f"HEAD {url} -> {response.status}")
            done += 1

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=args.connections)
    headers = {"Authorization": authorization}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        await asyncio.gather(*(worker(session) for _ in range(args.connections)))
    return done / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with ExitStack() as stack:
        target = start_registry_service(stack, VENV_BIN)
        layer = asyncio.run(prepare(target))
        basic = target.auth_headers()["Authorization"]
        cases: dict[str, Callable[[str], float]] = {
            "manifest GET": lambda auth: wrk_get(
                f"{target.base_url}/v2/{target.repo}/manifests/v1", auth, args),
            "blob HEAD": lambda auth: asyncio.run(aiohttp_head(
                f"{target.base_url}/v2/{target.repo}/blobs/{layer}", auth, args)),
        }
        rates: dict[tuple[str, str], list[float]] = {}
        for round_no in range(1, args.rounds + 1):
            for case, measure in cases.items():
                for scheme in ("Basic", "Bearer"):
                    value = basic if scheme == "Basic" else "Bearer " + asyncio.run(
                        fetch_token(target))
                    rate = measure(value)
                    rates.setdefault((case, scheme), []).append(rate)
                    print(f"round {round_no} {case:13} {scheme:6} {rate:9.1f} req/s", flush=True)
        print("\nmedian req/s        Basic     Bearer   Bearer/Basic")
        for case in cases:
            b = statistics.median(rates[(case, "Basic")])
            t = statistics.median(rates[(case, "Bearer")])
            print(f"{case:15} {b:9.1f}  {t:9.1f}   {t / b:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
