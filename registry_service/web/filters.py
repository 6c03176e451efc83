"""Template filters: sizes, instants and digests as people read them."""

from __future__ import annotations

from datetime import UTC, datetime

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size(value: int | None) -> str:
    if value is None:
        return "—"
    amount = float(value)
    for unit in UNITS:
        if amount < 1024 or unit == UNITS[-1]:
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def short_digest(value: str | None) -> str:
    if not value:
        return "—"
    algorithm, _, hex_part = value.partition(":")
    return f"{algorithm}:{hex_part[:12]}"
