"""Exclusive locks that hold across processes: ``flock`` on a file, taken without waiting.

What the storage layer and the job runner use so that several ``serve`` processes (``--workers``,
or separate processes over one data directory) agree on who may write an upload session or run
the jobs. The kernel drops a process's locks when it dies, SIGKILL included, so a crash never
leaves a lock behind. Locks are tried, never waited for in the kernel: a blocking ``flock`` would
hold an I/O thread for as long as another process streams a chunk, and two processes each with
every thread waiting on the other's locks would deadlock. Callers poll instead
(``acquire_polling``). Nothing here knows what the locked file stands for.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

# Polling backoff while another process holds the lock: short at first (a PATCH usually holds
# a session for milliseconds), growing to a ceiling so a long upload costs few wake-ups.
FIRST_WAIT_S = 0.001
LONGEST_WAIT_S = 0.05


def try_lock(path: Path, *, create: bool = True) -> int | None:
    """Open (creating if missing, unless ``create`` is False) and ``flock`` ``path``; the
    locked descriptor, or None if another holder has it. Blocking I/O: run it on an I/O thread.

    The lock belongs to this descriptor: a second ``try_lock`` in the same process conflicts
    with the first, as one in another process does. ``FileNotFoundError`` if the directory is
    gone (the file is never created outside an existing directory), or if the file is and
    ``create`` is False.
    """
    fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0) | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_locked(path: Path) -> int:
    """Create ``path`` (it must not exist) and ``flock`` it; the locked descriptor. Nobody
    else has opened a file this new, so the lock is always granted. Blocking I/O."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_locked(path: Path) -> bool:
    """Whether a live holder has ``path`` locked (False if it is gone). Blocking I/O."""
    try:
        fd = try_lock(path, create=False)
    except FileNotFoundError:
        return False
    if fd is None:
        return True
    unlock(fd)
    return False


def unlock(fd: int) -> None:
    """Release a lock from ``try_lock`` (closing the descriptor releases it)."""
    os.close(fd)


async def acquire_polling(attempt: Callable[[], Awaitable[int | None]]) -> int:
    """Call ``attempt`` (a ``try_lock`` run off the loop) until it returns a descriptor."""
    wait_s = FIRST_WAIT_S
    while True:
        fd = await attempt()
        if fd is not None:
            return fd
        await asyncio.sleep(wait_s)
        wait_s = min(wait_s * 2, LONGEST_WAIT_S)


def unlock_when_stopped(fd: int, jobs: Sequence[Future[Any]]) -> None:
    """Release a lock once every job in ``jobs`` has stopped (at once if none is running).

    For writes that a cancelled or failed task left running: another process taking the lock
    before they stop would interleave its bytes with theirs.
    """
    pending = [job for job in jobs if not job.done()]
    if not pending:
        unlock(fd)
        return
    remaining = [len(pending)]
    guard = threading.Lock()

    def stopped(_: Future[Any]) -> None:
        with guard:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            unlock(fd)

    for job in pending:
        job.add_done_callback(stopped)
