"""Seeding speed: how long ``apply_seed`` takes for a repository of many tags (not run by the
tests).

Two documents, each loaded into a fresh data directory in a temp dir (catalog and blob store,
as ``registry-service seed`` opens them), then loaded a second time (nothing new):

- ``shared``: N tags on one image (``tag_pattern``, ``count``);
- ``dated``: N tags, one image each, created an hour apart (``created_every = "1h"``): N
  configs and N manifests, the case a cleanup-policy fixture needs.

The time is the wall clock of ``apply_seed`` alone (catalog and store already open), then a
breakdown of the dated load: generating (``plan_images``), writing blobs, catalog rows.

    .venv/bin/python bench/seed_bench.py [--tags 10000] [--layers 2] [--layer-size 4KiB]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry_service.catalog.db import Catalog
from registry_service.services.image_seeding import plan_images, record_images, write_image_blobs
from registry_service.services.image_specs import parse_image_specs
from registry_service.services.seeding import apply_seed
from registry_service.storage.filesystem import FilesystemBlobStore

TARGET_S = 2.0
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def document(tags: int, layers: int, layer_size: str, dated: bool) -> dict[str, Any]:
    image: dict[str, Any] = {
        "repository": "bench/app/builds",
        "tag_pattern": "build-{n}",
        "count": tags,
        "layers": layers,
        "layer_size": layer_size,
        "created": datetime(2026, 5, 1, tzinfo=UTC),
    }
    if dated:
        image["created_every"] = "1h"
    return {
        "groups": [{"path": "bench"}],
        "projects": [{"path": "bench/app"}],
        "images": [image],
    }


async def load_twice(data: dict[str, Any], data_dir: Path) -> tuple[float, float, str]:
    catalog = await Catalog.open_in(data_dir)
    store = FilesystemBlobStore(data_dir)
    try:
        start = time.perf_counter()
        report = await apply_seed(catalog, data, NOW, store=store)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = await apply_seed(catalog, data, NOW, store=store)
        second = time.perf_counter() - start
        assert not again.changed, again.summary()
        return first, second, report.summary()
    finally:
        await store.aclose()
        await catalog.close()


async def breakdown(data: dict[str, Any], data_dir: Path) -> dict[str, float]:
    """The phases of a first load, one by one (the projects are seeded first, untimed)."""
    catalog = await Catalog.open_in(data_dir)
    store = FilesystemBlobStore(data_dir)
    try:
        await apply_seed(catalog, {k: v for k, v in data.items() if k != "images"}, NOW)
        times: dict[str, float] = {}
        start = time.perf_counter()
        plan = await asyncio.to_thread(plan_images, parse_image_specs(data["images"]))
        times["generate"] = time.perf_counter() - start
        start = time.perf_counter()
        await write_image_blobs(store, plan)
        times["write blobs"] = time.perf_counter() - start
        start = time.perf_counter()
        async with catalog.transaction() as tx:
            await record_images(tx, plan, NOW)
        times["catalog rows"] = time.perf_counter() - start
        return times
    finally:
        await store.aclose()
        await catalog.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--layer-size", default="4KiB")
    args = parser.parse_args()
    print(f"{args.tags:,} tags, {args.layers} layers of {args.layer_size} per image")
    with tempfile.TemporaryDirectory(prefix="seed-bench-") as tmp:
        for name, dated in (("shared", False), ("dated", True)):
            data = document(args.tags, args.layers, args.layer_size, dated)
            first, second, summary = await load_twice(data, Path(tmp) / name)
            verdict = "ok" if first < TARGET_S else f"over {TARGET_S:.0f} s"
            print(f"  {name:6}  first load {first:6.2f} s ({verdict})  again {second:5.2f} s")
            print(f"          created {summary}")
        phases = await breakdown(document(args.tags, args.layers, args.layer_size, True),
                                 Path(tmp) / "phases")
        print("  dated, by phase: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))


if __name__ == "__main__":
    asyncio.run(main())
