"""The external programs the benchmark drives and whose output it parses.

skopeo (push and pull), wrk (requests/s and p99 latency), curl (raw blob GET throughput) and
``sha256sum``/``cp`` (the machine's own limit). Each wrapper times the program's wall clock and
raises ``StepFailed`` with the exit code and the tail of stderr when it fails.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_targets import StepFailed, Target

MB = 1_000_000
MiB = 1 << 20
TOOL_TIMEOUT_S = 900.0
LATENCY_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p99_ms: float
    requests: int
    non_2xx: int


def run_timed(argv: Sequence[str], timeout_s: float = TOOL_TIMEOUT_S) -> tuple[float, str]:
    """Run a program; return its wall-clock seconds and stdout, or raise ``StepFailed``."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        stderr = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise StepFailed(f"{Path(argv[0]).name} exit {done.returncode}: {stderr}")
    return seconds, done.stdout


def skopeo_push(target: Target, layout: Path, tag: str, repo: str) -> float:
    argv = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *target.skopeo_creds("dest")]
    return run_timed([*argv, f"oci:{layout}:{tag}", f"docker://{target.host}/{repo}:{tag}"])[0]


def skopeo_pull(target: Target, repo: str, tag: str, layout: Path) -> float:
    argv = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", *target.skopeo_creds("src")]
    return run_timed([*argv, f"docker://{target.host}/{repo}:{tag}", f"oci:{layout}:{tag}"])[0]


def curl_get_mb_s(target: Target, path: str, expect_bytes: int) -> float:
    """Stream one GET to /dev/null with curl; MB/s from curl's own byte count and timer."""
    auth = [] if target.creds is None else ["--user", ":".join(target.creds)]
    write_out = "%{http_code} %{size_download} %{time_total}"
    url = target.base_url + path
    _, out = run_timed(["curl", "-sS", "-L", "-o", "/dev/null", "-w", write_out, *auth, url])
    status, size, seconds = out.split()
    if status != "200" or int(size) != expect_bytes:
        raise StepFailed(f"GET {path}: HTTP {status}, {size} bytes (want 200, {expect_bytes})")
    return int(size) / float(seconds) / MB


def run_wrk(
    url: str, headers: Mapping[str, str], threads: int, connections: int, duration_s: int
) -> WrkResult:
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    _, out = run_timed([*argv, *header_args, url], timeout_s=duration_s + 60)
    result = parse_wrk(out)
    if result.non_2xx:
        raise StepFailed(f"wrk {url}: {result.non_2xx} of {result.requests} answers not 2xx/3xx")
    return result


def parse_wrk(output: str) -> WrkResult:
    """Requests/sec, the 99% latency (in ms), request count and non-2xx count from ``wrk``."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    total = re.search(r"^\s+(\d+) requests in ", output, re.M)
    if rate is None or p99 is None or total is None:
        raise StepFailed(f"cannot parse wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return WrkResult(
        requests_per_s=float(rate[1]),
        p99_ms=float(p99[1]) * LATENCY_UNITS_MS[p99[2]],
        requests=int(total[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
    )


def sha256sum_mb_s(paths: Sequence[Path]) -> float:
    seconds, _ = run_timed(["sha256sum", *map(str, paths)])
    return sum(path.stat().st_size for path in paths) / seconds / MB


def hashlib_sha256_mb_s(paths: Sequence[Path]) -> float:
    """sha256 in this Python (OpenSSL, as the registry's own hashing) over the same files."""
    digest, size_bytes = hashlib.sha256(), 0
    started = time.perf_counter()
    for path in paths:
        with path.open("rb") as file:
            while chunk := file.read(MiB):
                digest.update(chunk)
                size_bytes += len(chunk)
    return size_bytes / (time.perf_counter() - started) / MB


def cp_mb_s(paths: Sequence[Path], scratch: Path) -> float:
    """Copy ``paths`` into ``scratch`` (created, then removed) and return MB/s."""
    scratch.mkdir()
    try:
        seconds, _ = run_timed(["cp", *map(str, paths), str(scratch)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return sum(path.stat().st_size for path in paths) / seconds / MB


def tool_versions() -> list[str]:
    """One line per external program, as the program itself reports its version."""
    lines = []
    for argv in (["docker-registry", "--version"], ["skopeo", "--version"], ["wrk", "-v"]):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        except OSError as exc:
            lines.append(f"{argv[0]}: {exc}")
            continue
        lines.append((done.stdout + done.stderr).strip().splitlines()[0])
    return lines
