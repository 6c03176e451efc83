"""GitLab's ``:id`` parameter: a numeric id, or a (URL-decoded) full path."""

from __future__ import annotations

import re

_NUMERIC = re.compile(r"-?[0-9]+")
# SQLite's INTEGER is 64-bit: no row has an id beyond it, and such a number cannot even be bound
# as a query parameter.
MAX_ID = 2**63 - 1
# Row ids start at 1, so this one finds nothing.
NO_SUCH_ID = 0


def parse_ref(ref: str) -> int | str:
    """An int for all-digit ids (``^-?\\d+$``), else the path with surrounding slashes removed."""
    if _NUMERIC.fullmatch(ref):
        # Negative or out of range: still an id by GitLab's rule, just never an existing one.
        found = parse_id(ref)
        return NO_SUCH_ID if found is None else found
    return ref.strip("/")


def parse_id(text: str) -> int | None:
    """A row id from a URL segment: ASCII digits within SQLite's range, else None."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None
