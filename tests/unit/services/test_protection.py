"""The protection rules as pure functions: matching, the most restrictive rule, the
administrator's bypass of mutable rules only, immutable tags, repository path patterns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.cleanup import RegexInvalid
from registry_service.services.protection import (
    ADMIN,
    RepositoryProtection,
    RepositoryRule,
    RuleLevel,
    TagProtection,
    TagRule,
    actor_level,
    protected_tags,
)

DEVELOPER, MAINTAINER, OWNER = 30, 40, 50


def mutable(id: int, pattern: str, push: int, delete: int) -> TagRule:
    return TagRule.build(id, pattern, push, delete, False)


def immutable(id: int, pattern: str) -> TagRule:
    return TagRule.build(id, pattern, None, None, True)


@pytest.mark.parametrize(
    ("pattern", "tag", "matches"),
    [
        # GitLab's patterns match anywhere in the name unless anchored.
        ("stable|release", "1.0-stable", True),
        ("stable|release", "1.0-rc", False),
        ("^v[0-9]", "v1.2", True),
        ("^v[0-9]", "xv1", False),
        (".*-stable$", "main-stable", True),
        (".*-stable$", "main-stable-2", False),
        ("^latest$", "latest", True),
        ("^latest$", "latest2", False),
    ],
)
def test_tag_patterns_match_anywhere_unless_anchored(pattern: str, tag: str, matches: bool) -> None:
    assert mutable(1, pattern, MAINTAINER, MAINTAINER).matches(tag) is matches


def test_a_pattern_re2_rejects_is_refused_not_run_elsewhere() -> None:
    with pytest.raises(RegexInvalid):
        TagRule.build(1, "(?<=v)1", MAINTAINER, MAINTAINER, False)


def test_admin_level_is_reached_only_by_administrators() -> None:
    assert actor_level(OWNER, is_admin=False) == OWNER < RuleLevel.ADMIN
    assert actor_level(DEVELOPER, is_admin=True) == ADMIN


def test_an_immutable_tag_may_be_created_or_pushed_again_but_not_moved() -> None:
    rules = TagProtection((immutable(1, "^rel-"),))
    assert rules.push_refusal("rel-1", DEVELOPER, current=None, pushed="sha256:a") is None
    assert rules.push_refusal("rel-1", DEVELOPER, current="sha256:a", pushed="sha256:a") is None
    refusal = rules.push_refusal("rel-1", ADMIN, current="sha256:a", pushed="sha256:b")
    assert refusal == (
        "tag 'rel-1' is immutable (immutable tag rule 1 ('^rel-')): it cannot be overwritten"
    )
    assert rules.delete_refusal("rel-1", ADMIN) is not None
    assert rules.delete_refusal("dev", DEVELOPER) is None


def test_repository_deletion_follows_gitlab() -> None:
    frozen = TagProtection((immutable(1, "^rel-"),))
    guarded = TagProtection((mutable(2, "^v", MAINTAINER, MAINTAINER),))
    assert frozen.repository_deletion_refusal(["rel-1"], ADMIN) is not None
    assert frozen.repository_deletion_refusal(["dev"], MAINTAINER) is None
    assert guarded.repository_deletion_refusal(["v1"], OWNER) is not None
    assert guarded.repository_deletion_refusal(["v1"], ADMIN) is None


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("acme/web", "acme/web", True),
        ("acme/web", "acme/web/api", False),
        ("acme/web/*", "acme/web/api", True),
        ("acme/web*", "acme/web", True),
        ("acme/web*", "acme/webby/x", True),
        ("ACME/Web/*", "acme/web/api", True),
        # Every character but * stands for itself: "." is no wildcard, "(" no group.
        ("acme/web/a.b", "acme/web/axb", False),
        ("acme/web/a.b", "acme/web/a.b", True),
        ("acme/web/(x", "acme/web/(x", True),
        ("acme/web/*-tmp", "acme/web/ci/build-tmp", True),
    ],
)
def test_repository_patterns_use_star_as_the_only_wildcard(
    pattern: str, path: str, matches: bool
) -> None:
    assert RepositoryRule.build(1, pattern, OWNER, None).matches(path) is matches


def test_a_repository_rule_without_a_level_for_an_action_leaves_it_alone() -> None:
    rules = RepositoryProtection((RepositoryRule.build(1, "acme/web", None, ADMIN),))
    assert rules.refusal("acme/web", "push", DEVELOPER) is None
    assert rules.refusal("acme/web", "delete", OWNER) is not None
    assert rules.refusal("acme/web", "delete", ADMIN) is None


levels = st.sampled_from([int(level) for level in RuleLevel])
actor_levels = st.sampled_from([10, 20, DEVELOPER, MAINTAINER, OWNER, ADMIN])
tags = st.sampled_from(["v1", "v1-final", "latest", "rel-1", "dev"])
patterns = st.sampled_from(["^v", "final", "^latest$", ".*", "^rel-", "x"])


@st.composite
def tag_rule_sets(draw: st.DrawFn) -> TagProtection:
    count = draw(st.integers(0, 5))
    rules = []
    for i in range(count):
        pattern = draw(patterns)
        if draw(st.booleans()):
            rules.append(immutable(i + 1, pattern))
        else:
            rules.append(mutable(i + 1, pattern, draw(levels), draw(levels)))
    return TagProtection(tuple(rules))


@given(tag_rule_sets(), tags, actor_levels, st.booleans())
def test_the_most_restrictive_matching_rule_decides(
    rules: TagProtection, tag: str, level: int, exists: bool
) -> None:
    matched = rules.matching(tag)
    push_levels = [r.push_level for r in matched if r.push_level is not None]
    delete_levels = [r.delete_level for r in matched if r.delete_level is not None]
    frozen = any(r.immutable for r in matched)
    current = "sha256:old" if exists else None

    refused_push = rules.push_refusal(tag, level, current=current, pushed="sha256:new")
    assert (refused_push is not None) == (
        (bool(push_levels) and level < max(push_levels)) or (frozen and exists)
    )
    refused_delete = rules.delete_refusal(tag, level)
    assert (refused_delete is not None) == (
        frozen or (bool(delete_levels) and level < max(delete_levels))
    )
    # Every refusal names a rule that matched.
    for refusal in (refused_push, refused_delete):
        if refusal is not None:
            assert any(f"rule {r.id} ({r.pattern!r})" in refusal for r in matched)
    # Cleanups keep exactly the tags some rule matches.
    assert (tag in protected_tags(rules, [tag])) == bool(matched)


@given(tag_rule_sets(), tags)
def test_administrators_pass_every_mutable_rule_and_no_immutable_one(
    rules: TagProtection, tag: str
) -> None:
    frozen = rules.is_immutable(tag)
    assert (rules.delete_refusal(tag, ADMIN) is not None) == frozen
    assert (rules.push_refusal(tag, ADMIN, current="a", pushed="b") is not None) == frozen
    assert rules.push_refusal(tag, ADMIN, current=None, pushed="b") is None
