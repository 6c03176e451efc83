"""A real PostgreSQL cluster for tests: Debian's ``postgresql`` binaries, a temporary directory,
a free loopback port, one cluster per test session and one fresh database per test.

``initdb`` refuses to run as root, so under root (as CI runs) the cluster belongs to the
``postgres`` OS user and lives in a directory handed to it. ``fsync`` and friends are off: the
cluster is thrown away at the end of the session, so durability buys nothing here. Clients
connect over TCP with a password (SCRAM), as a deployed registry would, so URLs carry one.

A fresh database is ``CREATE DATABASE … TEMPLATE`` a database migrated once per session:
a file copy, far faster than running the migrations for every test. Faster still is not to
create one: a test done with its database hands it back (``release_database``), and once
emptied (TRUNCATE … RESTART IDENTITY, ~60 ms against ~650 ms for a create and a drop on a busy
2-core machine) it serves the next test, as long as its schema is still the template's.

``session_server(config)`` is the one way to reach the cluster: it starts it on first use,
keeps it in the pytest session's stash (so every conftest that asks shares it) and stops it
when the session ends, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from registry_service.catalog.pg_migrate import apply_migrations
from tests.redis_server import free_port

T = TypeVar("T")

SUPERUSER = "postgres"
# Only ever reachable on 127.0.0.1, by a cluster that lives as long as the test session.
PASSWORD = "registry-test-secret"
MIGRATED_TEMPLATE = "registry_migrated"
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    # Tests open pools (several per multi-process test); 300 leaves room for them.
    "max_connections": "300",
    "log_min_messages": "warning",
}
# For tests only: a benchmark keeps PostgreSQL's durable defaults, as SQLite's FULL is kept.
NOT_DURABLE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def postgres_bin(root: Path = Path("/usr/lib/postgresql")) -> Path:
    """Debian's newest PostgreSQL binaries; a clear failure if the package is missing."""
    found = sorted(
        root.glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed; the README test command installs it "
            "(apt-get install -y postgresql)"
        )
    return found[-1].parent


def run_async(step: Callable[[], Awaitable[T]]) -> T:
    """Run ``step`` to its end on a loop of its own: the fixtures that call this may themselves
    run inside a test's event loop, which must not be re-entered."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(step())).result()  # type: ignore[arg-type]


class PostgresServer:
    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.bin = postgres_bin()
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="registry-pg-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._template_ready = False
        # What the migrated schema is made of (see _SCHEMA_SHAPE); a database handed back
        # with another shape is dropped, not reused.
        self._template_shape: str | None = None
        self._reusable: list[str] = []

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _as_owner(self) -> dict[str, object]:
        """Popen arguments that run a binary as the cluster's owner (``postgres`` under root)."""
        if os.geteuid() != 0:
            return {}
        return {"user": SUPERUSER, "group": SUPERUSER, "extra_groups": []}

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SUPERUSER)
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        password_file = self.directory / "password"
        password_file.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            os.chown(password_file, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            [
                str(self.bin / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(password_file),
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd=self.directory,
            **self._as_owner(),  # type: ignore[arg-type]
        )
        settings = {
            **SETTINGS,
            **({} if self.durable else NOT_DURABLE),
            "port": str(self.port),
            "unix_socket_directories": str(self.directory),
        }
        command = [str(self.bin / "postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                **self._as_owner(),  # type: ignore[arg-type]
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited at start:\n{self.log.read_text()[-2000:]}")
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"postgres did not start on port {self.port}")

    def stop(self) -> None:
        if self._process is not None:
            # SIGINT is the "fast" shutdown: sessions are ended, nothing is waited for.
            self._process.send_signal(2)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    async def admin(self, *statements: str) -> None:
        """Run statements in the ``postgres`` database (CREATE/DROP DATABASE and the like)."""
        conn = await asyncpg.connect(self.url())
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    def create_database(self, *, migrated: bool = True) -> str:
        """A new database, empty or at the latest schema; its URL."""
        if migrated and self._reusable:
            return self._reusable.pop()
        name = f"test_{next(self._names)}"
        if migrated:
            self._ensure_template()
            # FILE_COPY copies the template's files (~20 ms here) instead of writing each page
            # to the WAL (~55 ms); with fsync off its checkpoint costs next to nothing.
            run_async(
                lambda: self.admin(
                    f"CREATE DATABASE {name} TEMPLATE {MIGRATED_TEMPLATE} STRATEGY FILE_COPY"
                )
            )
        else:
            run_async(lambda: self.admin(f"CREATE DATABASE {name}"))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        # FORCE: a test that left a connection open must not keep its database alive.
        run_async(lambda: self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def release_database(self, url: str) -> None:
        """Done with a database from ``create_database()``: emptied for the next test if its
        schema is still the migrated template's, dropped otherwise."""
        try:
            emptied = run_async(lambda: self._emptied(url))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            emptied = False
        if emptied:
            self._reusable.append(url)
        else:
            self.drop_database(url)

    async def _emptied(self, url: str) -> bool:
        """Whether the database at ``url`` has the template's shape, and if so, every row of
        it deleted and every id sequence restarted."""
        conn = await asyncpg.connect(url)
        try:
            # Connections a test left open (a server it did not stop) go; their locks too.
            await conn.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if self._template_shape is None or await conn.fetchval(_SCHEMA_SHAPE) != (
                self._template_shape
            ):
                return False
            tables = await conn.fetchval(_TABLES_TO_EMPTY)
            if tables:
                await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            return True
        finally:
            await conn.close()

    def _ensure_template(self) -> None:
        if self._template_ready:
            return

        async def migrate() -> None:
            await self.admin(f"CREATE DATABASE {MIGRATED_TEMPLATE}")
            conn = await asyncpg.connect(self.url(MIGRATED_TEMPLATE))
            try:
                await apply_migrations(conn)
                self._template_shape = await conn.fetchval(_SCHEMA_SHAPE)
            finally:
                await conn.close()
            # No connections may be open to a template while it is copied; this keeps it so.
            await self.admin(f"ALTER DATABASE {MIGRATED_TEMPLATE} ALLOW_CONNECTIONS false")

        run_async(migrate)
        self._template_ready = True


# The schema objects of the public schema and the schema version, as one text: equal for a
# database whose schema no test changed (tests that migrate or alter schemas get another).
_SCHEMA_SHAPE = """
SELECT concat_ws(' ',
    (SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname, c.relkind)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public'),
    (SELECT string_agg(c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod),
                       ',' ORDER BY c.relname, a.attnum)
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped),
    (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal),
    (SELECT string_agg(p.proname, ',' ORDER BY p.proname)
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public'),
    (SELECT version::text FROM schema_version))
"""
# Every table but the schema's version, quoted, comma-separated.
_TABLES_TO_EMPTY = """
SELECT string_agg(quote_ident(tablename), ', ' ORDER BY tablename) FROM pg_tables
 WHERE schemaname = 'public' AND tablename <> 'schema_version'
"""


server_key = pytest.StashKey[PostgresServer]()


def session_server(config: pytest.Config) -> PostgresServer:
    """The session's one cluster: started on first use, stopped when the session ends."""
    server = config.stash.get(server_key, None)
    if server is None:
        server = PostgresServer()
        server.start()
        config.add_cleanup(server.stop)
        config.stash[server_key] = server
    return server
