"""The cleanup planner (jobs/cleanup.py): spec §3 steps 3-8 and Decisions 1 and 3.

Named scenarios first (the seed document's three examples, then one test per rule and quirk),
then hypothesis properties checked against a reference model written with plain loops.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.cleanup import (
    Anchoring,
    CleanupPlan,
    CleanupRules,
    KeepReason,
    RegexInvalid,
    TagInfo,
    compile_tag_regex,
    plan_cleanup,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SHA = "0123456789abcdef0123456789abcdef0123456"  # 39 characters; add one to make a git SHA


def tag(name: str, age: timedelta | None, *, pushed_age: timedelta = timedelta(0)) -> TagInfo:
    """A tag created ``age`` before NOW (None = undated), pushed ``pushed_age`` before NOW."""
    return TagInfo(name, None if age is None else NOW - age, NOW - pushed_age)


def plan(tags: list[TagInfo], rules: CleanupRules, now: datetime = NOW) -> CleanupPlan:
    return plan_cleanup(tags, rules, now)


# --- the seed document's examples -------------------------------------------------------------


def test_seed_example_git_shas_keep_5_and_delete_older_than_2d() -> None:
    ages = [0 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 1.25 * DAY, 1.5 * DAY, 3 * DAY, 10 * DAY]
    shas = [tag(SHA + str(i), age) for i, age in enumerate(ages)]
    tags = [*shas, tag("v1.0", 30 * DAY), tag("latest", 40 * DAY), tag(SHA, 40 * DAY)]

    result = plan(tags, CleanupRules("[0-9a-z]{40}", keep_n=5, older_than=2 * DAY))

    assert result.delete == (SHA + "7", SHA + "6")
    assert result.keep == {
        **dict.fromkeys([SHA + str(i) for i in range(5)], KeepReason.KEEP_N),
        SHA + "5": KeepReason.NEWER,
        "v1.0": KeepReason.NOT_MATCHED,
        "latest": KeepReason.LATEST,
        SHA: KeepReason.NOT_MATCHED,  # 39 characters: the regex is anchored at both ends
    }


def test_seed_example_everything_but_the_5_newest() -> None:
    tags = [tag(f"t{i}", i * DAY) for i in range(7)] + [tag("latest", 100 * DAY)]

    result = plan(tags, CleanupRules(".*", keep_n=5))

    assert result.delete == ("t6", "t5")
    assert result.keep == {
        **{f"t{i}": KeepReason.KEEP_N for i in range(5)},
        "latest": KeepReason.LATEST,
    }


def test_seed_example_everything_older_than_a_month() -> None:
    tags = [
        tag("recent", 29 * DAY),
        tag("exactly-a-month", 30 * DAY),
        tag("older", 31 * DAY),
        tag("ancient", 400 * DAY),
        tag("undated", None),
    ]

    result = plan(tags, CleanupRules(".*", older_than=30 * DAY))

    assert result.delete == ("ancient", "older")
    assert result.keep == {
        "recent": KeepReason.NEWER,
        "exactly-a-month": KeepReason.NEWER,  # deleted only when strictly before the cutoff
        "undated": KeepReason.UNDATED,
    }


# --- regex anchoring (Decision 1) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "gitlab", "full"),
    [
        ("a|b", "a", True, True),
        ("a|b", "b", True, True),
        ("a|b", "abc", True, False),  # "\Aa" only anchors the start
        ("a|b", "xyb", True, False),  # "b\z" only anchors the end
        ("a|b", "xbx", False, False),
        ("v1", "v1", True, True),
        ("v1", "v10", False, False),
        ("v1", "xv1", False, False),
        ("", "", True, True),
        ("", "a", False, False),
        ("[0-9a-z]{40}", SHA + "f", True, True),
        ("[0-9a-z]{40}", SHA, False, False),
        ("v.*", "V1", False, False),
    ],
)
def test_regex_anchoring_in_gitlab_and_full_modes(
    pattern: str, name: str, gitlab: bool, full: bool
) -> None:
    assert compile_tag_regex(pattern, Anchoring.GITLAB).matches(name) is gitlab
    assert compile_tag_regex(pattern, Anchoring.FULL).matches(name) is full


def test_gitlab_anchoring_deletes_a_tag_that_full_anchoring_keeps() -> None:
    tags = [tag("a", DAY), tag("abc", DAY), tag("bx", DAY)]

    gitlab = plan(tags, CleanupRules("a|b", anchoring=Anchoring.GITLAB))
    full = plan(tags, CleanupRules("a|b", anchoring=Anchoring.FULL))

    assert set(gitlab.delete) == {"a", "abc"}
    assert gitlab.keep == {"bx": KeepReason.NOT_MATCHED}
    assert full.delete == ("a",)
    assert full.keep == {"abc": KeepReason.NOT_MATCHED, "bx": KeepReason.NOT_MATCHED}


def test_anchoring_applies_to_the_keep_regex_too() -> None:
    tags = [tag("v1", DAY), tag("v10", DAY), tag("stable-x", DAY)]

    gitlab = plan(tags, CleanupRules(".*", name_regex_keep="v1|stable"))
    full = plan(tags, CleanupRules(".*", name_regex_keep="v1|stable", anchoring=Anchoring.FULL))

    assert gitlab.keep == {"v1": KeepReason.KEEP_REGEX, "v10": KeepReason.KEEP_REGEX}
    assert gitlab.delete == ("stable-x",)
    assert full.keep == {"v1": KeepReason.KEEP_REGEX}
    assert set(full.delete) == {"v10", "stable-x"}


def test_compiled_pattern_shows_the_anchors_added() -> None:
    assert compile_tag_regex("a|b", Anchoring.GITLAB).pattern == r"\Aa|b\z"
    assert compile_tag_regex("a|b", Anchoring.FULL).pattern == r"\A(?:a|b)\z"
    assert compile_tag_regex(None, Anchoring.GITLAB).pattern == r"\A\z"


@given(name=st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
       | st.text(alphabet="a\n\r.", max_size=4))
def test_the_dot_star_shortcut_agrees_with_re2(name: str) -> None:
    # ".*" skips the engine; "(?:.*)" is the same language and goes through it.
    for anchoring in Anchoring:
        shortcut = compile_tag_regex(".*", anchoring)
        engine = compile_tag_regex("(?:.*)", anchoring)
        assert shortcut.matches(name) == engine.matches(name), (anchoring, name)


# --- invalid patterns ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "re2_text"),
    [
        ("(a", "missing ): (a"),
        ("[z-a]", "invalid character class range: z-a"),
        ("a{1001}", "invalid repetition size: {1001}"),
        ("a\\", "trailing \\"),
    ],
)
def test_invalid_regex_raises_regex_invalid_with_re2_text(pattern: str, re2_text: str) -> None:
    for anchoring in Anchoring:
        with pytest.raises(RegexInvalid) as caught:
            compile_tag_regex(pattern, anchoring)
        assert str(caught.value) == re2_text
        assert caught.value.reason == re2_text
        assert caught.value.pattern == pattern


@pytest.mark.parametrize("pattern", ["(?=a)", "a(?!b)", "(?<=a)b", "(?<!a)b", r"(a)\1", r"a\Z"])
def test_look_around_backreferences_and_python_only_syntax_are_rejected(pattern: str) -> None:
    with pytest.raises(RegexInvalid):
        compile_tag_regex(pattern, Anchoring.GITLAB)


def test_invalid_keep_or_delete_regex_fails_the_plan() -> None:
    with pytest.raises(RegexInvalid, match="missing"):
        plan([tag("a", DAY)], CleanupRules(".*", name_regex_keep="(a"))
    with pytest.raises(RegexInvalid, match="perl operator"):
        plan([tag("a", DAY)], CleanupRules("(?=a)"))


# --- latest and the name filter -----------------------------------------------------------------


def test_latest_is_never_deleted_even_when_it_matches() -> None:
    tags = [tag("latest", 10 * DAY), tag("Latest", 10 * DAY), tag("latest-1", 10 * DAY)]

    result = plan(tags, CleanupRules(".*", keep_n=0, older_than=DAY))

    assert result.keep == {"latest": KeepReason.LATEST}
    assert set(result.delete) == {"Latest", "latest-1"}


def test_latest_is_deleted_when_keep_latest_is_off() -> None:
    result = plan([tag("latest", DAY), tag("v1", DAY)], CleanupRules(".*", keep_latest=False))

    assert set(result.delete) == {"latest", "v1"}
    assert result.keep == {}


def test_keep_regex_wins_over_delete_regex_and_takes_no_keep_n_slot() -> None:
    tags = [tag("stable", 0 * DAY), tag("v2", 1 * DAY), tag("v1", 2 * DAY)]

    result = plan(tags, CleanupRules(".*", name_regex_keep="stable", keep_n=1))

    assert result.keep == {"stable": KeepReason.KEEP_REGEX, "v2": KeepReason.KEEP_N}
    assert result.delete == ("v1",)


def test_keep_regex_reason_is_given_before_not_matched() -> None:
    result = plan([tag("stable", DAY)], CleanupRules("v.*", name_regex_keep="stable"))

    assert result.keep == {"stable": KeepReason.KEEP_REGEX}


def test_absent_delete_regex_matches_nothing() -> None:
    result = plan([tag("a", 10 * DAY), tag("b", None)], CleanupRules(None, keep_n=0))

    assert result.delete == ()
    assert result.keep == {"a": KeepReason.NOT_MATCHED, "b": KeepReason.NOT_MATCHED}


def test_absent_keep_regex_keeps_only_an_empty_name() -> None:
    result = plan([tag("a", DAY), tag("", DAY)], CleanupRules(".*"))

    assert result.delete == ("a",)
    assert result.keep == {"": KeepReason.KEEP_REGEX}


# --- keep_n and older_than ----------------------------------------------------------------------


def test_keep_n_is_applied_before_older_than() -> None:
    # Applied the other way round, keep_n would spend its two slots on the old tags.
    tags = [tag("new", HOUR), tag("old1", 5 * DAY), tag("old2", 6 * DAY)]

    result = plan(tags, CleanupRules(".*", keep_n=2, older_than=DAY))

    assert result.keep == {"new": KeepReason.KEEP_N, "old1": KeepReason.KEEP_N}
    assert result.delete == ("old2",)


def test_keep_n_zero_keeps_none() -> None:
    tags = [tag("a", HOUR), tag("b", None)]

    result = plan(tags, CleanupRules(".*", keep_n=0))

    assert result.keep == {}
    assert set(result.delete) == {"a", "b"}


def test_keep_n_larger_than_the_candidates_keeps_all() -> None:
    result = plan([tag("a", HOUR), tag("b", DAY)], CleanupRules(".*", keep_n=10))

    assert result.keep == {"a": KeepReason.KEEP_N, "b": KeepReason.KEEP_N}
    assert result.delete == ()


def test_keep_n_keeps_newest_by_image_creation_not_push() -> None:
    tags = [
        tag("built-new-pushed-long-ago", HOUR, pushed_age=100 * DAY),
        tag("built-old-pushed-now", 50 * DAY, pushed_age=timedelta(0)),
    ]

    result = plan(tags, CleanupRules(".*", keep_n=1))

    assert result.keep == {"built-new-pushed-long-ago": KeepReason.KEEP_N}
    assert result.delete == ("built-old-pushed-now",)


def test_undated_tags_count_as_newest_for_keep_n() -> None:
    tags = [tag("dated", HOUR), tag("undated", None), tag("older", DAY)]

    result = plan(tags, CleanupRules(".*", keep_n=1))

    assert result.keep == {"undated": KeepReason.KEEP_N}
    assert result.delete == ("older", "dated")


def test_undated_tags_rank_as_now_so_a_future_date_outranks_them() -> None:
    tags = [tag("undated", None), tag("clock-skewed", -HOUR)]

    result = plan(tags, CleanupRules(".*", keep_n=1))

    assert result.keep == {"clock-skewed": KeepReason.KEEP_N}
    assert result.delete == ("undated",)


def test_undated_tags_are_never_deleted_by_age() -> None:
    tags = [tag("undated", None), tag("old", 10 * DAY)]

    result = plan(tags, CleanupRules(".*", keep_n=0, older_than=HOUR))

    assert result.keep == {"undated": KeepReason.UNDATED}
    assert result.delete == ("old",)


def test_undated_tags_are_deleted_without_older_than() -> None:
    result = plan([tag("undated", None)], CleanupRules(".*"))

    assert result.delete == ("undated",)


def test_an_older_than_reaching_before_year_one_deletes_nothing_by_age() -> None:
    tags = [tag("old", 1000 * DAY)]

    result = plan(tags, CleanupRules(".*", older_than=timedelta.max))

    assert result.keep == {"old": KeepReason.NEWER}


# --- ties and order (Decision 3) ----------------------------------------------------------------


def test_equal_creation_dates_keep_the_newer_push() -> None:
    tags = [tag("a", DAY, pushed_age=2 * HOUR), tag("b", DAY, pushed_age=HOUR)]

    result = plan(tags, CleanupRules(".*", keep_n=1))

    assert result.keep == {"b": KeepReason.KEEP_N}


def test_equal_creation_and_push_dates_keep_the_name_first_in_ascending_order() -> None:
    tags = [tag("b", DAY), tag("a", DAY), tag("c", DAY)]

    result = plan(tags, CleanupRules(".*", keep_n=1))

    assert result.keep == {"a": KeepReason.KEEP_N}
    assert result.delete == ("c", "b")


def test_plan_does_not_depend_on_input_order() -> None:
    tags = [
        tag("a", DAY),
        tag("b", DAY),
        tag("c", DAY, pushed_age=HOUR),
        tag("d", None),
        tag("e", 2 * DAY),
    ]
    rules = CleanupRules(".*", keep_n=2)
    plans = {
        (p.delete, tuple(sorted(p.keep.items())))
        for p in (plan(list(order), rules) for order in itertools.permutations(tags))
    }

    assert plans == {(("e", "c", "b"), (("a", KeepReason.KEEP_N), ("d", KeepReason.KEEP_N)))}


def test_deletion_order_is_least_wanted_first() -> None:
    tags = [tag("mid", 2 * DAY), tag("oldest", 3 * DAY), tag("newest", DAY), tag("undated", None)]

    result = plan(tags, CleanupRules(".*"))

    assert result.delete == ("oldest", "mid", "newest", "undated")


# --- input and rule validation ------------------------------------------------------------------


def test_empty_tag_list_gives_an_empty_plan() -> None:
    assert plan([], CleanupRules(".*", keep_n=3, older_than=DAY)) == CleanupPlan((), {})


def test_duplicate_tag_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        plan([tag("a", DAY), tag("a", HOUR)], CleanupRules(".*"))


@pytest.mark.parametrize(
    "kwargs", [{"keep_n": -1}, {"older_than": timedelta(0)}, {"older_than": -HOUR}]
)
def test_rules_reject_negative_keep_n_and_non_positive_older_than(
    kwargs: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match=r"keep_n|older_than"):
        CleanupRules(".*", **kwargs)  # type: ignore[arg-type]


# --- properties against a reference model --------------------------------------------------------

Predicate = Callable[[str], bool]

# Each pattern with what it means, worked out by hand, under GITLAB and FULL anchoring.
PATTERNS: dict[str, tuple[Predicate, Predicate]] = {
    ".*": (lambda n: True, lambda n: True),
    "a.*": (lambda n: n.startswith("a"), lambda n: n.startswith("a")),
    ".*b": (lambda n: n.endswith("b"), lambda n: n.endswith("b")),
    "b": (lambda n: n == "b", lambda n: n == "b"),
    "latest": (lambda n: n == "latest", lambda n: n == "latest"),
    "[ab]+": (
        lambda n: n != "" and set(n) <= {"a", "b"},
        lambda n: n != "" and set(n) <= {"a", "b"},
    ),
    "a|b": (
        lambda n: n.startswith("a") or n.endswith("b"),
        lambda n: n in ("a", "b"),
    ),
    "a|.*1|b": (
        lambda n: n.startswith("a") or "1" in n or n.endswith("b"),
        lambda n: n in ("a", "b") or n.endswith("1"),
    ),
}


def meaning(pattern: str | None, anchoring: Anchoring, *, absent: Predicate) -> Predicate:
    if pattern is None:
        return absent
    gitlab, full = PATTERNS[pattern]
    return gitlab if anchoring is Anchoring.GITLAB else full


def reference_plan(tags: list[TagInfo], rules: CleanupRules, now: datetime) -> CleanupPlan:
    """Spec §3 steps 3-8, one rule at a time, with loops and counting instead of sorting."""
    keeps = meaning(rules.name_regex_keep, rules.anchoring, absent=lambda n: n == "")
    deletes = meaning(rules.name_regex_delete, rules.anchoring, absent=lambda n: False)
    keep: dict[str, KeepReason] = {}
    candidates = []
    for t in tags:
        if rules.keep_latest and t.name == "latest":
            keep[t.name] = KeepReason.LATEST
        elif keeps(t.name):
            keep[t.name] = KeepReason.KEEP_REGEX
        elif not deletes(t.name):
            keep[t.name] = KeepReason.NOT_MATCHED
        else:
            candidates.append(t)

    def rank(t: TagInfo) -> int:
        return sum(1 for other in candidates if outranks(other, t, now))

    remaining = []
    for t in candidates:
        if rules.keep_n is not None and rank(t) < rules.keep_n:
            keep[t.name] = KeepReason.KEEP_N
        else:
            remaining.append(t)
    deleted = []
    for t in remaining:
        if rules.older_than is None:
            deleted.append(t)
        elif t.created_at is None:
            keep[t.name] = KeepReason.UNDATED
        elif t.created_at < now - rules.older_than:
            deleted.append(t)
        else:
            keep[t.name] = KeepReason.NEWER
    deleted.sort(key=rank, reverse=True)
    return CleanupPlan(tuple(t.name for t in deleted), keep)


def outranks(a: TagInfo, b: TagInfo, now: datetime) -> bool:
    """Whether ``a`` comes before ``b`` when candidates are ranked newest first."""
    a_date = now if a.created_at is None else a.created_at
    b_date = now if b.created_at is None else b.created_at
    if a_date != b_date:
        return a_date > b_date
    if a.pushed_at != b.pushed_at:
        return a.pushed_at > b.pushed_at
    return a.name < b.name


BASE = datetime(2026, 1, 1, tzinfo=UTC)
names = st.one_of(
    st.sampled_from(["latest", "a", "b", "ab", "ba", "a1", "1b"]),
    st.text(alphabet="ab1", min_size=1, max_size=4),
)
tag_infos = st.builds(
    TagInfo,
    name=names,
    created_at=st.none() | st.integers(0, 6).map(lambda h: BASE + h * HOUR),
    pushed_at=st.integers(0, 3).map(lambda h: BASE + h * HOUR),
)
tag_lists = st.lists(tag_infos, max_size=12, unique_by=lambda t: t.name)
patterns = st.none() | st.sampled_from(sorted(PATTERNS))
rule_sets = st.builds(
    CleanupRules,
    name_regex_delete=patterns,
    name_regex_keep=patterns,
    keep_n=st.none() | st.integers(0, 6),
    older_than=st.none() | st.integers(1, 6).map(lambda h: h * HOUR),
    anchoring=st.sampled_from(Anchoring),
    keep_latest=st.booleans(),
)
nows = st.integers(0, 8).map(lambda h: BASE + h * HOUR)


def candidates_of(tags: list[TagInfo], rules: CleanupRules) -> list[TagInfo]:
    keeps = meaning(rules.name_regex_keep, rules.anchoring, absent=lambda n: n == "")
    deletes = meaning(rules.name_regex_delete, rules.anchoring, absent=lambda n: False)
    return [
        t
        for t in tags
        if not (rules.keep_latest and t.name == "latest") and not keeps(t.name) and deletes(t.name)
    ]


@given(pattern=st.sampled_from(sorted(PATTERNS)), anchoring=st.sampled_from(Anchoring), name=names)
def test_compiled_regexes_mean_what_the_reference_says(
    pattern: str, anchoring: Anchoring, name: str
) -> None:
    expected = meaning(pattern, anchoring, absent=lambda n: False)(name)
    assert compile_tag_regex(pattern, anchoring).matches(name) is expected


@given(tags=tag_lists, rules=rule_sets, now=nows)
def test_plan_equals_reference_model(
    tags: list[TagInfo], rules: CleanupRules, now: datetime
) -> None:
    assert plan_cleanup(tags, rules, now) == reference_plan(tags, rules, now)


@given(tags=tag_lists, rules=rule_sets, now=nows)
def test_latest_is_never_deleted_while_keep_latest(
    tags: list[TagInfo], rules: CleanupRules, now: datetime
) -> None:
    result = plan_cleanup(tags, rules, now)
    if rules.keep_latest:
        assert "latest" not in result.delete


@given(tags=tag_lists, rules=rule_sets, now=nows)
def test_keep_regex_matches_are_always_kept(
    tags: list[TagInfo], rules: CleanupRules, now: datetime
) -> None:
    result = plan_cleanup(tags, rules, now)
    keeps = meaning(rules.name_regex_keep, rules.anchoring, absent=lambda n: n == "")
    assert not [name for name in result.delete if keeps(name)]


@given(tags=tag_lists, rules=rule_sets, now=nows)
def test_keep_n_newest_candidates_survive(
    tags: list[TagInfo], rules: CleanupRules, now: datetime
) -> None:
    result = plan_cleanup(tags, rules, now)
    if rules.keep_n is None:
        return
    candidates = candidates_of(tags, rules)
    for t in candidates:
        if sum(outranks(other, t, now) for other in candidates) < rules.keep_n:
            assert result.keep[t.name] is KeepReason.KEEP_N


@given(tags=tag_lists, rules=rule_sets, now=nows)
def test_only_candidates_are_deleted(
    tags: list[TagInfo], rules: CleanupRules, now: datetime
) -> None:
    result = plan_cleanup(tags, rules, now)
    assert set(result.delete) <= {t.name for t in candidates_of(tags, rules)}


@given(tags=tag_lists, rules=rule_sets, now=nows)
def test_delete_and_keep_partition_the_input(
    tags: list[TagInfo], rules: CleanupRules, now: datetime
) -> None:
    result = plan_cleanup(tags, rules, now)
    assert len(set(result.delete)) == len(result.delete)
    assert set(result.delete).isdisjoint(result.keep)
    assert set(result.delete) | set(result.keep) == {t.name for t in tags}


@given(tags=tag_lists, rules=rule_sets, now=nows)
def test_every_kept_tag_has_a_reason(
    tags: list[TagInfo], rules: CleanupRules, now: datetime
) -> None:
    result = plan_cleanup(tags, rules, now)
    deleted = set(result.delete)
    for t in tags:
        if t.name not in deleted:
            assert isinstance(result.keep[t.name], KeepReason)


@given(tags=tag_lists, rules=rule_sets, now=nows, data=st.data())
def test_plan_is_the_same_for_any_input_order(
    tags: list[TagInfo], rules: CleanupRules, now: datetime, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(tags))
    assert plan_cleanup(shuffled, rules, now) == plan_cleanup(tags, rules, now)


def test_protected_tags_are_kept_first_and_take_no_keep_n_slot() -> None:
    tags = [tag("latest", 0 * DAY), tag("v3", 1 * DAY), tag("v2", 2 * DAY), tag("v1", 3 * DAY)]

    result = plan_cleanup(tags, CleanupRules(".*", keep_n=1), NOW, frozenset({"latest", "v3"}))

    assert result.keep == {
        "latest": KeepReason.PROTECTED, "v3": KeepReason.PROTECTED, "v2": KeepReason.KEEP_N,
    }
    assert result.delete == ("v1",)


@given(tags=tag_lists, rules=rule_sets, now=nows, data=st.data())
def test_protected_tags_are_set_aside_before_every_other_rule(
    tags: list[TagInfo], rules: CleanupRules, now: datetime, data: st.DataObject
) -> None:
    protected = frozenset(data.draw(st.sets(st.sampled_from([t.name for t in tags] or [""]))))
    result = plan_cleanup(tags, rules, now, protected)
    assert all(result.keep[name] is KeepReason.PROTECTED for name in protected & result.keep.keys())
    assert protected.isdisjoint(result.delete)
    # The rest is planned exactly as if the protected tags were not there at all.
    rest = plan_cleanup([t for t in tags if t.name not in protected], rules, now)
    assert result.delete == rest.delete
    assert {n: r for n, r in result.keep.items() if n not in protected} == rest.keep
