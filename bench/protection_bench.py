"""What protection rules cost a push: ``PUT /v2/…/manifests/<tag>`` with no rule, and with the
five tag rules a project may have plus five repository rules (not run by the tests).

In process, over loopback HTTP (aiohttp's test server around ``create_app``), with a real
SQLite catalog in a temp dir. A Maintainer (not an administrator, so the role is looked up)
pushes one small image's manifest under ``--pushes`` tags, one request at a time; the two
setups alternate in rounds so load from elsewhere on the machine hits both alike. The rules
match the pushed tags (``t…``), so every check runs, and none refuses. Prints the median and
p95 per PUT of each setup.

    .venv/bin/python bench/protection_bench.py [--pushes 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from registry_service.app import create_app
from registry_service.catalog import protection_rules as rule_rows
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services import provisioning
from registry_service.settings import load

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TOKEN = "glpat-bench-maintainer-token-0001"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def _seed(catalog: Catalog, path: str, rules: bool) -> int:
    async with catalog.transaction() as tx:
        user, _ = await provisioning.ensure_user(
            tx, username="mia", name="Mia", email="mia@example.test", is_admin=False,
            external=False, now=NOW,
        )
        await provisioning.ensure_token(
            tx, user=user, name="bench", value=TOKEN, scopes=["api"], expires_at=None, now=NOW
        )
        await provisioning.ensure_group(
            tx, full_path=path.split("/")[0], name=None, visibility="private", description="",
            now=NOW,
        )
        project, _ = await provisioning.ensure_project(
            tx, full_path=path, name=None, visibility="private",
            registry_access_level="enabled", description="", creator_id=None, now=NOW,
        )
        await provisioning.set_membership(
            tx, user=user, access_level=40, project=project, namespace=None, now=NOW
        )
        if rules:
            # Four protected rules the Maintainer passes, one immutable (new tags only here).
            for pattern in ["^t", "t0", "[0-9]$", "^t.*9"]:
                await rule_rows.insert_tag_rule(tx, project.id, pattern, 40, 40, False, NOW)
            await rule_rows.insert_tag_rule(tx, project.id, "x|t", None, None, True, NOW)
            for i in range(5):
                await rule_rows.insert_repository_rule(
                    tx, project.id, f"{path}*" if i == 0 else f"{path}/other{i}*", 40, 40, NOW
                )
        return project.id


async def _push_all(client: TestClient, path: str, pushes: int, offset: int) -> list[float]:
    auth = {"Authorization": "Basic " + base64.b64encode(f"mia:{TOKEN}".encode()).decode()}
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer = b"layer"
    for blob in (config, layer):
        resp = await client.post(
            f"/v2/{path}/blobs/uploads/", params={"digest": _digest(blob)}, data=blob,
            headers={**auth, "Content-Type": "application/octet-stream"},
        )
        assert resp.status == 201, await resp.text()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _digest(layer), "size": len(layer)}],
    }).encode()
    times: list[float] = []
    for i in range(pushes):
        started = time.perf_counter()
        resp = await client.put(
            f"/v2/{path}/manifests/t{offset + i:06d}", data=manifest,
            headers={**auth, "Content-Type": OCI_MANIFEST},
        )
        times.append(time.perf_counter() - started)
        assert resp.status == 201, await resp.text()
    return times


async def _setup(workdir: Path, rules: bool) -> tuple[TestClient, Catalog]:
    settings = load(None, {"REGISTRY_SERVICE_DATA_DIR": str(workdir / "data"),
                           "REGISTRY_SERVICE_EXTERNAL_URL": "http://127.0.0.1"})
    catalog = await Catalog.open_in(settings.data_path)
    await _seed(catalog, "bench/app", rules)
    app = create_app(settings, catalog=catalog, clock=SettableClock(NOW))
    client = TestClient(TestServer(app))
    await client.start_server()
    return client, catalog


async def main(pushes: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        setups = {
            name: await _setup(Path(tmp) / name, rules)
            for name, rules in (("0 rules", False), ("5+5 rules", True))
        }
        results: dict[str, list[float]] = {name: [] for name in setups}
        for r in range(rounds):
            for name, (client, _) in setups.items():
                results[name] += await _push_all(client, "bench/app", pushes, r * pushes)
        for client, catalog in setups.values():
            await client.close()
            await catalog.close()
    for name, times in results.items():
        ordered = sorted(times)
        print(
            f"{name:10s} PUT manifest by tag: median {statistics.median(ordered) * 1e3:.3f} ms,"
            f" p95 {ordered[int(len(ordered) * 0.95)] * 1e3:.3f} ms ({len(ordered)} pushes)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.pushes, args.rounds))
