"""Name and tag grammars; GitLab image path ↔ project rules (registry_service/names.py)."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from registry_service.errors import NameInvalid, TagInvalid
from registry_service.names import (
    is_digest_reference,
    project_path_candidates,
    split_image_path,
    validate_repository_name,
    validate_tag,
)

COMPONENT_RE = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = rf"{COMPONENT_RE}(/{COMPONENT_RE})*"
TAG_RE = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "library/ubuntu",
        "group/project",
        "group/sub-group/project/image/v1",
        "a.b_c__d---e/f",
        "0/1/2",
        "x" * 255,
        "/".join(["ab"] * 85),  # 254 characters
    ],
)
def test_valid_repository_names_are_returned_unchanged(name: str) -> None:
    assert validate_repository_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("Group/project", id="uppercase"),
        pytest.param("group//project", id="empty-component"),
        pytest.param("/group/project", id="leading-slash"),
        pytest.param("group/project/", id="trailing-slash"),
        pytest.param("group/-project", id="leading-dash"),
        pytest.param("group/project.", id="trailing-dot"),
        pytest.param("a___b", id="triple-underscore"),
        pytest.param("a..b", id="double-dot"),
        pytest.param("a.-b", id="mixed-separators"),
        pytest.param("a b", id="space"),
        pytest.param("group/project\n", id="trailing-newline"),
        pytest.param("grüppe/project", id="non-ascii"),
        pytest.param("x" * 256, id="too-long"),
        pytest.param("a:b", id="colon"),
    ],
)
def test_invalid_repository_names_raise_name_invalid(name: str) -> None:
    with pytest.raises(NameInvalid):
        validate_repository_name(name)


def test_name_invalid_carries_the_oci_code() -> None:
    with pytest.raises(NameInvalid) as caught:
        validate_repository_name("UPPER")
    assert caught.value.oci_code == "NAME_INVALID"


@pytest.mark.parametrize(
    "tag", ["latest", "v1.2.3", "_", "1", "A-b_C.d", "sha256-" + "a" * 64, "t" * 128]
)
def test_valid_tags_are_returned_unchanged(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize(
    "tag",
    [
        pytest.param("", id="empty"),
        pytest.param(".hidden", id="leading-dot"),
        pytest.param("-dash", id="leading-dash"),
        pytest.param("t" * 129, id="too-long"),
        pytest.param("a/b", id="slash"),
        pytest.param("a:b", id="colon"),
        pytest.param("a b", id="space"),
        pytest.param("latest\n", id="trailing-newline"),
        pytest.param("täg", id="non-ascii"),
    ],
)
def test_invalid_tags_raise_tag_invalid(tag: str) -> None:
    with pytest.raises(TagInvalid):
        validate_tag(tag)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [("latest", False), ("sha256:" + "a" * 64, True), ("v1.0", False), ("bad:digest", True)],
)
def test_is_digest_reference_looks_for_a_colon(reference: str, expected: bool) -> None:
    assert is_digest_reference(reference) is expected


@pytest.mark.parametrize(
    ("image_path", "expected"),
    [
        ("image", []),
        ("group/project", ["group/project"]),
        ("group/project/a", ["group/project/a", "group/project"]),
        ("group/project/a/b", ["group/project/a/b", "group/project/a", "group/project"]),
        ("g/s/p/a/b", ["g/s/p/a/b", "g/s/p/a", "g/s/p"]),
        (
            "/".join("abcdefghijklmnopqrs"),
            ["/".join("abcdefghijklmnopqrs"[:n]) for n in (19, 18, 17)],
        ),
        ("/".join("abcdefghijklmnopqrst"), []),  # 20 components
    ],
)
def test_project_path_candidates_are_the_three_longest_prefixes(
    image_path: str, expected: list[str]
) -> None:
    assert project_path_candidates(image_path) == expected


def test_project_path_candidates_refuse_malformed_paths() -> None:
    with pytest.raises(NameInvalid):
        project_path_candidates("Group/Project")


@pytest.mark.parametrize(
    ("image_path", "project", "expected"),
    [
        ("group/project", "group/project", ""),
        ("group/project/a", "group/project", "a"),
        ("group/project/a/b", "group/project", "a/b"),
        ("group/project/a/b", "group/project/a", "b"),
        ("group/project/a", "Group/Project", "a"),  # GitLab routes are case-insensitive
    ],
)
def test_split_image_path_gives_the_repository_below_the_project(
    image_path: str, project: str, expected: str
) -> None:
    assert split_image_path(image_path, project) == expected


@pytest.mark.parametrize(
    ("image_path", "project"),
    [
        ("group/project/a/b/c", "group/project"),  # three levels below: not a candidate
        ("group/project", "other/project"),
        ("group/projectx", "group/project"),  # a string prefix is not a path prefix
        ("group/project", "group"),  # a namespace is not a project
    ],
)
def test_split_image_path_refuses_a_project_that_cannot_own_the_image(
    image_path: str, project: str
) -> None:
    with pytest.raises(NameInvalid):
        split_image_path(image_path, project)


@given(st.text(alphabet="ab1._-/A", max_size=300))
def test_names_are_accepted_exactly_when_the_spec_grammar_matches(name: str) -> None:
    expected = re.fullmatch(NAME_RE, name) is not None and len(name) <= 255
    try:
        validate_repository_name(name)
    except NameInvalid:
        assert not expected
    else:
        assert expected


@given(st.from_regex(TAG_RE, fullmatch=True))
def test_tags_from_the_grammar_are_accepted(tag: str) -> None:
    assert validate_tag(tag) == tag


@given(st.text())
def test_validators_only_raise_their_declared_errors(text: str) -> None:
    for validate, error in ((validate_repository_name, NameInvalid), (validate_tag, TagInvalid)):
        with contextlib.suppress(error):
            assert validate(text) == text


# Image paths built component by component: quicker than from_regex, and reaches 20+ components.
components = st.builds(
    lambda first, rest: first + "".join(sep + part for sep, part in rest),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=4),
    st.lists(
        st.tuples(
            st.sampled_from([".", "_", "__", "-", "---"]),
            st.text("abc123", min_size=1, max_size=3),
        ),
        max_size=2,
    ),
)
image_paths = st.lists(components, min_size=1, max_size=22).map("/".join)


@given(image_paths)
def test_names_built_from_the_grammar_are_accepted_up_to_255_characters(name: str) -> None:
    if len(name) <= 255:
        assert validate_repository_name(name) == name
    else:
        with pytest.raises(NameInvalid):
            validate_repository_name(name)


@given(image_paths)
def test_every_candidate_splits_the_image_path_back_together(image_path: str) -> None:
    assume(len(image_path) <= 255)
    candidates = project_path_candidates(image_path)
    assert len(candidates) <= 3
    assert candidates == sorted(candidates, key=len, reverse=True)
    for project in candidates:
        assert project.count("/") >= 1
        repository = split_image_path(image_path, project)
        assert repository.count("/") <= 1
        assert "/".join(part for part in (project, repository) if part) == image_path
