"""Fixtures for the end-to-end tests: real ``registry-service serve`` processes.

``start_server(**options)`` starts one on a free loopback port with a fresh data directory and
returns its ``RegistryServer`` handle (``.url``, ``.admin_token``, ``.data_dir``, ``.stop()``,
``.kill()``, ``.start()`` again on the same port and data); every server it made is stopped
(SIGTERM, then SIGKILL) when the test ends. ``registry_server`` is one shared server for the
whole session, for tests that only add what they need; ``seeded_registry`` is another, seeded
with the accounts of ``tests.e2e.accounts``; ``skopeo`` runs skopeo isolated in the test's temp
dir; ``shared_catalog`` is the ``catalog.url`` of a fresh PostgreSQL database (the session's
cluster, ``tests/postgres_server.py``) for replicas to share.
Modules mark themselves ``pytestmark = pytest.mark.e2e``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.accounts import write_seed
from tests.e2e.server import RegistryServer, StartServer
from tests.e2e.skopeo import Skopeo
from tests.postgres_server import session_server


def _shut_down(server: RegistryServer) -> None:
    try:
        server.stop()
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """A factory: ``start_server(admin_token=…, env={…}, args=[…], start=True)``."""
    made: list[RegistryServer] = []

    def start(*, start: bool = True, **options: Any) -> RegistryServer:
        server = RegistryServer(tmp_path / f"server-{len(made)}", **options)
        made.append(server)
        if start:
            server.start()
        return server

    yield start
    for server in made:
        _shut_down(server)


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One server for the session; tests must not stop it or rely on an empty catalog."""
    server = RegistryServer(tmp_path_factory.mktemp("registry-server"))
    server.start()
    yield server
    _shut_down(server)


@pytest.fixture(scope="session")
def seeded_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One server for the session, started with ``--seed`` of ``tests.e2e.accounts`` (user
    ``dev`` in a private and a public project); tests push to image paths of their own."""
    workdir = tmp_path_factory.mktemp("seeded-registry")
    server = RegistryServer(workdir, args=["--seed", str(write_seed(workdir / "seed.toml"))])
    server.start()
    yield server
    _shut_down(server)


@pytest.fixture
def skopeo(tmp_path: Path) -> Skopeo:
    """skopeo with its scratch files in the test's temp dir."""
    return Skopeo(tmp_path / "skopeo")


@pytest.fixture
def shared_catalog(request: pytest.FixtureRequest) -> Iterator[str]:
    """``catalog.url`` of a fresh PostgreSQL database at the latest schema, dropped afterwards.
    Ask for it before ``start_server``: fixtures end in reverse order, so the servers on it are
    stopped before it is dropped."""
    server = session_server(request.config)
    url = server.create_database()
    yield url
    server.drop_database(url)
