"""Time, injected: every date rule reads a ``Clock`` instead of calling ``datetime.now``.

``SystemClock`` is what ``serve`` uses; ``SettableClock`` (standing still) is what tests use and
``ShiftedClock`` (real time plus an offset) what fixture mode uses, so
that ``older_than``, token expiry and leases can be driven without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SettableClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("SettableClock needs an aware datetime")
        self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class ShiftedClock:
    """Real time moved by an offset that ``set`` and ``advance`` change: fixture mode's clock.

    Unlike ``SettableClock`` it keeps ticking, as a running server's clock must: a job that
    asks to be retried in two seconds becomes due, and pushes made one after another get
    increasing times (``keep_n`` orders by them).
    """

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ShiftedClock needs an aware datetime")
        self._offset = when - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        self._offset += delta

    def reset(self) -> None:
        """Back to real time."""
        self._offset = timedelta(0)
