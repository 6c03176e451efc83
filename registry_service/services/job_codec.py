"""How a job row's JSON columns are written and read back, type-checked (the machinery under
``services/job_data.py``, which declares each job kind's types with it).

A stored type is a frozen dataclass over ``Stored``: ``to_json`` and ``from_members`` say what
its members are; ``encode`` writes the JSON text its column holds, ``encode_patch`` the JSON
merge patch a finishing job applies in SQLite, and ``decode`` reads the text back through
``Members``, which checks each member's type as it is read and refuses members nobody read.
Anything that is not the type's is ``JobDataInvalid``, naming the column and the member. No SQL
and no I/O here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, Self

from registry_service.services.jobs import JobKind

Json = dict[str, Any]


class JobDataInvalid(ValueError):
    """A job row's JSON is not what its kind stores: a bug, or a damaged catalog."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Members:
    """One stored JSON object, read member by member; every read checks the member's type."""

    def __init__(self, where: str, value: object) -> None:
        if not isinstance(value, dict):
            raise JobDataInvalid(f"{where}: expected a JSON object, got {_shown(value)}")
        self._where = where
        self._left: Json = dict(value)

    def _invalid(self, key: str, expected: str, value: object) -> JobDataInvalid:
        return JobDataInvalid(f"{self._where}.{key}: expected {expected}, got {_shown(value)}")

    def text(self, key: str) -> str | None:
        value = self._left.pop(key, None)
        if value is None or isinstance(value, str):
            return value
        raise self._invalid(key, "a string or null", value)

    def count(self, key: str) -> int | None:
        value = self._left.pop(key, None)
        # bool is an int to Python, not to the JSON a count is.
        if value is None or (type(value) is int and value >= 0):
            return value
        raise self._invalid(key, "a non-negative integer or null", value)

    def flag(self, key: str) -> bool:
        value = self._left.pop(key, False)
        if isinstance(value, bool):
            return value
        raise self._invalid(key, "true or false", value)

    def time(self, key: str) -> datetime | None:
        value = self._left.pop(key, None)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise self._invalid(key, "an ISO 8601 time with its offset", value)
        return parsed

    def names(self, key: str) -> tuple[str, ...] | None:
        value = self._left.pop(key, None)
        if value is None:
            return None
        if isinstance(value, list) and all(type(v) is str for v in value):
            return tuple(value)
        raise self._invalid(key, "a list of strings", value)

    def tally(self, key: str, allowed: frozenset[str]) -> dict[str, int] | None:
        value = self._left.pop(key, None)
        if value is None:
            return None
        if isinstance(value, dict) and all(
            k in allowed and type(v) is int and v >= 0 for k, v in value.items()
        ):
            return dict(value)
        raise self._invalid(key, f"counts keyed by {sorted(allowed)}", value)

    def pairs(self, key: str) -> tuple[tuple[str, int], ...] | None:
        """A list of [string, integer] pairs, as tuples."""
        value = self._left.pop(key, None)
        if value is None:
            return None
        # Up to 100,000 pairs: one pass of checks, then tuples made in C.
        if isinstance(value, list) and all(
            type(p) is list and len(p) == 2 and type(p[0]) is str and type(p[1]) is int
            for p in value
        ):
            return tuple(map(tuple, value))
        raise self._invalid(key, "a list of [string, integer] pairs", value)

    def done(self) -> None:
        """Every member was read: anything left is unknown to this kind (a misspelt
        ``keep_n`` must not be silently ignored by a job that deletes tags)."""
        if self._left:
            raise JobDataInvalid(f"{self._where}: unknown member(s) {sorted(self._left)}")


def present(**members: Any) -> Json:
    """The members that are set: an absent member and a null one read back alike."""
    return {key: value for key, value in members.items() if value is not None}


def iso_time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class Stored:
    """What every params, counts and result type shares: the column it lives in, and JSON."""

    column: ClassVar[str]
    # Members a finished job's row drops (set to null in the merge patch that finishes it).
    dropped_when_finished: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> Json:
        raise NotImplementedError

    @classmethod
    def from_members(cls, members: Members) -> Self:
        raise NotImplementedError

    def encode(self) -> str:
        """The JSON text the row stores."""
        return json.dumps(self.to_json(), sort_keys=True)

    def encode_patch(self) -> str:
        """A JSON merge patch (RFC 7396) that sets this over what the row holds: unset members
        stay as saved, and those a finished job drops go."""
        dropped = dict.fromkeys(self.dropped_when_finished)
        return json.dumps({**dropped, **self.to_json()}, sort_keys=True)

    @classmethod
    def from_json(cls, value: object) -> Self:
        members = Members(cls.column, value)
        try:
            decoded = cls.from_members(members)
        except JobDataInvalid:
            raise
        except ValueError as exc:
            # A value of the right type whose meaning is wrong (a bad regex or duration).
            raise JobDataInvalid(f"{cls.column}: {exc}") from exc
        members.done()
        return decoded

    @classmethod
    def decode(cls, text: str | bytes | None) -> Self:
        """Read the column's JSON text (NULL reads as ``{}``); ``JobDataInvalid`` if it is not
        this type's."""
        if text is None:
            return cls.from_json({})
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise JobDataInvalid(f"{cls.column}: not JSON ({exc})") from exc
        return cls.from_json(value)


class StoredParams(Stored):
    column = "params"
    kind: ClassVar[JobKind]


class StoredCounts(Stored):
    column = "counts"


class StoredResult(Stored):
    column = "result"

    @property
    def reason(self) -> str | None:
        """Why the job deleted nothing, if it says."""
        return None
