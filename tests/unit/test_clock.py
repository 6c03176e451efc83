"""The clocks: ``SettableClock`` stands still, ``ShiftedClock`` (fixture mode) ticks from
wherever it is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from registry_service.clock import SettableClock, ShiftedClock

CLOSE = timedelta(seconds=5)


def test_shifted_clock_starts_at_real_time() -> None:
    clock = ShiftedClock()
    assert abs(clock.now() - datetime.now(UTC)) < CLOSE
    assert clock.offset == timedelta(0)


def test_shifted_clock_set_advance_and_reset() -> None:
    clock = ShiftedClock()
    target = datetime(2030, 1, 1, tzinfo=UTC)
    clock.set(target)
    assert abs(clock.now() - target) < CLOSE
    clock.advance(timedelta(days=2))
    assert abs(clock.now() - (target + timedelta(days=2))) < CLOSE
    clock.reset()
    assert abs(clock.now() - datetime.now(UTC)) < CLOSE


def test_shifted_clock_keeps_ticking() -> None:
    clock = ShiftedClock()
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    first = clock.now()
    assert clock.now() >= first
    assert clock.now().tzinfo is not None


@pytest.mark.parametrize("clock", [ShiftedClock(), SettableClock()], ids=["shifted", "settable"])
def test_a_naive_time_is_refused(clock: ShiftedClock | SettableClock) -> None:
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2030, 1, 1))
