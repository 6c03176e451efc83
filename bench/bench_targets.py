"""The registries under test: how each is started, made ready, watched for memory and stopped.

A ``Target`` is all a measurement knows about a registry (name, address, credentials, repository
prefix), so registry-service and distribution go through the same code. Every process and temp
directory is registered on the caller's ``ExitStack``; unwinding it (normally, on an exception
or on Ctrl-C) stops the servers — SIGTERM, then SIGKILL after 10 s — and deletes their data.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

REPO = "bench/app"
ROOT_USER = "root"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {host}
"""


class StepFailed(Exception):
    """A benchmark step got an answer it cannot measure; the message says what was answered."""


@dataclass(frozen=True)
class Target:
    name: str
    host: str  # 127.0.0.1:<port>
    creds: tuple[str, str] | None
    repo: str
    pid: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def auth_headers(self) -> dict[str, str]:
        """``Authorization: Basic …`` for tools given raw headers (wrk), or nothing."""
        if self.creds is None:
            return {}
        token = base64.b64encode(":".join(self.creds).encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def skopeo_creds(self, side: str) -> list[str]:
        """``--src-creds``/``--dest-creds`` arguments (``side`` is ``src`` or ``dest``)."""
        return [] if self.creds is None else [f"--{side}-creds", ":".join(self.creds)]

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"


def make_workdir(stack: ExitStack, prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    stack.callback(shutil.rmtree, path, ignore_errors=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_registry_service(
    stack: ExitStack,
    venv_bin: Path,
    serve_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> Target:
    """Start ``registry-service serve [serve_args]`` on a free port with a fresh data dir (and
    ``extra_env``, e.g. a catalog URL); create bench/app."""
    workdir = make_workdir(stack, "bench-registry-service-")
    host = f"127.0.0.1:{free_port()}"
    token = "bench-" + secrets.token_hex(16)
    env = _clean_env() | {
        "REGISTRY_SERVICE_DATA_DIR": str(workdir / "data"),
        "REGISTRY_SERVICE_LISTEN": host,
        "REGISTRY_SERVICE_EXTERNAL_URL": f"http://{host}",
        "REGISTRY_SERVICE_ADMIN_TOKEN": token,
    } | dict(extra_env or {})
    command = str(venv_bin / "registry-service")
    log_path = workdir / "serve.log"
    proc = _spawn(stack, [command, "serve", *serve_args], env, workdir, log_path)
    target = Target("registry-service", host, (ROOT_USER, token), REPO, proc.pid, log_path)
    _wait_ready(proc, f"{target.base_url}/-/readiness", log_path)
    group, _ = REPO.split("/")
    for args in (["groups", "create", group], ["projects", "create", REPO]):
        _run_admin([command, "admin", *args], env, workdir)
    return target


def start_seeded_registry_service(
    stack: ExitStack,
    venv_bin: Path,
    seed: Callable[[Path], None],
    extra_env: Mapping[str, str] | None = None,
    *,
    workers: int = 0,
) -> Target:
    """As ``start_registry_service``, but bench/app is created and ``seed(data_dir)`` run
    *before* ``serve`` starts (``admin`` works on the catalog file directly), so a seed may
    write the catalog without a server beside it. ``extra_env`` adds settings
    (``REGISTRY_SERVICE_…``) for ``serve``; with ``workers``, that many ``registry-service
    worker`` processes start beside it with the same settings (``extra_env`` must then name
    a Redis in ``REGISTRY_SERVICE_REDIS_URL``)."""
    workdir = make_workdir(stack, "bench-registry-service-")
    host = f"127.0.0.1:{free_port()}"
    token = "bench-" + secrets.token_hex(16)
    data_dir = workdir / "data"
    env = _clean_env() | {
        "REGISTRY_SERVICE_DATA_DIR": str(data_dir),
        "REGISTRY_SERVICE_LISTEN": host,
        "REGISTRY_SERVICE_EXTERNAL_URL": f"http://{host}",
        "REGISTRY_SERVICE_ADMIN_TOKEN": token,
    }
    command = str(venv_bin / "registry-service")
    group, _ = REPO.split("/")
    for args in (["groups", "create", group], ["projects", "create", REPO]):
        _run_admin([command, "admin", *args], env, workdir)
    seed(data_dir)
    log_path = workdir / "serve.log"
    proc = _spawn(stack, [command, "serve"], env | dict(extra_env or {}), workdir, log_path)
    target = Target("registry-service", host, (ROOT_USER, token), REPO, proc.pid, log_path)
    _wait_ready(proc, f"{target.base_url}/-/readiness", log_path)
    for n in range(workers):
        _spawn(stack, [command, "worker"], env | dict(extra_env or {}), workdir,
               workdir / f"worker-{n}.log")
    return target


def start_redis(stack: ExitStack) -> str:
    """A throwaway ``redis-server`` (no persistence) on a free port; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StepFailed("redis-server not found on PATH (apt-get install -y redis-server)")
    workdir = make_workdir(stack, "bench-redis-")
    port = free_port()
    proc = _spawn(
        stack,
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        os.environ, workdir, workdir / "redis.log",
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StepFailed(f"redis-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise StepFailed(f"redis-server on port {port}: not ready after {READY_TIMEOUT_S:.0f} s")


def distribution_root(target: Target) -> Path:
    """The filesystem storage root of a registry started by ``start_distribution``."""
    return target.log_path.parent / "data"


def start_distribution(stack: ExitStack) -> Target:
    """Start CNCF distribution (``docker-registry serve``) on a free port with a fresh root."""
    workdir = make_workdir(stack, "bench-distribution-")
    host = f"127.0.0.1:{free_port()}"
    config = workdir / "config.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=workdir / "data", host=host))
    log_path = workdir / "serve.log"
    argv = [_which("docker-registry"), "serve", str(config)]
    proc = _spawn(stack, argv, _clean_env(), workdir, log_path)
    target = Target("distribution", host, None, REPO, proc.pid, log_path)
    _wait_ready(proc, f"{target.base_url}/v2/", log_path)
    return target


def _clean_env() -> dict[str, str]:
    """The parent environment without REGISTRY_SERVICE_* (a developer's settings must not leak)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_SERVICE_")}


def _which(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise StepFailed(f"{program} not found on PATH")
    return path


def _spawn(
    stack: ExitStack, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl-C reaches only the bench, which then stops the server itself.
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    stack.callback(_stop, proc)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = log_path.read_text(errors="replace")[-2000:]
            raise StepFailed(f"{url}: server exited with {proc.returncode}:\n{log}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise StepFailed(f"{url}: not ready after {READY_TIMEOUT_S:.0f} s")


def _run_admin(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StepFailed(f"{' '.join(argv[1:])}: exit {done.returncode}: {done.stderr.strip()}")


def read_rss_kib(pid: int, field: str = "VmRSS") -> int:
    """One ``/proc/<pid>/status`` memory field (``VmRSS``, ``VmHWM``…) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise StepFailed(f"/proc/{pid}/status has no {field}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and every live process below it: a
    ``serve --workers N`` parent and its children count as one server."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces; the fields after it may not.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        times[child] = (int(fields[11]) + int(fields[12])) / tick
    total, family = 0.0, {pid}
    for child in sorted(times):  # a child's pid is not always above its parent's: walk up
        ancestor = child
        while ancestor not in family and ancestor in parents and ancestor > 1:
            ancestor = parents[ancestor]
        if ancestor in family:
            total += times[child]
    return total


class PeakRss:
    """Samples a process's VmRSS every ``interval_s`` in a thread while the block runs."""

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.before_kib = 0
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self.before_kib = self.peak_kib = read_rss_kib(self.pid)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.peak_kib = max(self.peak_kib, read_rss_kib(self.pid))
            except (OSError, StepFailed):
                return
