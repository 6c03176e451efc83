"""Start-up of a fixture server, the two ways the pytest plugin could start one (not run by the
tests; the target is < 1 s until it answers).

- ``in-process``: what ``registry_server`` does — ``RegistryServer.start()`` in this process,
  on a background thread with its own loop; the imports are paid once per test session and
  shown apart (measured in a fresh interpreter, cold).
- ``subprocess``: ``python -m registry_service serve --fixture`` until ``/-/readiness`` is 200;
  every start pays the interpreter and the imports.

Each is run with no seed and with a seed of a user, a project and 24 dated images. The median
of ``--runs`` starts is printed, each on a fresh data directory.

    .venv/bin/python bench/fixture_startup_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

TARGET_S = 1.0
SEED = """
[[users]]
username = "alice"
tokens = [{ name = "ci", value = "glpat-alice-fixture-token-0001" }]

[[projects]]
path = "alice/app"
members = [{ user = "alice", access_level = "maintainer" }]

[[images]]
repository = "alice/app"
tag_pattern = "build-{n}"
count = 24
created = 2026-01-02T00:00:00Z
created_every = "1h"
"""
IMPORT_PROBE = (
    "import time; t = time.perf_counter(); "
    "import registry_service.cli, registry_service.pytest_plugin; "
    "print(time.perf_counter() - t)"
)


def cold_import_s() -> float:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def in_process_s(seed: str | None) -> float:
    from registry_service.pytest_plugin import RegistryServer

    with tempfile.TemporaryDirectory() as tmp:
        server = RegistryServer(Path(tmp), seed, {})
        started = time.perf_counter()
        server.start()
        elapsed = time.perf_counter() - started
        server.stop()
    return elapsed


def subprocess_s(seed: str | None) -> float:
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        args = [sys.executable, "-m", "registry_service", "serve", "--fixture"]
        if seed is not None:
            (Path(tmp) / "seed.toml").write_text(seed)
            args += ["--seed", str(Path(tmp) / "seed.toml")]
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_SERVICE_")}
        env.update(
            REGISTRY_SERVICE_LISTEN=f"127.0.0.1:{port}",
            REGISTRY_SERVICE_DATA_DIR=str(Path(tmp) / "data"),
            REGISTRY_SERVICE_ADMIN_TOKEN="glpat-bench-admin-token-000000",
        )
        started = time.perf_counter()
        child = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while True:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/-/readiness", timeout=1
                    ) as response:
                        if response.status == 200:
                            return time.perf_counter() - started
                except (urllib.error.URLError, OSError):
                    if child.poll() is not None:
                        raise RuntimeError("serve --fixture exited") from None
                    time.sleep(0.01)
        finally:
            child.terminate()
            child.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    imports = statistics.median(cold_import_s() for _ in range(runs))
    print(f"imports (once per session, cold interpreter): {imports:.3f} s")
    print(f"{'way':<12} {'seed':<10} {'median start':>13}  target < {TARGET_S:.1f} s")
    for seed_name, seed in (("none", None), ("24 images", SEED)):
        for way, start in (("in-process", in_process_s), ("subprocess", subprocess_s)):
            median = statistics.median(start(seed) for _ in range(runs))
            verdict = "ok" if median < TARGET_S else "SLOW"
            print(f"{way:<12} {seed_name:<10} {median:>11.3f} s  {verdict}")


if __name__ == "__main__":
    main()
