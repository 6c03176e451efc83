"""The real ``registry-service`` as a child process, for end-to-end tests.

``RegistryServer`` runs ``python -m registry_service serve`` (so no console script on PATH is
needed) on a loopback port and a data directory it keeps across restarts: ``start()`` waits
until ``/-/readiness`` answers 200, ``stop()`` sends SIGTERM and waits, ``kill()`` sends SIGKILL,
and ``start()`` again reuses the same port and data. Output goes to files, never to pipes (the
access log of a few hundred requests would fill a pipe and block the server).
With ``tls=`` (a ``tests.tls_certs.ServerCert``) it serves HTTPS
with that certificate and ``url`` says ``https``.
A port picked here is free when picked, not when the child binds it seconds later: another
process on the machine may take it in between (another test run's server, answering
``/-/readiness`` as well, then going away). So readiness counts only when the listener is the
child's own socket (or one of the workers it forked), and a first start that finds its picked
port taken picks another.
``run_cli`` runs other subcommands to completion. Children get the test's environment minus
every ``REGISTRY_SERVICE_*``, so a developer's own settings cannot leak in.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.tls_certs import ServerCert

ADMIN_TOKEN = "glpat-e2e-admin-token-0123456789"
START_TIMEOUT_S = 20.0
PORT_PICKS = 3
STOP_TIMEOUT_S = 40.0
CLI_TIMEOUT_S = 60.0
REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True if we can bind the port ourselves, i.e. no server holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def listener_pids(port: int) -> set[int]:
    """The processes holding a listening TCP socket on loopback ``port`` (Linux ``/proc``)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the socket inode.
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    pids: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue  # gone, or not ours to read
        if any(link.removeprefix("socket:[").removesuffix("]") in inodes for link in links):
            pids.add(int(proc.name))
    return pids


