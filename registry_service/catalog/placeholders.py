"""The catalog's SQL placeholders (``?`` and ``:name``, as SQLite takes them) in PostgreSQL's
numbered form (``$1``, ``$2`` …).

Queries are written once, for both backends, with SQLite's placeholders; the PostgreSQL
backend turns each statement text into its numbered form once (cached: the same few hundred
texts come back all the time) and orders a call's parameters to match. Quoted text (string
literals, quoted identifiers) and comments are copied as they are, and ``::`` stays a cast.
This module knows nothing of drivers; it only rewrites text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class PlaceholdersInvalid(ValueError):
    """A statement mixes ``?`` with ``:name``, or its parameters do not fit it."""


@dataclass(frozen=True)
class Numbered:
    """A statement in PostgreSQL's placeholders: its text, and for a statement written with
    ``:name`` placeholders the names in the order of their numbers (``None`` for ``?``)."""

    sql: str
    names: tuple[str, ...] | None
    count: int

    def arguments(self, parameters: Sequence[Any] | Mapping[str, Any]) -> tuple[Any, ...]:
        """The parameters of one call, in the order of the numbers."""
        if self.names is None:
            if isinstance(parameters, Mapping):
                if self.count == 0:
                    # No placeholder takes a name: the mapping's names are all unused, which
                    # SQLite allows (and which a ``:name`` statement allows here too).
                    return ()
                raise PlaceholdersInvalid("positional placeholders need a sequence")
            if len(parameters) != self.count:
                raise PlaceholdersInvalid(
                    f"{self.count} placeholders, {len(parameters)} parameters"
                )
            return tuple(parameters)
        if not isinstance(parameters, Mapping):
            raise PlaceholdersInvalid("named placeholders need a mapping")
        try:
            return tuple(parameters[name] for name in self.names)
        except KeyError as missing:
            raise PlaceholdersInvalid(f"no parameter {missing}") from None


def _is_name_start(char: str) -> bool:
    return char.isalpha() or char == "_"


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char == "_"


@lru_cache(maxsize=4096)
def numbered(sql: str) -> Numbered:
    """``sql`` with its ``?``/``:name`` placeholders numbered (a repeated name keeps its
    number)."""
    out: list[str] = []
    names: list[str] = []
    positional = 0
    i, end = 0, len(sql)
    while i < end:
        char = sql[i]
        if char in "'\"":
            # A quoted literal or identifier, a doubled quote inside it escaping itself.
            close = i + 1
            while True:
                close = sql.find(char, close)
                if close < 0:
                    close = end
                    break
                if close + 1 < end and sql[close + 1] == char:
                    close += 2
                    continue
                break
            out.append(sql[i : close + 1])
            i = close + 1
        elif char == "-" and sql.startswith("--", i):
            newline = sql.find("\n", i)
            stop = end if newline < 0 else newline
            out.append(sql[i:stop])
            i = stop
        elif char == "?":
            positional += 1
            out.append(f"${positional}")
            i += 1
        elif char == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif char == ":" and i + 1 < end and _is_name_start(sql[i + 1]):
            stop = i + 2
            while stop < end and _is_name_char(sql[stop]):
                stop += 1
            name = sql[i + 1 : stop]
            if name not in names:
                names.append(name)
            out.append(f"${names.index(name) + 1}")
            i = stop
        else:
            out.append(char)
            i += 1
    if positional and names:
        raise PlaceholdersInvalid(f"a statement mixes ? and :name placeholders: {sql!r}")
    if names:
        return Numbered("".join(out), tuple(names), len(names))
    return Numbered("".join(out), None, positional)
