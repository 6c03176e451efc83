"""Side-by-side benchmark of registry-service and CNCF distribution 2.8.2 (not run by the tests).

Starts both registries on free loopback ports, each with its own temp data dir, runs each step
on one and then the other — skopeo push and pull of a large image, a push of a 50-layer image,
raw blob GET throughput, wrk on a manifest and on a 1,000-tag list, peak RSS while a multi-GiB
blob is streamed in — and prints one table whose ratios are oriented so that > 1.0 means
registry-service is better. bench/README.md explains each figure. Needs skopeo, wrk, curl
and docker-registry on PATH; cleans up its processes and temp dirs on exit, error or Ctrl-C.

    .venv/bin/python bench/registry_bench.py [--quick] [--size-mib 512] [--only NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import aiohttp
from bench_http import check_get, create_tags, list_tags, stream_upload
from bench_images import (
    MANIFEST_MEDIA_TYPE,
    ImageLayout,
    MiB,
    SmallImage,
    blob_path,
    read_manifest_digest,
    repeating_random_chunks,
    small_image,
    write_layout,
)
from bench_report import Metric, Results, print_report
from bench_targets import (
    PeakRss,
    StepFailed,
    Target,
    make_workdir,
    read_rss_kib,
    start_distribution,
    start_registry_service,
)
from bench_tools import (
    MB,
    cp_mb_s,
    curl_get_mb_s,
    hashlib_sha256_mb_s,
    run_wrk,
    sha256sum_mb_s,
    skopeo_pull,
    skopeo_push,
    tool_versions,
)

GiB = 1 << 30
VENV_BIN = Path(sys.executable).parent
RSS_LIMIT_MIB = 150.0
# What a failing step may raise; anything else is a bug in the bench and should stop it.
STEP_ERRORS = (
    StepFailed,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    subprocess.TimeoutExpired,
    OSError,
    LookupError,
    ValueError,
)


@dataclass(frozen=True)
class Sizes:
    image_bytes: int = 512 * MiB
    image_layers: int = 4
    many_layers: int = 50
    many_layer_bytes: int = MiB
    stream_bytes: int = 2 * GiB
    pull_runs: int = 3
    blob_get_runs: int = 5
    wrk_threads: int = 2
    wrk_connections: int = 32
    wrk_duration_s: int = 10
    tag_count: int = 1000
    tag_concurrency: int = 16


QUICK = Sizes(
    image_bytes=64 * MiB,
    many_layer_bytes=256 * 1024,
    stream_bytes=256 * MiB,
    blob_get_runs=3,
    wrk_duration_s=3,
)


@dataclass(frozen=True)
class Images:
    big: ImageLayout
    many: ImageLayout
    small: SmallImage


@dataclass
class Bench:
    """What every step needs: sizes, the generated images, a scratch dir and the results."""

    sizes: Sizes
    images: Images
    workdir: Path
    results: Results = field(default_factory=Results)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short wrk runs (~1 min)")
    parser.add_argument("--size-mib", type=int, help="size of the skopeo image (default 512)")
    parser.add_argument(
        "--only", choices=["registry-service", "distribution"], help="benchmark one target only"
    )
    return parser.parse_args(argv)


def sizes_from_args(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else Sizes()
    if args.size_mib:
        sizes = dataclasses.replace(sizes, image_bytes=args.size_mib * MiB)
    return sizes


def metrics_for(sizes: Sizes) -> list[Metric]:
    image, stream = _size_text(sizes.image_bytes), _size_text(sizes.stream_bytes)
    layer = _size_text(sizes.image_bytes // sizes.image_layers)
    tags = f"tags/list of {sizes.tag_count} tags"
    return [
        Metric("push_s", f"skopeo push {image} image (s)", higher_is_better=False),
        Metric("pull_s", f"skopeo pull {image} image, median (s)", higher_is_better=False),
        Metric("many_push_s", f"skopeo push {sizes.many_layers}-layer image (s)", False),
        Metric("blob_get_best", f"blob GET {layer} layer, best (MB/s)", True),
        Metric("blob_get_median", f"blob GET {layer} layer, median (MB/s)", True),
        Metric("manifest_rps", "wrk manifest GET (req/s)", True),
        Metric("manifest_p99", "wrk manifest GET p99 (ms)", False),
        Metric("tag_put_s", f"PUT one manifest as {sizes.tag_count} tags (s)", False),
        Metric("tags_rps", f"wrk {tags} (req/s)", True),
        Metric("tags_p99", f"wrk {tags} p99 (ms)", False),
        Metric("upload_mb_s", f"streamed upload of a {stream} blob (MB/s)", True),
        Metric("peak_rss_mib", "peak RSS during that upload (MiB)", False, RSS_LIMIT_MIB),
    ]


def build_images(workdir: Path, sizes: Sizes) -> Images:
    layer_bytes = sizes.image_bytes // sizes.image_layers
    big = write_layout(workdir / "big", "big", [layer_bytes] * sizes.image_layers)
    many_sizes = [sizes.many_layer_bytes] * sizes.many_layers
    return Images(big, write_layout(workdir / "many", "many", many_sizes), small_image())


def start_targets(stack: ExitStack, only: str | None, results: Results) -> list[Target]:
    starters: dict[str, Callable[[], Target]] = {
        "registry-service": lambda: start_registry_service(stack, VENV_BIN),
        "distribution": lambda: start_distribution(stack),
    }
    targets = []
    for name, start in starters.items():
        if only not in (None, name):
            continue
        try:
            targets.append(start())
        except STEP_ERRORS as exc:
            results.fail(name, "start", str(exc))
    return targets


Step = Callable[[], dict[str, float]]


def run_step(bench: Bench, target: Target, label: str, step: Step) -> None:
    """Run one step against one target; record its values, or its failure and the server log."""
    os.sync()  # the previous step's dirty pages must not be written back on this one's clock
    started = time.perf_counter()
    try:
        values = step()
    except STEP_ERRORS as exc:
        bench.results.fail(target.name, label, f"{type(exc).__name__}: {exc}", target.log_tail())
        print(f"  {target.name}: FAILED: {exc}", flush=True)
        return
    bench.results.record(target.name, values)
    shown = ", ".join(f"{key}={value:.2f}" for key, value in values.items())
    print(f"  {target.name}: {shown} ({time.perf_counter() - started:.1f} s)", flush=True)


def measure(bench: Bench, targets: Sequence[Target]) -> None:
    """Each step on every target before the next step: a pair is measured seconds apart, so
    other load on the machine that comes and goes skews both sides alike."""
    for target in targets:
        print(f"{target.name} at {target.base_url} (pid {target.pid})", flush=True)
    for label, step in STEPS:
        print(f"{label}:", flush=True)
        for target in targets:
            run_step(bench, target, label, functools.partial(step, bench, target))


def push_big(bench: Bench, target: Target) -> dict[str, float]:
    image = bench.images.big
    return {"push_s": skopeo_push(target, image.path, image.tag, target.repo)}


def pull_big(bench: Bench, target: Target) -> dict[str, float]:
    """Pull the big image ``pull_runs`` times (each into a new layout); the median time."""
    runs = [_pull_once(bench, target) for _ in range(bench.sizes.pull_runs)]
    return {"pull_s": statistics.median(runs)}


def _pull_once(bench: Bench, target: Target) -> float:
    """Pull the big image into a new layout, check it is what was pushed, delete it."""
    image = bench.images.big
    pulled = bench.workdir / f"pulled-{target.name}"
    try:
        seconds = skopeo_pull(target, target.repo, image.tag, pulled)
        digest = read_manifest_digest(pulled, image.tag)
        if digest != image.manifest.digest:
            raise StepFailed(f"pulled manifest {digest}, pushed {image.manifest.digest}")
        missing = [x.digest for x in image.layers if not blob_path(pulled, x.digest).is_file()]
        if missing:
            raise StepFailed(f"pulled layout lacks layers {missing}")
    finally:
        shutil.rmtree(pulled, ignore_errors=True)
    os.sync()
    return seconds


def push_many(bench: Bench, target: Target) -> dict[str, float]:
    image = bench.images.many
    return {"many_push_s": skopeo_push(target, image.path, image.tag, f"{target.repo}/layers")}


def get_blob(bench: Bench, target: Target) -> dict[str, float]:
    layer = bench.images.big.largest_layer
    path = f"/v2/{target.repo}/blobs/{layer.digest}"
    runs = [curl_get_mb_s(target, path, layer.size_bytes) for _ in range(bench.sizes.blob_get_runs)]
    return {"blob_get_best": max(runs), "blob_get_median": statistics.median(runs)}


def wrk_manifest(bench: Bench, target: Target) -> dict[str, float]:
    path = f"/v2/{target.repo}/manifests/{bench.images.big.tag}"
    rate, p99 = _wrk(bench, target, path, {"Accept": MANIFEST_MEDIA_TYPE})
    return {"manifest_rps": rate, "manifest_p99": p99}


def create_many_tags(bench: Bench, target: Target) -> dict[str, float]:
    """PUT the small manifest under ``tag_count`` tags, then check tags/list returns them all."""
    repo, sizes = f"{target.repo}/tags", bench.sizes
    names = [f"t{i:04d}" for i in range(sizes.tag_count)]
    started = time.perf_counter()
    asyncio.run(create_tags(target, repo, bench.images.small, names, sizes.tag_concurrency))
    seconds = time.perf_counter() - started
    listed = asyncio.run(list_tags(target, repo))
    if sorted(listed) != names:
        raise StepFailed(f"tags/list returned {len(listed)} tags, want {len(names)}")
    return {"tag_put_s": seconds}


def wrk_tags(bench: Bench, target: Target) -> dict[str, float]:
    rate, p99 = _wrk(bench, target, f"/v2/{target.repo}/tags/tags/list", {})
    return {"tags_rps": rate, "tags_p99": p99}


def upload_stream(bench: Bench, target: Target) -> dict[str, float]:
    """Stream ``stream_bytes`` in one PATCH while sampling the server's RSS."""
    size_bytes = bench.sizes.stream_bytes
    chunks = repeating_random_chunks(size_bytes)
    with PeakRss(target.pid) as rss:
        result = asyncio.run(stream_upload(target, f"{target.repo}/stream", chunks))
    hwm_kib = read_rss_kib(target.pid, "VmHWM")
    bench.results.note(
        f"{target.name}: RSS {rss.before_kib / 1024:.0f} MiB before the upload, peak"
        f" {rss.peak_kib / 1024:.0f} MiB during it, VmHWM since start {hwm_kib / 1024:.0f} MiB"
    )
    return {"upload_mb_s": size_bytes / result.seconds / MB, "peak_rss_mib": rss.peak_kib / 1024}


