"""The tag-cleanup planner: which tags a bulk delete removes, and why every other tag stays.

This module owns the ordered rules of GitLab's bulk tag delete (spec §3 steps 3-8, Decisions 1
and 3) as one pure function, ``plan_cleanup``, plus the tag-name regex compilation the API layer
also uses to validate parameters. It performs no I/O, reads no clock (``now`` is an argument) and
deletes nothing; the job that calls it does the deleting. Regexes are RE2 only (google-re2),
never Python's ``re``: RE2 syntax is what GitLab accepts, and it matches in linear time, which
matters because the patterns come from API callers.

The rules, in order; the first that applies to a tag is its ``KeepReason``:

0. A tag in ``protected`` (a protection rule of the project matches it: issue 14) is kept
   (``PROTECTED``); it is no candidate, so ``keep_n`` counts only unprotected tags. Which tags
   are protected is the caller's to say, as data: the planner knows no rules.
1. ``latest`` is kept (``LATEST``) unless ``keep_latest`` is off (repository deletion).
2. A tag matching the keep regex is kept (``KEEP_REGEX``).
3. A tag not matching the delete regex is kept (``NOT_MATCHED``); a ``None`` delete regex
   matches nothing. The survivors of 1-3 are the *candidates*.
4. ``keep_n``: candidates ranked newest first — by creation date, an undated tag counting as
   ``now``; then newer push first; then name ascending — and the first ``keep_n`` kept (``KEEP_N``).
5. ``older_than``: of the rest, a tag created strictly before ``now - older_than`` is deleted; an
   undated one is kept (``UNDATED``), a newer one is kept (``NEWER``). Without ``older_than``
   every remaining candidate is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from typing import Any, Protocol

import re2

# The extension module below google-re2's ``re``-compatible wrapper. It is used directly
# because the wrapper costs ~5 µs per match (it rebuilds match spans for ``str`` offsets) and
# the planner only needs a yes/no; the engine's ``Match`` answers in ~1 µs. Unlike some ``re2``
# packages, google-re2 never falls back to Python's ``re``: an unsupported pattern is an error.
from re2 import _re2


class Anchoring(StrEnum):
    """How a user's pattern is anchored to the whole tag name (Decision 1)."""

    GITLAB = "gitlab"  # "\A" + pattern + "\z", without a group, exactly as GitLab builds it
    FULL = "full"  # "\A(?:" + pattern + ")\z": the whole name must match the whole pattern


class KeepReason(StrEnum):
    """The first rule that kept a tag, in the order the planner applies them."""

    PROTECTED = "protected"
    LATEST = "latest"
    KEEP_REGEX = "name_regex_keep"
    NOT_MATCHED = "not_matched"
    KEEP_N = "keep_n"
    NEWER = "older_than"
    UNDATED = "undated"


@dataclass(frozen=True)
class TagInfo:
    """What the planner knows about one tag."""

    name: str
    created_at: datetime | None  # image build time, aware UTC; None when the image has no date
    pushed_at: datetime  # aware UTC; only breaks ties between equal creation dates


@dataclass(frozen=True)
class CleanupRules:
    """The parameters of one bulk delete, already parsed (the API maps ``name_regex`` in)."""

    name_regex_delete: str | None
    name_regex_keep: str | None = None
    keep_n: int | None = None
    older_than: timedelta | None = None
    anchoring: Anchoring = Anchoring.GITLAB
    keep_latest: bool = True

    def __post_init__(self) -> None:
        if self.keep_n is not None and self.keep_n < 0:
            raise ValueError(f"keep_n must not be negative: {self.keep_n}")
        if self.older_than is not None and self.older_than <= timedelta(0):
            raise ValueError(f"older_than must be positive: {self.older_than}")


@dataclass(frozen=True)
class CleanupPlan:
    """The outcome: tags to delete, and every other input tag with the reason it stays."""

    delete: tuple[str, ...]  # least wanted first: the exact reverse of the keep_n ranking
    keep: Mapping[str, KeepReason]


