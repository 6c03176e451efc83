"""``serve --workers N``: a parent process that holds the port and keeps N server children.

Each child listens on a socket of its own, bound to the same address with ``SO_REUSEPORT``,
and the kernel spreads new connections evenly over them. A listening socket shared by all
children (bound once by the parent, inherited) was tried first and measured: every child's
event loop wakes on a new connection and asyncio accepts as many as are queued in one go, so
one child took all 32 connections of a ``wrk`` run and a second child added nothing. The
parent binds the address too (``SO_REUSEPORT``, never listening, so it gets no connections):
a taken port or a bad address fails once, before any child exists, and the port stays ours
while a child restarts. The cost: connections queued on a child that is SIGKILLed, not yet
accepted, are reset with it, and another process of the same user could join the port group.
Forked, not spawned: the children start from the parent's imported modules and loaded
settings, so N children cost little more start-up than one. The parent is single-threaded and
opens no event loop while it forks.

The parent never serves a request. It forwards SIGTERM/SIGINT (children drain in-flight
requests, as a single ``serve`` does) and SIGHUP (each child reloads its TLS certificate),
restarts a child that dies while serving, and gives up (exit 1, after stopping the others)
when a child dies ``MAX_START_FAILURES`` times in a row before it was ready, since that is a
configuration or environment problem a restart does not fix. It logs ``ready`` once every
child has reported that it serves (each child writes its pid to a pipe once its site runs).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("registry_service.supervisor")

MAX_START_FAILURES = 3
# After the children were told to stop, how much longer than their own drain time to wait.
STOP_GRACE_S = 5.0
TICK_S = 0.2
RESTART_PAUSE_S = 0.5

# Runs one child's server on its listening socket until it is told to stop; ``ready`` is to be
# called once it serves. Returns the exit code.
ServeChild = Callable[[socket.socket, Callable[[], None]], int]


@dataclass
class _Slot:
    index: int
    pid: int = 0
    ready: bool = False
    start_failures: int = 0
    exited: list[int] = field(default_factory=list)


class Supervisor:
    def __init__(
        self, reserved: socket.socket, workers: int, serve_child: ServeChild, drain_s: float
    ) -> None:
        self._reserved = reserved
        self._slots = [_Slot(i) for i in range(workers)]
        self._serve_child = serve_child
        self._drain_s = drain_s
        self._stopping = False
        self._reload = False
        self._announced = False
        self._ready_read, self._ready_write = os.pipe()

    def run(self) -> int:
        """Start the children and supervise them until told to stop; the exit code."""
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        }
        try:
            for slot in self._slots:
                self._start(slot)
            code = self._supervise()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        # Let go of the port before the children drain: once they have closed their sockets,
        # new connections are refused, as when a single server stops.
        self._reserved.close()
        self._stop_all()
        return code

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reload = True
        else:
            self._stopping = True

    def _supervise(self) -> int:
        while not self._stopping:
            if self._reload:
                self._reload = False
                log.info("SIGHUP: reloading the TLS certificate in every worker")
                self._signal_all(signal.SIGHUP)
            self._read_ready()
            for slot, status in self._reap():
                if self._stopping:
                    slot.pid = 0  # stopped by the same signal as the parent (a Ctrl-C)
                    continue
                if not self._restart_after(slot, status):
                    return 1
        return 0

    def _restart_after(self, slot: _Slot, status: int) -> bool:
        """Restart a child that died; False when it keeps dying before it is ready."""
        how = _describe(status)
        if slot.ready:
            slot.start_failures = 0
            log.warning("worker %d (pid %d) %s; restarting it", slot.index, slot.pid, how)
        else:
            slot.start_failures += 1
            if slot.start_failures >= MAX_START_FAILURES:
                log.error(
                    "worker %d %s before it was ready, %d times in a row; giving up",
                    slot.index,
                    how,
                    slot.start_failures,
                )
                return False
            log.warning(
                "worker %d (pid %d) %s before it was ready; restarting it",
                slot.index,
                slot.pid,
                how,
            )
            time.sleep(RESTART_PAUSE_S * slot.start_failures)
        self._start(slot)
        return True

    def _start(self, slot: _Slot) -> None:
        slot.ready = False
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._become_child()
        slot.pid = pid

    def _become_child(self) -> None:
        """In the child: serve, then leave without returning into the parent's code."""
        code = 1
        try:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            os.close(self._ready_read)
            write_end = self._ready_write
            host, port = self._reserved.getsockname()[:2]
            self._reserved.close()
            sock = listen_socket(host, port)

            def ready() -> None:
                # One short write: atomic on a pipe, so children never mix their lines.
                os.write(write_end, f"{os.getpid()}\n".encode())

            code = self._serve_child(sock, ready)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("worker %d failed", os.getpid())
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _read_ready(self) -> None:
        readable, _, _ = select.select([self._ready_read], [], [], TICK_S)
        if not readable:
            return
        for line in os.read(self._ready_read, 4096).decode().split():
            pid = int(line)
            for slot in self._slots:
                if slot.pid == pid:
                    slot.ready = True
        if not self._announced and all(slot.ready for slot in self._slots):
            self._announced = True
            log.info(
                "ready: %d workers (pids %s) serving on one port",
                len(self._slots),
                " ".join(str(slot.pid) for slot in self._slots),
            )

    def _reap(self) -> list[tuple[_Slot, int]]:
        died: list[tuple[_Slot, int]] = []
        for slot in self._slots:
            if slot.pid == 0:
                continue
            pid, status = os.waitpid(slot.pid, os.WNOHANG)
            if pid != 0:
                died.append((slot, status))
        return died

    def _signal_all(self, signum: int) -> None:
        for slot in self._slots:
            if slot.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signum)

    def _stop_all(self) -> None:
        """SIGTERM every child and wait for them to drain; SIGKILL whoever overstays."""
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self._drain_s + STOP_GRACE_S
        for slot in self._slots:
            if not slot.pid:
                continue
            while True:
                try:
                    pid, _ = os.waitpid(slot.pid, os.WNOHANG)
                except ChildProcessError:
                    break  # already reaped
                if pid != 0:
                    break
                if time.monotonic() > deadline:
                    log.error("worker %d (pid %d) did not stop; killing it", slot.index, slot.pid)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(slot.pid, signal.SIGKILL)
                    os.waitpid(slot.pid, 0)
                    break
                time.sleep(0.05)
            slot.pid = 0


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with {os.waitstatus_to_exitcode(status)}"


def _port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """The parent's hold on ``host:port``: bound, never listening (port 0 picks one)."""
    return _port_socket(host, port)


def listen_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """One child's listening socket in the port's ``SO_REUSEPORT`` group."""
    sock = _port_socket(host, port)
    sock.listen(backlog)
    return sock


def run_workers(host: str, port: int, workers: int, serve_child: ServeChild, drain_s: float) -> int:
    """Hold ``host:port`` and serve it with ``workers`` children until SIGTERM; the exit code."""
    reserved = reserve_port(host, port)
    try:
        return Supervisor(reserved, workers, serve_child, drain_s).run()
    finally:
        reserved.close()
