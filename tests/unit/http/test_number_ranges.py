"""Numbers from URLs and parameters that SQLite cannot hold must be answered, not crash."""

from __future__ import annotations

import pytest

from registry_service.errors import ParamsInvalid
from registry_service.http.fields import GitLabInt, GitLabParams
from registry_service.http.pagination import MAX_PAGE, page_from
from registry_service.services.refs import NO_SUCH_ID, parse_id, parse_ref


class KeepN(GitLabParams):
    keep_n = GitLabInt()


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("42", 42),
        (str(2**63 - 1), 2**63 - 1),
        (str(2**63), NO_SUCH_ID),
        ("-3", NO_SUCH_ID),
        ("group%2Fapp", "group%2Fapp"),
        ("/group/app/", "group/app"),
        ("٣", "٣"),  # an Arabic-Indic digit is a path, as for GitLab's ASCII \d
    ],
)
def test_parse_ref(ref: str, expected: int | str) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize("text", ["", "²", "1e3", "-1", str(2**63), "12a"])
def test_parse_id_refuses_what_is_not_a_row_id(text: str) -> None:
    assert parse_id(text) is None


@pytest.mark.parametrize("value", [str(2**63), -(2**63) - 1, "99999999999999999999999", "²"])
def test_integers_beyond_64_bits_are_invalid_parameters(value: object) -> None:
    with pytest.raises(ParamsInvalid, match="keep_n is invalid"):
        KeepN().load({"keep_n": value})


def test_integers_within_64_bits_load() -> None:
    assert KeepN().load({"keep_n": str(2**63 - 1)}) == {"keep_n": 2**63 - 1}


def test_a_page_whose_offset_would_overflow_is_clamped() -> None:
    page = page_from(2**62, 100)
    assert page.number == MAX_PAGE
    assert page.offset < 2**63
