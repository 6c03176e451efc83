"""GitLab's ``:id`` parameter: a numeric id, or a (URL-decoded) full path."""

from __future__ import annotations

import re

_NUMERIC = re.compile(r"-?\d+")


def parse_ref(ref: str) -> int | str:
    """An int for all-digit ids (``^-?\\d+$``), else the path with surrounding slashes removed."""
    if _NUMERIC.fullmatch(ref):
        return int(ref)
    return ref.strip("/")