def parent_pid(pid: int) -> int | None:
    """``pid``'s parent (field 4 of ``/proc/<pid>/stat``, after the parenthesised name)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def is_own(pid: int, ancestor: int) -> bool:
    """True if ``pid`` is ``ancestor`` or was forked from it (``serve --workers N``'s children
    hold the listening sockets, not the parent)."""
    seen: int | None = pid
    while seen is not None and seen > 1:
        if seen == ancestor:
            return True
        seen = parent_pid(seen)
    return False


IDENTITY_TABLES = ("users", "personal_access_tokens", "namespaces", "projects", "members")


def read_catalog(
    data_dir: Path, tables: Sequence[str] = IDENTITY_TABLES
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of some catalog tables, read from the file (safe beside a running server: WAL)."""
    db = sqlite3.connect(data_dir / "registry.sqlite3")
    try:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in tables}
    finally:
        db.close()


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment minus every ``REGISTRY_SERVICE_*``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_SERVICE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_cli(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path = REPO_ROOT,
    timeout_s: float = CLI_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    """``python -m registry_service ARGS`` to completion; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "registry_service", *args],
        env=base_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


class ServerFailed(AssertionError):
    """The server did not become ready (or exited); the message carries its output."""


class PortTaken(ServerFailed):
    """Another process listens on the server's port."""


class RegistryServer:
    """One registry-service process (at a time) on a fixed port and data directory."""

    def __init__(
        self,
        workdir: Path,
        *,
        admin_token: str | None = ADMIN_TOKEN,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        port: int | None = None,
        tls: ServerCert | None = None,
    ) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.tls = tls
        self._use_port(port or free_port())
        self.port_picked = port is None
        self.admin_token = admin_token
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.stdout_path = workdir / "stdout-0.log"
        self.stderr_path = workdir / "stderr-0.log"

    def _use_port(self, port: int) -> None:
        self.port = port
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"

    @property
    def env(self) -> dict[str, str]:
        env = {
            "REGISTRY_SERVICE_LISTEN": f"127.0.0.1:{self.port}",
            "REGISTRY_SERVICE_DATA_DIR": str(self.data_dir),
            "REGISTRY_SERVICE_EXTERNAL_URL": self.url,
        }
        if self.admin_token is not None:
            env["REGISTRY_SERVICE_ADMIN_TOKEN"] = self.admin_token
        if self.tls is not None:
            env["REGISTRY_SERVICE_SERVER_TLS_CERT"] = str(self.tls.chain)
            env["REGISTRY_SERVICE_SERVER_TLS_KEY"] = str(self.tls.key)
        env.update(self.extra_env)
        return env

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``: the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    def logged_requests(self, method: str, path_pattern: str, status_pattern: str) -> list[str]:
        """Access-log lines of the current run for ``METHOD <path>`` answered with a status,
        both given as regular expressions (the path's must match the whole target)."""
        pattern = re.compile(
            rf'"{method} (?:{path_pattern}) HTTP/1\.1" (?:{status_pattern}) ', re.MULTILINE
        )
        return [m.group(0) for m in pattern.finditer(self.stderr)]

    @property
    def stdout(self) -> str:
        """What the current (or last) run printed on stdout."""
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def start(
        self, *, args: Sequence[str] | None = None, timeout_s: float = START_TIMEOUT_S
    ) -> None:
        """Start ``serve`` (with ``args``, default those given at creation) and return once
        ``/-/readiness`` answers 200 from it."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the server is already running")
        for pick in range(PORT_PICKS):
            try:
                self._launch(args, timeout_s)
                return
            except PortTaken:
                # Only a port nobody has seen yet may change; a restart keeps its port.
                if not (self.port_picked and self.starts == pick + 1 and pick + 1 < PORT_PICKS):
                    raise
                self._use_port(free_port())

    def _launch(self, args: Sequence[str] | None, timeout_s: float) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.stdout_path = self.workdir / f"stdout-{self.starts}.log"
        self.stderr_path = self.workdir / f"stderr-{self.starts}.log"
        command = [
            sys.executable, "-m", "registry_service", "serve",
            *(self.args if args is None else args),
        ]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                command, env=base_env(self.env), cwd=REPO_ROOT, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        context = None
        if self.tls is not None:
            # Readiness only: the tests check names and chains with the real clients.
            context = ssl.create_default_context(cafile=self.tls.root.cert)
            context.check_hostname = False
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                failed = PortTaken if "address already in use" in self.stderr else ServerFailed
                raise failed(
                    f"registry-service exited with {code} before ready\n{self._output()}"
                )
            try:
                with urllib.request.urlopen(
                    f"{self.url}/-/readiness", timeout=2, context=context
                ) as response:
                    if response.status == 200:
                        holders = listener_pids(self.port)
                        if any(is_own(pid, self.process.pid) for pid in holders):
                            return
                        if holders:
                            self.kill()
                            raise PortTaken(
                                f"127.0.0.1:{self.port} is served by process(es) {holders},"
                                f" not by registry-service {self.process.pid}\n{self._output()}"
                            )
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last = repr(exc)
            time.sleep(0.05)
        self.kill()
        raise ServerFailed(f"not ready after {timeout_s}s ({last})\n{self._output()}")

    def _output(self) -> str:
        return f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        assert self.process is not None, "never started"
        self.process.send_signal(signum)

    def wait(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        assert self.process is not None, "never started"
        return self.process.wait(timeout=timeout_s)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait for the exit code (a graceful shutdown)."""
        if not self.running:
            return self.process.returncode if self.process else 0
        self.signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def kill(self) -> int:
        """SIGKILL: the crash case; nothing gets to clean up."""
        if not self.running:
            return self.process.returncode if self.process else 0
        self.signal(signal.SIGKILL)
        return self.wait()

    def __repr__(self) -> str:
        return f"RegistryServer({self.url}, data_dir={self.data_dir}, running={self.running})"


# The ``start_server`` fixture: options as for ``RegistryServer``, plus ``start=False``.
StartServer = Callable[..., RegistryServer]
