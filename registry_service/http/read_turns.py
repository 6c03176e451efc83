"""Reads take turns with writes on the event loop: at most a few reads start per loop turn.

A read (a manifest GET) runs start to end in one step on the loop — its catalog lookups do not
yield — while a write waits on the loop at each crossing to a thread and back. The loop runs,
per turn, every callback that was ready when the turn began, in order; under a pull storm that
is every reader's request, and a write waits a whole turn of them at each crossing. While a
write is in progress, admitting at most ``READS_PER_TURN`` reads per turn (the others wait,
first come first served) keeps a turn short, so a write's few crossings cost a few short turns.
Reads lose little: the loop is as busy as before, with the same reads in a different order;
and with no write in progress they are not held back at all.
"""

from __future__ import annotations

import asyncio
import collections

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Small enough that a turn is a few milliseconds of reads; large enough that reads do not
# spend their time waking each other (each waiting read costs one more future).
READS_PER_TURN = 8


class ReadTurns:
    """While writes are in progress, admits at most ``per_turn`` reads per loop turn; the
    others wait in arrival order."""

    def __init__(self, per_turn: int = READS_PER_TURN) -> None:
        self._per_turn = per_turn
        self.writes_in_progress = 0
        self._admitted = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._turn_pending = False
        self.waited = 0  # reads that had to wait for a later turn

    async def admit(self) -> None:
        """Return at once while this turn has room; otherwise in a later turn."""
        if not self._waiting and (
            self._admitted < self._per_turn or not self.writes_in_progress
        ):
            self._admitted += 1
            self._next_turn_soon()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self.waited += 1
        self._next_turn_soon()
        # A cancelled read (its client left) cancels its waiter, which the next turn skips.
        await waiter

    def _next_turn_soon(self) -> None:
        # call_soon from inside a turn runs in the next one: that is how a turn is counted.
        if not self._turn_pending:
            self._turn_pending = True
            asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        self._turn_pending = False
        self._admitted = 0
        while self._waiting and self._admitted < self._per_turn:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._admitted += 1
        if self._waiting or self._admitted:
            self._next_turn_soon()


def read_turns_middleware(turns: ReadTurns) -> Middleware:
    """Reads wait for their turn in ``turns``; writes go straight on, and hold reads to their
    turns while they are in progress."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in READ_METHODS:
            await turns.admit()
            return await handler(request)
        turns.writes_in_progress += 1
        try:
            return await handler(request)
        finally:
            turns.writes_in_progress -= 1

    return middleware
