"""The ``--workers`` parent (registry_service/supervisor.py) with real forked children.

The children here are forks of the test process running small stand-ins for the server: they
report ready (or not), then exit, die by SIGKILL, or stop the parent, as a scripted sequence;
a file counts their starts across forks.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_service.supervisor import MAX_START_FAILURES, Supervisor, reserve_port

Ready = Callable[[], None]


def supervise(tmp_path: Path, script: Callable[[int, Ready], int], workers: int = 1) -> int:
    """Run a supervisor whose children run ``script(start_number, ready)``."""
    starts = tmp_path / "starts"
    starts.touch()

    def serve_child(_sock: socket.socket, ready: Ready) -> int:
        with starts.open("a") as f:
            f.write("x")
        return script(starts.stat().st_size, ready)

    sock = reserve_port("127.0.0.1", 0)
    try:
        return Supervisor(sock, workers, serve_child, drain_s=5).run()
    finally:
        sock.close()


def start_count(tmp_path: Path) -> int:
    return (tmp_path / "starts").stat().st_size


def test_children_that_die_before_ready_make_the_parent_give_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "registry_service.supervisor")
    started = time.monotonic()

    code = supervise(tmp_path, lambda _n, _ready: 2)

    assert code == 1
    assert start_count(tmp_path) == MAX_START_FAILURES
    assert time.monotonic() - started < 30
    assert f"exited with 2 before it was ready, {MAX_START_FAILURES} times" in caplog.text


def test_a_child_that_dies_while_serving_is_restarted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "registry_service.supervisor")

    def script(n: int, ready: Ready) -> int:
        ready()
        time.sleep(0.3)  # let the parent see it ready
        if n == 1:
            return 3
        if n == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        os.kill(os.getppid(), signal.SIGTERM)
        time.sleep(30)  # until the parent's SIGTERM
        return 0

    assert supervise(tmp_path, script) == 0
    assert start_count(tmp_path) == 3
    assert "exited with 3; restarting it" in caplog.text
    assert "was killed by SIGKILL; restarting it" in caplog.text
    assert "ready: 1 workers" in caplog.text


def test_ready_is_reported_once_every_child_is_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "registry_service.supervisor")
    started = time.time()

    def script(n: int, ready: Ready) -> int:
        time.sleep(0.5 * n)  # the second child is slower
        ready()
        if n == 2:
            time.sleep(0.5)
            os.kill(os.getppid(), signal.SIGTERM)
        time.sleep(30)
        return 0

    assert supervise(tmp_path, script, workers=2) == 0
    ready_lines = [r for r in caplog.records if r.getMessage().startswith("ready:")]
    assert len(ready_lines) == 1
    assert ready_lines[0].getMessage().startswith("ready: 2 workers")
    assert ready_lines[0].created - started >= 1.0  # not before the slower child was ready
