"""``placeholders.numbered``: SQLite's ``?``/``:name`` placeholders become PostgreSQL's ``$n``
outside quoted text and comments, and a call's parameters are ordered to match."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_service.catalog.placeholders import PlaceholdersInvalid, numbered


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", "SELECT 1"),
        ("SELECT * FROM t WHERE a = ? AND b > ?", "SELECT * FROM t WHERE a = $1 AND b > $2"),
        ("UPDATE t SET a = :a WHERE b = :i OR a = :a", "UPDATE t SET a = $1 WHERE b = $2 OR a = $1"),  # noqa: E501
        ("SELECT '?', 'it''s :x ?', ? FROM t", "SELECT '?', 'it''s :x ?', $1 FROM t"),
        ('SELECT "odd?col" FROM t WHERE a = ?', 'SELECT "odd?col" FROM t WHERE a = $1'),
        ("SELECT CAST(:p AS json)::text, x::bigint", "SELECT CAST($1 AS json)::text, x::bigint"),
        ("SELECT a -- what ? :x\nFROM t WHERE b = ?", "SELECT a -- what ? :x\nFROM t WHERE b = $1"),
        ("SELECT name LIKE :q ESCAPE '\\' FROM t", "SELECT name LIKE $1 ESCAPE '\\' FROM t"),
        ("SELECT 1 WHERE a = ?1", "SELECT 1 WHERE a = $11"),
    ],
)
def test_placeholders_are_numbered_outside_quotes(sql: str, expected: str) -> None:
    assert numbered(sql).sql == expected


def test_named_parameters_follow_their_numbers() -> None:
    statement = numbered("SELECT :b, :a, :b")
    assert statement.arguments({"a": 1, "b": 2, "unused": 3}) == (2, 1)
    # A statement whose filter was left out takes the same mapping, every name unused.
    assert numbered("SELECT COUNT(*) FROM users").arguments({"uid": None}) == ()


def test_parameters_that_do_not_fit_are_refused() -> None:
    with pytest.raises(PlaceholdersInvalid):
        numbered("SELECT ?, ?").arguments((1,))
    with pytest.raises(PlaceholdersInvalid):
        numbered("SELECT :a").arguments({"b": 1})
    with pytest.raises(PlaceholdersInvalid):
        numbered("SELECT ?, :a")


def test_a_text_is_numbered_once() -> None:
    assert numbered("SELECT ? AS cached") is numbered("SELECT ? AS cached")


# Text with no placeholder characters of its own, quoted as SQL quotes it.
_plain = st.text(alphabet=st.characters(blacklist_characters="?:'\"-\x00"), max_size=12)
_literal = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=12).map(
    lambda text: "'" + text.replace("'", "''") + "'"
)


@given(st.lists(st.tuples(_plain, _literal), max_size=6))
def test_quoted_literals_pass_through_and_each_mark_gets_the_next_number(
    pieces: list[tuple[str, str]],
) -> None:
    sql = " ".join(f"{plain} {literal} ?" for plain, literal in pieces)
    expected = " ".join(
        f"{plain} {literal} ${n}" for n, (plain, literal) in enumerate(pieces, start=1)
    )
    statement = numbered(sql)
    assert statement.sql == expected
    assert statement.count == len(pieces)
