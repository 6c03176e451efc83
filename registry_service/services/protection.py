"""What a project's protection rules allow, as data and pure functions (issue 14, points 3-4).

Nothing here touches the catalog or a request: callers load the rules once (per push, per
delete, per cleanup run), build a ``TagProtection`` and a ``RepositoryProtection``, and ask.
Each question returns ``None`` (allowed) or the reason it is refused, naming the rule, which
the caller raises as ``403 DENIED``.

The actor's level is GitLab's number for their role (40 Maintainer, 50 Owner), or ``ADMIN``
(60) for an administrator: only an administrator reaches a rule's ``admin`` level, so
"administrators bypass mutable rules" needs no case of its own. Immutable rules take no level:
nobody passes them.

- **Tags** (GitLab's protected container tags): a rule's RE2 pattern matches anywhere in the
  name, as GitLab's do (``stable|release``). Among the mutable rules matching a tag the
  most restrictive level applies, to push (create or overwrite) and to delete. A matching
  immutable rule refuses overwriting an existing tag with another digest, and deleting it;
  creating the tag, or pushing the digest it already has, is allowed.
- **Repositories**: the pattern is the image path with ``*`` for any run of characters,
  matched whole and case-insensitively; the most restrictive level for the action applies.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from jobs.cleanup import Anchoring, TagRegex, compile_search_regex, compile_tag_regex

MAX_TAG_RULES_PER_PROJECT = 5
MAX_TAG_PATTERN_LENGTH = 100


class RuleLevel(IntEnum):
    """The least role a protection rule lets through (GitLab's names on the wire)."""

    MAINTAINER = 40
    OWNER = 50
    ADMIN = 60

    @property
    def wire(self) -> str:
        return self.name.lower()

    @classmethod
    def from_wire(cls, text: str) -> RuleLevel:
        """``maintainer``/``owner``/``admin``, or raise ValueError."""
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown protection level {text!r}") from None


ADMIN = int(RuleLevel.ADMIN)


def actor_level(level: int, *, is_admin: bool) -> int:
    """The level rules compare against: an administrator's is ``ADMIN``, whatever the role."""
    return ADMIN if is_admin else level


def _describe(level: int) -> str:
    # A rule's level is one of RuleLevel (the catalog's CHECK constraint says so).
    return RuleLevel(level).wire


@dataclass(frozen=True)
class TagRule:
    id: int
    pattern: str
    push_level: int | None
    delete_level: int | None
    immutable: bool
    regex: TagRegex = field(compare=False, repr=False)

    @classmethod
    def build(
        cls,
        id: int,
        pattern: str,
        push_level: int | None,
        delete_level: int | None,
        immutable: bool,
    ) -> TagRule:
        return cls(id, pattern, push_level, delete_level, immutable, _search_regex(pattern))

    def matches(self, tag: str) -> bool:
        return self.regex.matches(tag)

    def label(self) -> str:
        kind = "immutable tag rule" if self.immutable else "tag protection rule"
        return f"{kind} {self.id} ({self.pattern!r})"


def _strictest(rules: Iterable[TagRule | RepositoryRule], action: str) -> tuple[int, str] | None:
    """The highest level any of ``rules`` sets for ``action``, and the first rule setting it."""
    best: tuple[int, str] | None = None
    for rule in rules:
        level = rule.push_level if action == "push" else rule.delete_level
        if level is not None and (best is None or level > best[0]):
            best = (level, rule.label())
    return best


@dataclass(frozen=True)
class TagProtection:
    """A project's tag rules."""

    rules: tuple[TagRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def matching(self, tag: str) -> list[TagRule]:
        return [rule for rule in self.rules if rule.matches(tag)]

    def is_immutable(self, tag: str) -> bool:
        return any(rule.immutable and rule.matches(tag) for rule in self.rules)

    def protects(self, tag: str) -> bool:
        """Whether any rule matches: a cleanup (bulk delete, policy) never deletes such a tag."""
        return any(rule.matches(tag) for rule in self.rules)

    def push_refusal(
        self, tag: str, level: int, *, current: str | None, pushed: str
    ) -> str | None:
        """Why pointing ``tag`` (now at digest ``current``, or new) at ``pushed`` is refused."""
        matched = self.matching(tag)
        strictest = _strictest((r for r in matched if not r.immutable), "push")
        if strictest is not None and level < strictest[0]:
            return (
                f"tag {tag!r} is protected by {strictest[1]}: pushing it needs the"
                f" {_describe(strictest[0])} role or higher"
            )
        if current is not None and current != pushed:
            for rule in matched:
                if rule.immutable:
                    return (
                        f"tag {tag!r} is immutable ({rule.label()}): it cannot be overwritten"
                    )
        return None

    def delete_refusal(self, tag: str, level: int) -> str | None:
        """Why deleting ``tag`` is refused to an actor of ``level``."""
        matched = self.matching(tag)
        for rule in matched:
            if rule.immutable:
                return f"tag {tag!r} is immutable ({rule.label()}): it cannot be deleted"
        strictest = _strictest(matched, "delete")
        if strictest is not None and level < strictest[0]:
            return (
                f"tag {tag!r} is protected by {strictest[1]}: deleting it needs the"
                f" {_describe(strictest[0])} role or higher"
            )
        return None

    def repository_deletion_refusal(self, tags: Iterable[str], level: int) -> str | None:
        """Why deleting a repository holding ``tags`` is refused (GitLab's rule): a tag under
        an immutable rule stops everyone; one under a mutable rule everyone but administrators.
        """
        guarded: str | None = None
        for tag in tags:
            for rule in self.matching(tag):
                if rule.immutable:
                    return f"the repository holds tag {tag!r}, which is immutable ({rule.label()})"
                if guarded is None and level < ADMIN:
                    guarded = f"the repository holds tag {tag!r}, protected by {rule.label()}"
        if guarded is not None:
            return guarded + "; only an administrator may delete it"
        return None


# Rules are read on every push; compiling their patterns each time cost more than the rest of
# the checks (~50 µs a pattern). Compiled patterns are immutable and RE2 matches from any
# thread, so they are shared; the bound keeps a flood of distinct patterns from growing it.
_COMPILED_PATTERNS = 4096


@functools.lru_cache(maxsize=_COMPILED_PATTERNS)
def _search_regex(pattern: str) -> TagRegex:
    return compile_search_regex(pattern)


@functools.lru_cache(maxsize=_COMPILED_PATTERNS)
def repository_pattern_regex(pattern: str) -> TagRegex:
    """The whole-path, case-insensitive RE2 form of a repository path pattern: ``*`` is any
    run of characters, every other character stands for itself."""
    pieces = [".*" if c == "*" else _escape(c) for c in pattern.lower()]
    return compile_tag_regex("".join(pieces), Anchoring.FULL)


def _escape(char: str) -> str:
    # Escaping only ASCII punctuation: RE2 reads a backslash before a letter as a class
    # (``\d``) and rejects it before most non-ASCII characters.
    return "\\" + char if char.isascii() and not char.isalnum() else char


@dataclass(frozen=True)
class RepositoryRule:
    id: int
    pattern: str
    push_level: int | None
    delete_level: int | None
    regex: TagRegex = field(compare=False, repr=False)

    @classmethod
    def build(
        cls, id: int, pattern: str, push_level: int | None, delete_level: int | None
    ) -> RepositoryRule:
        return cls(id, pattern, push_level, delete_level, repository_pattern_regex(pattern))

    def matches(self, path: str) -> bool:
        return self.regex.matches(path.lower())

    def label(self) -> str:
        return f"repository protection rule {self.id} ({self.pattern!r})"


@dataclass(frozen=True)
class RepositoryProtection:
    """A project's repository rules."""

    rules: tuple[RepositoryRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def refusal(self, path: str, action: str, level: int) -> str | None:
        """Why ``action`` (``push`` or ``delete``) in repository ``path`` is refused."""
        strictest = _strictest((r for r in self.rules if r.matches(path)), action)
        if strictest is not None and level < strictest[0]:
            verb = "pushing to" if action == "push" else "deleting in"
            return (
                f"repository {path!r} is protected by {strictest[1]}: {verb} it needs the"
                f" {_describe(strictest[0])} role or higher"
            )
        return None


@dataclass(frozen=True)
class Protection:
    """Both kinds of rule of one project, loaded together."""

    tags: TagProtection = TagProtection()
    repositories: RepositoryProtection = RepositoryProtection()

    def __bool__(self) -> bool:
        return bool(self.tags) or bool(self.repositories)


NO_TAG_RULES = TagProtection()


def protected_tags(protection: TagProtection, names: Sequence[str]) -> frozenset[str]:
    """The tags of ``names`` a cleanup must keep."""
    if not protection:
        return frozenset()
    return frozenset(name for name in names if protection.protects(name))
