"""A pytest plugin (entry point ``pytest11``): a real registry-service for other projects' tests.

Installing ``registry-service`` makes these fixtures available to every test suite in the same
environment — nothing to import:

``registry_seed``
    What the server starts with; ``None`` (the default) is an empty registry with only the
    administrator. Override it in your ``conftest.py`` to return a ``pathlib.Path`` to a seed
    file or the seed's TOML text (a ``str``) — the format of ``config/seed.example.toml``.
``registry_config``
    Settings to change, ``{"section": {"key": value}}`` (default none); e.g.
    ``{"fixture": {"bulk_delete_interval_seconds": 3600}}`` to test the once-an-hour limit.
``registry_server``
    A running server in fixture mode with that seed: ``.url``, ``.admin_token``,
    ``.registry_host`` (``host:port`` for image references), ``.advance_clock("2d")``,
    ``.set_clock(datetime)``, ``.now()``, ``.run_jobs()``, ``.reset()``.

The server runs in this process, on its own event loop in a background thread, listening on a
free loopback port: started once per seed and configuration for the whole session (well under
a second; a ``registry-service serve --fixture`` child would pay the imports again), and reset
to the seeded state before every test that uses it after the first — so each test sees the
seed, a real-time clock and no jobs, whatever the test before it did. This module imports
nothing of the service until a fixture is used, so it costs other test suites nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aiohttp import web

    from registry_service.settings import Settings

log = logging.getLogger("registry_service.pytest_plugin")

START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 120.0

SeedSource = Path | str | None
ConfigOverrides = Mapping[str, Mapping[str, Any]]


class RegistryServer:
    """One registry-service in fixture mode, served from a thread of this process."""

    def __init__(self, workdir: Path, seed_text: str | None, config: ConfigOverrides) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.seed_path: Path | None = None
        if seed_text is not None:
            self.seed_path = workdir / "seed.toml"
            self.seed_path.write_text(seed_text)
        self.admin_token = f"glpat-fixture-{secrets.token_hex(12)}"
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.registry_host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.registry_host}"
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"registry-service:{self.port}", daemon=True
        )
        self._runner: web.AppRunner | None = None
        self.startup_s: float | None = None

    def settings(self) -> Settings:
        from registry_service.settings import Settings

        settings = (
            Settings()
            .replace(
                "server",
                listen=self.registry_host,
                data_dir=str(self.data_dir),
                external_url=self.url,
                access_log=False,
            )
            .replace("auth", admin_token=self.admin_token)
        )
        for section, values in self._config.items():
            settings = settings.replace(section, **values)
        return settings.replace("fixture", enabled=True)

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Serve, and return once the server accepts requests (``startup_s`` says how long
        that took; it is logged, too)."""
        started = time.perf_counter()
        self._thread.start()
        self._call(self._start(), START_TIMEOUT_S)
        self.startup_s = time.perf_counter() - started
        log.info("fixture server on %s started in %.3f s", self.url, self.startup_s)

    async def _start(self) -> None:
        from aiohttp import web

        from registry_service.cli import build_app

        app = await build_app(self.settings(), self.seed_path)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runner = runner
        await web.SockSite(runner, self._sock).start()

    def stop(self) -> None:
        """Stop serving (jobs, catalog, socket) and end the thread; safe to call twice."""
        if not self._thread.is_alive():
            self._sock.close()
            return
        try:
            self._call(self._stop(), REQUEST_TIMEOUT_S)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(REQUEST_TIMEOUT_S)
            self._loop.close()
            self._sock.close()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _call(self, coroutine: Any, timeout_s: float) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout_s)

    # --- the fixture routes ---------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Call the server as an administrator and return the decoded JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"PRIVATE-TOKEN": self.admin_token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return json.loads(response.read() or b"null")

    def now(self) -> datetime:
        """The server's clock."""
        return datetime.fromisoformat(self.request("GET", "/-/fixture/clock")["now"])

    def set_clock(self, when: datetime) -> datetime:
        """Set the server's clock (it keeps ticking from there); an aware datetime."""
        if when.tzinfo is None:
            raise ValueError("set_clock needs an aware datetime, e.g. datetime(…, tzinfo=UTC)")
        return self._put_clock({"now": when.isoformat()})

    def advance_clock(self, duration: str | timedelta) -> datetime:
        """Move the clock forward: ``"1h30m"``, ``"2d"`` (the ``older_than`` grammar) or a
        ``timedelta`` (which may be negative)."""
        if isinstance(duration, timedelta):
            return self.set_clock(self.now() + duration)
        return self._put_clock({"advance": duration})

    def _put_clock(self, body: dict[str, str]) -> datetime:
        return datetime.fromisoformat(self.request("PUT", "/-/fixture/clock", body)["now"])

    def run_jobs(self) -> list[dict[str, Any]]:
        """Run every queued job to its end; each job as it ended (id, kind, state, error,
        counts, result)."""
        jobs: list[dict[str, Any]] = self.request("POST", "/-/fixture/run-jobs")["jobs"]
        return jobs

    def reset(self) -> None:
        """Back to the seeded state, the clock at real time, no jobs."""
        self.request("POST", "/-/fixture/reset")

    def __repr__(self) -> str:
        return f"RegistryServer({self.url}, seed={self.seed_path})"


def seed_text(seed: SeedSource) -> str | None:
    """The seed's TOML: a ``Path`` (or other path-like) is read; a ``str`` is the text itself,
    unless it has no ``=`` and names a file."""
    if seed is None:
        return None
    if isinstance(seed, os.PathLike):
        return Path(seed).read_text()
    if "=" not in seed and Path(seed).is_file():
        return Path(seed).read_text()
    return seed


class ServerPool:
    """The session's servers, one per (seed, configuration); a server handed out before is
    reset before it is handed out again."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._servers: dict[str, RegistryServer] = {}
        self._used: set[str] = set()

    def get(self, seed: SeedSource, config: ConfigOverrides) -> RegistryServer:
        text = seed_text(seed)
        key = json.dumps([text, config], sort_keys=True, default=str)
        server = self._servers.get(key)
        if server is None:
            server = RegistryServer(self._tmp.mktemp("registry-service"), text, config)
            try:
                server.start()
            except BaseException:
                # A bad seed or setting: every test asking for it fails alike, with this error.
                server.stop()
                raise
            self._servers[key] = server
        elif key in self._used:
            server.reset()
        self._used.add(key)
        return server

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


@pytest.fixture
def registry_seed() -> SeedSource:
    """The seed of ``registry_server``: override to return a ``Path`` or TOML text."""
    return None


@pytest.fixture
def registry_config() -> ConfigOverrides:
    """Settings for ``registry_server``, ``{"section": {"key": value}}``: override to change."""
    return {}


@pytest.fixture(scope="session")
def registry_server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    """The servers of this session (stopped at its end)."""
    pool = ServerPool(tmp_path_factory)
    yield pool
    pool.close()


@pytest.fixture
def registry_server(
    registry_server_pool: ServerPool,
    registry_seed: SeedSource,
    registry_config: ConfigOverrides,
) -> RegistryServer:
    """A running registry-service in fixture mode with ``registry_seed``, in its seeded state."""
    return registry_server_pool.get(registry_seed, registry_config)
