"""Units of work run whole on the writer's thread, group-committed: ``Catalog.run_write``.

Under a read storm every crossing between the event loop and the writer's thread waits behind
every ready read, so a unit's cost is its number of crossings. A unit handed to ``run_write``
crosses once: it joins the *batch* the writer's thread is running, or starts one. A batch is
one job: ``BEGIN IMMEDIATE``, then each unit in a ``SAVEPOINT`` of its own (one that raises is
rolled back alone), taking units that arrive while it runs, then one ``COMMIT`` for all of them
— one fsync — and one report back to the loop. A unit's ``run_write`` returns only once that
COMMIT is durable, as ``Catalog.transaction()`` does.

A batch holds the catalog's write lock from the loop's side, so it never interleaves with a
``transaction()`` unit. If it gets the lock while a group of those is open (their COMMIT still
to come), its units join that group's transaction and wait for its COMMIT.

A unit is an ``async`` function of a ``Writer``, so the catalog's query functions serve both
paths; on the writer's thread the ``Writer`` runs each statement at once, and the coroutine
must finish without suspending (it may only run catalog statements).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from registry_service.catalog.protocols import Writer
from registry_service.catalog.writer_thread import WriterThread, report_soon

T = TypeVar("T")

Work = Callable[[Writer], Coroutine[Any, Any, T]]


class UnitSuspended(RuntimeError):
    """A ``run_write`` unit awaited something that is not a catalog statement."""


@dataclass(eq=False)
class _Unit(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]
    # Set under the batches' mutex: the writer's thread took it (it will run), or its caller
    # gave up before that (it will not).
    taken: bool = False
    dropped: bool = False
    # Written on the writer's thread, read on the loop once the batch is reported.
    result: Any = None
    error: BaseException | None = None
    # Loop side: the batch was reported; a cancelled caller waits on ``settled`` for that.
    reported: bool = False
    settled: asyncio.Future[None] | None = None
    # The open ``transaction()`` group it joined, whose COMMIT it waits for.
    group: asyncio.Future[None] | None = None


@dataclass(eq=False)
class _Batch:
    units: list[_Unit[Any]] = field(default_factory=list)
    failure: BaseException | None = None


class WriteBatches:
    """The ``run_write`` side of the catalog writer (see the module doc)."""

    def __init__(
        self,
        thread: WriterThread,
        conn: sqlite3.Connection,
        writer: Writer,
        lock: asyncio.Lock,
        open_group: Callable[[], asyncio.Future[None] | None],
        translate: Callable[[BaseException], BaseException],
        before_write: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._thread = thread
        self._conn = conn
        self._writer = writer
        self._lock = lock
        self._open_group = open_group
        self._translate = translate
        self._before_write = before_write
        self._mutex = threading.Lock()
        # Whether a batch is running and will still take units; the units it has not taken.
        self._accepting = False
        # Whether a task waits for the lock to start a batch of the pending units.
        self._starting = False
        self._pending: collections.deque[_Unit[Any]] = collections.deque()
        self._starters: set[asyncio.Task[None]] = set()
        self._group: asyncio.Future[None] | None = None
        self.batches_run = 0

    async def run(self, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        unit: _Unit[T] = _Unit(work, loop.create_future())
        with self._mutex:
            if self._accepting:
                unit.group = self._group
                self._pending.append(unit)
                joined = True
            elif self._starting:
                # A batch is waiting for the lock: this unit is one of its units.
                self._pending.append(unit)
                joined = True
            else:
                joined = False
        if not joined:
            if self._lock.locked():
                # The lock is held (a batch, or a transaction() group, is running): wait for
                # it in a task of its own, which every unit that comes meanwhile joins — one
                # batch for all of them rather than one each, and none left behind if this
                # caller is cancelled.
                with self._mutex:
                    self._starting = True
                    self._pending.append(unit)
                starter = loop.create_task(self._start_queued_batch(loop))
                self._starters.add(starter)
                starter.add_done_callback(self._starters.discard)
            else:
                await self._start_batch(loop, unit)
        try:
            result = await unit.future
        except asyncio.CancelledError:
            await self._abandon(loop, unit)
            raise
        if unit.group is not None:
            try:
                await asyncio.shield(unit.group)
            except BaseException as exc:
                raise self._translate(exc) from exc
        return result

    async def _start_batch(self, loop: asyncio.AbstractEventLoop, unit: _Unit[Any]) -> None:
        # Free and unwaited, the lock is taken without yielding to the loop.
        await self._lock.acquire()
        group = self._open_group()
        if group is None and self._before_write is not None:
            # As before a transaction() group's BEGIN (the disk reserve, see db.Catalog).
            try:
                await self._before_write()
            except BaseException:
                self._lock.release()
                raise
        with self._mutex:
            # A batch releases the lock only after it stopped accepting.
            assert not self._accepting
            self._accepting = True
            self._group = unit.group = group
            self._pending.append(unit)
        try:
            self._thread.submit(lambda: self._run_batch(loop, group))
        except BaseException:
            with self._mutex:
                self._accepting = False
                self._pending.clear()
            self._lock.release()
            raise

    async def _start_queued_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start a batch of the units queued while the lock was held; a failure to start is
        each of theirs."""
        try:
            await self._lock.acquire()
        except BaseException as exc:  # noqa: BLE001 - cancelled: the loop is closing
            self._fail_queued(exc)
            return
        group = self._open_group()
        if group is None and self._before_write is not None:
            try:
                await self._before_write()
            except BaseException as exc:  # noqa: BLE001 - reported to every queued unit
                self._lock.release()
                self._fail_queued(exc)
                return
        with self._mutex:
            self._starting = False
            if all(unit.dropped for unit in self._pending):
                # Every caller gave up while it waited.
                self._pending.clear()
                self._lock.release()
                return
            self._accepting = True
            self._group = group
        try:
            self._thread.submit(lambda: self._run_batch(loop, group))
        except BaseException as exc:  # noqa: BLE001 - reported to every queued unit
            with self._mutex:
                self._accepting = False
            self._lock.release()
            self._fail_queued(exc)

    def _fail_queued(self, exc: BaseException) -> None:
        with self._mutex:
            self._starting = False
            units = list(self._pending)
            self._pending.clear()
        for unit in units:
            unit.reported = True
            if not unit.future.done():
                unit.future.set_exception(exc)
            if unit.settled is not None and not unit.settled.done():
                unit.settled.set_result(None)

    async def _abandon(self, loop: asyncio.AbstractEventLoop, unit: _Unit[Any]) -> None:
        """The caller is cancelled: drop the unit if the thread has not taken it; otherwise
        wait until its batch is reported, so the cancellation goes on once the unit has been
        committed or undone (never while it is still running)."""
        with self._mutex:
            if not unit.taken:
                unit.dropped = True
                return
        if unit.reported:
            return
        unit.settled = loop.create_future()
        waiting = unit.settled
        while not waiting.done():
            try:
                await asyncio.shield(waiting)
            except asyncio.CancelledError:
                continue

    # --- on the writer's thread --------------------------------------------------------------

    def _run_batch(
        self, loop: asyncio.AbstractEventLoop, group: asyncio.Future[None] | None
    ) -> None:
        own_transaction = group is None
        batch = _Batch()
        try:
            if own_transaction:
                self._conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:  # noqa: BLE001 - reported to every unit of the batch
            batch.failure = exc
        while (unit := self._take()) is not None:
            # Whenever it queued, a unit waits for the COMMIT of the transaction it ran in.
            unit.group = group
            batch.units.append(unit)
            if batch.failure is None:
                self._run_unit(unit, batch)
        if own_transaction and batch.failure is None:
            try:
                self._conn.execute("COMMIT")
            except BaseException as exc:  # noqa: BLE001 - reported to every unit
                batch.failure = exc
        if own_transaction and batch.failure is not None and self._conn.in_transaction:
            # If even that fails the connection is broken; the next BEGIN will say so.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
        self.batches_run += 1
        report_soon(loop, self._report, batch)

    def _take(self) -> _Unit[Any] | None:
        with self._mutex:
            while self._pending:
                unit = self._pending.popleft()
                if not unit.dropped:
                    unit.taken = True
                    return unit
            self._accepting = False
            return None

    def _run_unit(self, unit: _Unit[Any], batch: _Batch) -> None:
        try:
            self._conn.execute("SAVEPOINT unit")
        except BaseException as exc:  # noqa: BLE001 - the batch cannot go on
            batch.failure = exc
            return
        try:
            unit.result = _run_inline(unit.work(self._writer))
        except BaseException as exc:  # noqa: BLE001 - this unit's own failure
            unit.error = exc
            if not self._conn.in_transaction:
                # SQLite undid the whole transaction itself (it may on SQLITE_FULL): the
                # batch's other units are gone too.
                batch.failure = exc
                return
            try:
                self._conn.execute("ROLLBACK TO unit")
            except BaseException as undo:  # noqa: BLE001
                batch.failure = undo
                return
        try:
            self._conn.execute("RELEASE unit")
        except BaseException as exc:  # noqa: BLE001
            batch.failure = exc

    # --- back on the loop --------------------------------------------------------------------

    def _report(self, batch: _Batch) -> None:
        self._lock.release()
        for unit in batch.units:
            unit.reported = True
            error = batch.failure or unit.error
            if not unit.future.done():
                if error is not None:
                    unit.future.set_exception(self._translate(error))
                else:
                    unit.future.set_result(unit.result)
            if unit.settled is not None and not unit.settled.done():
                unit.settled.set_result(None)


def _run_inline(step: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end; UnitSuspended if it does suspend."""
    try:
        step.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    step.close()
    raise UnitSuspended("a run_write unit may only await catalog statements")