# In order: pull needs the push, blob GET and wrk manifest need the pushed image.
STEPS: list[tuple[str, Callable[[Bench, Target], dict[str, float]]]] = [
    ("skopeo push", push_big),
    ("skopeo pull", pull_big),
    ("skopeo push many layers", push_many),
    ("blob GET", get_blob),
    ("wrk manifest", wrk_manifest),
    ("create tags", create_many_tags),
    ("wrk tags/list", wrk_tags),
    ("streamed upload", upload_stream),
]


def measure_machine(bench: Bench) -> None:
    """The machine's own limit on the image's bytes: sha256sum and cp, page cache warm."""
    image = bench.images.big
    paths = [image.blob_path(layer.digest) for layer in image.layers]
    size = f"{sum(path.stat().st_size for path in paths) / MiB:.0f} MiB"
    bench.results.note(f"machine: sha256sum of {size}: {sha256sum_mb_s(paths):.0f} MB/s")
    hashed = hashlib_sha256_mb_s(paths)
    bench.results.note(f"machine: Python hashlib.sha256 of {size}: {hashed:.0f} MB/s")
    copied = cp_mb_s(paths, bench.workdir / "cp-scratch")
    bench.results.note(f"machine: cp of {size}: {copied:.0f} MB/s")


def _wrk(bench: Bench, target: Target, path: str, headers: dict[str, str]) -> tuple[float, float]:
    """Check the URL answers 200 once, then load it with wrk; return (req/s, p99 ms)."""
    asyncio.run(check_get(target, path, headers))
    sizes = bench.sizes
    result = run_wrk(
        target.base_url + path,
        target.auth_headers() | headers,
        threads=sizes.wrk_threads,
        connections=sizes.wrk_connections,
        duration_s=sizes.wrk_duration_s,
    )
    return result.requests_per_s, result.p99_ms


def _size_text(size_bytes: int) -> str:
    return f"{size_bytes / GiB:g} GiB" if size_bytes >= GiB else f"{size_bytes / MiB:g} MiB"


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the ExitStack: servers stopped, temp dirs removed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_from_args(args)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    print("\n".join(tool_versions()), flush=True)
    with ExitStack() as stack:
        workdir = make_workdir(stack, "bench-images-")
        print(f"writing images under {workdir} …", flush=True)
        bench = Bench(sizes, build_images(workdir, sizes), workdir)
        measure(bench, start_targets(stack, args.only, bench.results))
        measure_machine(bench)
        print_report(bench.results, metrics_for(sizes))
    return 1 if bench.results.failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temp dirs removed", file=sys.stderr)
        sys.exit(130)
