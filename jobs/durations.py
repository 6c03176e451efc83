"""GitLab's ``older_than`` duration language, parsed into a ``timedelta`` (spec §3, Decision 2).

This module owns the grammar and nothing else: no clock, no I/O, no knowledge of the API. It
follows gitlab-chronic-duration where that is sensible — case-insensitive; digits and words may
touch (``1month``, ``2h30m``); each number is multiplied by the unit word after it; a number with
no unit counts as seconds; ``h:m:s`` and ``m:s`` colon forms; decimals such as ``1.5h``; ``1m`` is
one minute and ``1mo`` one month (30 days); a year is 365.25 days. It deliberately departs from
GitLab in being strict, because GitLab turns garbage into a silent no-op while we answer 400:
any word that is not a unit (``fortnight``, ``one``), a unit with no number before it, a sign
(``-1h``), a string without a number, and a total of zero are all ``DurationInvalid``. Commas and
the word ``and`` are accepted as separators (``1 hour and 30 minutes``). Numbers are digits only.
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import re2


class DurationInvalid(ValueError):
    """The text is not a positive duration in GitLab's ``older_than`` language."""


_MINUTE_S = 60
_HOUR_S = 60 * _MINUTE_S
_DAY_S = 24 * _HOUR_S

_UNIT_SECONDS: dict[str, int] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), _MINUTE_S),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), _HOUR_S),
    **dict.fromkeys(("d", "dy", "day", "days"), _DAY_S),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 7 * _DAY_S),
    **dict.fromkeys(("mo", "mos", "month", "months"), 30 * _DAY_S),
    # 365.25 days is a whole number of seconds, so every unit stays an exact integer.
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), 31_557_600),
}
_SEPARATOR_WORDS = frozenset({"and"})

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_COLON_FORM = re2.compile(r"\A(\d+):(\d+)(?::(\d+))?\z", _OPTIONS)
# One token per match: a number, a word, or a run of separators. Anything else stops the scan.
_TOKEN = re2.compile(r"(\d+(?:\.\d+)?)|([a-z]+)|([\s,]+)", _OPTIONS)

_MAX_SECONDS = timedelta.max // timedelta(seconds=1)


def parse_duration(text: str) -> timedelta:
    """Parse an ``older_than`` value such as ``2d``, ``1month`` or ``1:30:00``."""
    normalized = text.strip().lower()
    seconds = _parse_colon_form(normalized, original=text)
    if seconds is None:
        seconds = _parse_words(normalized, original=text)
    if seconds > _MAX_SECONDS:
        raise DurationInvalid(f"duration is too long: {text!r}")
    # Checked after rounding: "0.0000001s" is zero at timedelta's microsecond resolution.
    duration = timedelta(microseconds=round(seconds * 1_000_000))
    if duration <= timedelta(0):
        raise DurationInvalid(f"duration is not positive: {text!r}")
    return duration


def _parse_colon_form(text: str, *, original: str) -> Fraction | None:
    match = _COLON_FORM.search(text)
    if match is None:
        return None
    parts = [_to_fraction(part, original=original) for part in match.groups() if part is not None]
    total = Fraction(0)
    # "m:s" and "h:m:s": each field to the left is worth 60 of the one on its right.
    for part in parts:
        total = total * 60 + part
    return total


def _parse_words(text: str, *, original: str) -> Fraction:
    total = Fraction(0)
    pending: Fraction | None = None
    seen_number = False
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise DurationInvalid(f"unexpected {text[position]!r}: {original!r}")
        number, word, _separator = match.groups()
        position = match.end()
        if number is not None:
            if pending is not None:
                total += pending  # the previous number had no unit: seconds
            pending = _to_fraction(number, original=original)
            seen_number = True
        elif word is not None:
            if word in _SEPARATOR_WORDS:
                continue
            unit_s = _UNIT_SECONDS.get(word)
            if unit_s is None:
                raise DurationInvalid(f"unknown word {word!r}: {original!r}")
            if pending is None:
                raise DurationInvalid(f"unit {word!r} has no number: {original!r}")
            total += pending * unit_s
            pending = None
    if not seen_number:
        raise DurationInvalid(f"no number in duration: {original!r}")
    if pending is not None:
        total += pending
    return total


def _to_fraction(digits: str, *, original: str) -> Fraction:
    try:
        return Fraction(digits)
    except ValueError as exc:  # more digits than Python will convert
        raise DurationInvalid(f"number too long: {original!r}") from exc
