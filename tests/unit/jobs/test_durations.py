"""The ``older_than`` grammar (jobs/durations.py): GitLab's units, and our stricter rejections."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.durations import DurationInvalid, parse_duration

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", HOUR),
        ("2d", 2 * DAY),
        ("1month", 30 * DAY),
        ("1m", MINUTE),
        ("1mo", 30 * DAY),
        ("2h30m", 2 * HOUR + 30 * MINUTE),
        ("90", timedelta(seconds=90)),
        ("1.5h", 90 * MINUTE),
        ("1 week", 7 * DAY),
        ("2wks", 14 * DAY),
        ("3 mos", 90 * DAY),
        ("1y", timedelta(days=365.25)),
        ("2 yrs", timedelta(days=730.5)),
        ("1:30:00", 90 * MINUTE),
        ("1:30", timedelta(seconds=90)),
        ("1H", HOUR),
        ("2 Days", 2 * DAY),
        ("1MONTH", 30 * DAY),
        ("  45 secs  ", timedelta(seconds=45)),
        ("1 hour and 30 minutes", 90 * MINUTE),
        ("1d, 2h", DAY + 2 * HOUR),
        ("1dy", DAY),
        ("3 hrs 5", 3 * HOUR + timedelta(seconds=5)),
        ("0.5s", timedelta(milliseconds=500)),
    ],
)
def test_parses_gitlab_duration_language(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0",
        "0s",
        "0:00",
        "abc",
        "1 fortnight",
        "-1h",
        "+1h",
        "h",
        "1h h",
        "one hour",
        "1.2.3",
        "1:30.5",
        "0.0000001s",
        "9" * 5000,
        "3000000y",
    ],
)
def test_rejects_garbage_zero_negative_and_overflowing_durations(text: str) -> None:
    with pytest.raises(DurationInvalid):
        parse_duration(text)


def test_duration_invalid_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="fortnight"):
        parse_duration("1 fortnight")