class RegexInvalid(ValueError):
    """RE2 rejected a tag-name pattern; ``str(exc)`` is RE2's own error text."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(reason)
        self.pattern = pattern
        self.reason = reason


class TagRegex:
    """A compiled, anchored tag-name pattern."""

    __slots__ = ("_everything", "_match", "pattern")

    def __init__(self, pattern: str, engine: Any, *, everything: bool = False) -> None:
        self.pattern = pattern  # the anchored pattern actually matched
        self._match = engine.Match
        # Skips the engine for the commonest pattern: 100,000 calls were a third of planning.
        self._everything = everything

    def matches(self, name: str) -> bool:
        """Whether the tag name matches."""
        if self._everything:
            # ".*" (the documented way to select every tag): RE2's dot matches all but "\n".
            return "\n" not in name
        text = name.encode()
        # The anchors live in the pattern, so the search itself is unanchored; this is what
        # keeps GitLab's "\Aa|b\z" meaning "starts with a, or ends with b".
        span = self._match(_UNANCHORED, text, 0, len(text))[0]
        return bool(span != _NO_MATCH)

    def __repr__(self) -> str:
        return f"TagRegex({self.pattern!r})"


_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_NO_MATCH = (-1, -1)


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # errors come back as RegexInvalid, not on stderr
    options.never_capture = True  # only yes/no is needed; skipping groups is faster
    return options


_OPTIONS = _options()


def compile_tag_regex(pattern: str | None, anchoring: Anchoring) -> TagRegex:
    """Compile a user's tag-name pattern, raising ``RegexInvalid`` if RE2 rejects it.

    ``None`` compiles as the empty pattern, as GitLab's string interpolation does, so it matches
    only the empty name: that is the meaning of an absent keep regex.
    """
    source = pattern or ""
    # The bare pattern is checked first so RE2's message quotes what the caller sent, not our
    # anchors (GitLab validates the bare pattern at the API too).
    _compile_engine(source, reported_as=source)
    if anchoring is Anchoring.GITLAB:
        anchored = "\\A" + source + "\\z"
    else:
        anchored = "\\A(?:" + source + ")\\z"
    engine = _compile_engine(anchored, reported_as=source)
    return TagRegex(anchored, engine, everything=source == ".*")


def compile_search_regex(pattern: str) -> TagRegex:
    """Compile a pattern that may match anywhere in a name (GitLab's tag protection rules:
    ``stable|release`` protects every tag containing either), raising ``RegexInvalid``."""
    return TagRegex(pattern, _compile_engine(pattern, reported_as=pattern))


def _compile_engine(pattern: str, *, reported_as: str) -> Any:
    engine = _re2.RE2(pattern.encode(), _OPTIONS)
    if not engine.ok():
        reason = engine.error()
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise RegexInvalid(reported_as, text)
    return engine


class Dated(Protocol):
    """Any tag record the planner can read (``TagInfo``, or a catalog row with these names)."""

    @property
    def name(self) -> str: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def pushed_at(self) -> datetime: ...


def plan_cleanup(
    tags: Iterable[Dated],
    rules: CleanupRules,
    now: datetime,
    protected: Container[str] = frozenset(),
) -> CleanupPlan:
    """Decide which tags a bulk delete removes; ``now`` is aware UTC; ``protected`` names the
    tags no cleanup may delete.

    Raises ``RegexInvalid`` for a bad pattern and ``ValueError`` for duplicate tag names.
    """
    # An absent keep regex is GitLab's "\A\z", which only the empty name matches; comparing
    # names directly skips the engine in the common case.
    kept_by_regex: Callable[[str], bool] = (
        compile_tag_regex(rules.name_regex_keep, rules.anchoring).matches
        if rules.name_regex_keep
        else "".__eq__
    )
    deleted_by_regex: Callable[[str], bool] = (
        _matches_nothing
        if rules.name_regex_delete is None
        else compile_tag_regex(rules.name_regex_delete, rules.anchoring).matches
    )

    keep: dict[str, KeepReason] = {}
    candidates: list[Dated] = []
    seen: set[str] = set()
    for tag in tags:
        name = tag.name
        if name in seen:
            raise ValueError(f"duplicate tag name: {name!r}")
        seen.add(name)
        if name in protected:
            keep[name] = KeepReason.PROTECTED
        elif rules.keep_latest and name == "latest":
            keep[name] = KeepReason.LATEST
        elif kept_by_regex(name):
            keep[name] = KeepReason.KEEP_REGEX
        elif not deleted_by_regex(name):
            keep[name] = KeepReason.NOT_MATCHED
        else:
            candidates.append(tag)

    ranked = _rank_newest_first(candidates, now)
    if rules.keep_n is not None:
        for tag in ranked[: rules.keep_n]:
            keep[tag.name] = KeepReason.KEEP_N
        ranked = ranked[rules.keep_n :]

    cutoff = _cutoff(now, rules.older_than)
    delete: list[str] = []
    for tag in reversed(ranked):
        if cutoff is None:
            delete.append(tag.name)
        elif tag.created_at is None:
            keep[tag.name] = KeepReason.UNDATED
        elif tag.created_at < cutoff:
            delete.append(tag.name)
        else:
            keep[tag.name] = KeepReason.NEWER
    return CleanupPlan(delete=tuple(delete), keep=keep)


def _rank_newest_first(candidates: list[Dated], now: datetime) -> list[Dated]:
    # Decision 3: equal creation dates (common with reproducible builds) fall back to newer push
    # first, then name ascending, so keep_n always keeps the same tags. Three stable sorts, last
    # key first, are faster here than one sort on a tuple of datetimes; reverse=True keeps ties
    # in their existing order, so each sort preserves the one before it.
    ranked = sorted(candidates, key=attrgetter("name"))
    ranked.sort(key=attrgetter("pushed_at"), reverse=True)
    ranked.sort(key=lambda tag: now if tag.created_at is None else tag.created_at, reverse=True)
    return ranked


def _matches_nothing(name: str) -> bool:
    return False


def _cutoff(now: datetime, older_than: timedelta | None) -> datetime | None:
    if older_than is None:
        return None
    try:
        return now - older_than
    except OverflowError:
        # A cutoff before year 1: no tag can be older, so age deletes nothing.
        return datetime.min.replace(tzinfo=now.tzinfo)
