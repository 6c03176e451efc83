"""Two replicas for end-to-end tests: separate ``serve`` processes on one PostgreSQL catalog
and one shared data directory.

The blob store has no root of its own: it is the data directory (``storage/layout.py``), so
replicas on several hosts share the data directory (an NFS mount), and two replicas on this
host sharing one directory are the same case. The token signing key and the runner lock
files live there too, so what one replica signs the other accepts.

The ``shared_catalog`` fixture (``conftest.py``) gives each test a fresh PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.e2e.accounts import write_seed
from tests.e2e.server import RegistryServer, StartServer

JSON_LOGS = {"REGISTRY_SERVICE_SERVER_LOG_FORMAT": "json"}


def replica_env(catalog_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"REGISTRY_SERVICE_CATALOG_URL": catalog_url, **JSON_LOGS, **(extra or {})}


def start_replicas(
    start_server: StartServer,
    tmp_path: Path,
    catalog_url: str,
    *,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> tuple[RegistryServer, RegistryServer]:
    """Replica A (seeded with ``tests.e2e.accounts``) and replica B, each its own ``serve``
    on its own port, over one catalog and one data directory."""
    seed = write_seed(tmp_path / "seed.toml")
    first = start_server(args=["--seed", str(seed), *args], env=replica_env(catalog_url, env))
    second = start_server(start=False, args=list(args), env=replica_env(catalog_url, env))
    second.data_dir = first.data_dir
    second.start()
    # The catalog is PostgreSQL's: no replica fell back to the data directory's SQLite file.
    assert not (first.data_dir / "registry.sqlite3").exists()
    return first, second
