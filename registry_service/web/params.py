"""Reading a page's query and form values: forgiving (a bad number falls back to the default)
because people type URLs; what the services validate is left to them."""

from __future__ import annotations

from collections.abc import Mapping


def int_value(values: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    try:
        number = int(values.get(name, ""))
    except ValueError:
        return default
    return max(low, min(number, high))


def text_value(values: Mapping[str, str], name: str) -> str | None:
    """The stripped value, or None when absent or blank."""
    value = values.get(name, "").strip()
    return value or None
