"""The catalog writer's own thread, which alone uses the writer's ``sqlite3`` connection.

Jobs run one at a time in the order they were submitted. A job's result comes back to the
event loop through one ``call_soon_threadsafe`` — the whole cost of a crossing, which is why
``Catalog.run_write`` hands a unit of work over as one job rather than one job per statement.
A job runs to its end even if the task awaiting it is cancelled meanwhile (the catalog's
bookkeeping relies on that, see ``db._to_the_end``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# What the thread is handed: a job, or None to stop.
_Job = Callable[[], object] | None


class WriterThread:
    """One daemon thread running submitted jobs in order.

    A daemon: a catalog somebody forgot to close must not keep the process from exiting;
    ending the thread abruptly is no worse for SQLite than a crash.
    """

    def __init__(self, name: str = "catalog-writer") -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        # Crossings to the thread so far: what a write's cost is counted in.
        self.jobs_submitted = 0
        self._stopped = False

    def submit(self, job: Callable[[], object]) -> None:
        """Run ``job()`` on the thread after every job submitted before it; nothing comes back
        (the job reports through ``call_soon_threadsafe`` itself). CatalogClosed once stopped:
        the job would never run, and its caller wait forever."""
        if self._stopped:
            raise CatalogClosed("the catalog is closed")
        self.jobs_submitted += 1
        self._jobs.put(job)

    async def call(self, fn: Callable[..., T], /, *args: Any) -> T:
        """Run ``fn(*args)`` on the thread and return its result (or raise its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def job() -> None:
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                report_soon(loop, _fail, future, exc)
            else:
                report_soon(loop, _succeed, future, result)

        self.submit(job)
        return await future

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """Let the jobs already submitted run, then end the thread."""
        self._stopped = True
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()


class CatalogClosed(RuntimeError):
    """A write handed to a catalog after it was closed."""


def report_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: Any) -> None:
    """Schedule ``fn(*args)`` on ``loop`` from the writer's thread; nothing if the loop is closed
    (its awaiting tasks are gone with it)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)


def _succeed(future: asyncio.Future[T], result: T) -> None:
    # Done already when its task was cancelled while the job ran.
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
