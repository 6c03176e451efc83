"""The few SQL fragments SQLite and PostgreSQL spell differently, one ``Dialect`` per database.

Queries are written once in SQL both accept; where no common form exists they take the
fragment from ``dialect_of(db)``: the backend's connection says which dialect it speaks
(``PostgresReader``/``PostgresWriter`` carry ``dialect = POSTGRESQL``; every SQLite connection
is the default). Long id lists travel as one JSON text in both (a single parameter, however
many ids: see ``tags.select_tag_dates`` on why), and aggregates come back as JSON text in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dialect:
    name: str
    # A table of the integers / texts in a JSON array parameter, one column named ``value``.
    json_ints: str
    json_texts: str
    # A table of the [text, integer] pairs of a JSON array parameter, columns ``name``, ``id``.
    json_pairs: str
    # The aggregate of a column (or expression) as a JSON array; '[]' over no rows.
    json_array_agg: str
    # A JSON array of two values (for pairs inside ``json_array_agg``).
    json_pair: str
    # An integer member of a JSON object held in a text column.
    json_int_member: str
    # Whether a member of a JSON object held in a text column is true (or 1).
    json_flag_member: str
    # The JSON object in a text column with the members of another merged in (RFC 7396).
    json_merged: str
    # Whether ``needle`` occurs in ``haystack``, ignoring ASCII case.
    contains_ignoring_case: str
    # LIKE that ignores ASCII case (SQLite's LIKE does; PostgreSQL's does not).
    like_ignoring_case: str
    # A join SQLite must run in the written order (its planner hint, "CROSS JOIN … ON");
    # PostgreSQL has no such hint and refuses ON after CROSS JOIN: a plain JOIN there.
    ordered_join: str
    # Foreign keys of this transaction checked at COMMIT, not per statement.
    defer_foreign_keys: str
    # The catalog's own tables, one per row (column ``name``).
    tables: str
    # Restart the id sequences of the (empty) ``{tables}``; None where emptying does that.
    restart_ids: str | None
    # The ``LIMIT ?`` parameter that means no limit (SQLite: negative; PostgreSQL: NULL).
    no_limit: int | None
    # Row-lock clauses appended to a SELECT inside a write transaction. Empty on SQLite, whose
    # single writer already excludes every other write; on PostgreSQL, writers run side by
    # side and lock the rows their checks read (see catalog/postgres.py).
    for_update: str
    # Only keeps the row's key from being deleted or changed; taken by a write that is about to
    # reference the row (FOR UPDATE, as a DELETE takes, waits for it and vice versa).
    for_key_share: str
    # A claim: lock what is free, pass over what another writer holds (it is taking it).
    skip_locked: str
    # Transaction-scoped locks on the 64-bit keys of a JSON array parameter (``?``), taken in
    # the array's order; None where the single writer makes them pointless.
    lock_keys: str | None

    def limit(self, limit: int) -> int | None:
        """The LIMIT parameter for ``limit``, a negative one meaning all rows."""
        return limit if limit >= 0 else self.no_limit

    def ints(self, parameter: str) -> str:
        return self.json_ints.format(p=parameter)

    def texts(self, parameter: str) -> str:
        return self.json_texts.format(p=parameter)

    def pairs(self, parameter: str) -> str:
        return self.json_pairs.format(p=parameter)

    def array_agg(self, expression: str) -> str:
        return self.json_array_agg.format(e=expression)

    def pair(self, first: str, second: str) -> str:
        return self.json_pair.format(a=first, b=second)

    def int_member(self, column: str, member: str) -> str:
        return self.json_int_member.format(c=column, m=member)

    def flag_member(self, column: str, member: str) -> str:
        return self.json_flag_member.format(c=column, m=member)

    def merged(self, column: str, patch: str) -> str:
        return self.json_merged.format(c=column, p=patch)

    def contains(self, haystack: str, needle: str) -> str:
        return self.contains_ignoring_case.format(h=haystack, n=needle)


SQLITE = Dialect(
    name="sqlite",
    json_ints="(SELECT value FROM json_each({p}))",
    json_texts="(SELECT value FROM json_each({p}))",
    json_pairs=(
        "(SELECT json_extract(value, '$[0]') AS name, json_extract(value, '$[1]') AS id"
        " FROM json_each({p}))"
    ),
    json_array_agg="json_group_array({e})",
    json_pair="json_array({a}, {b})",
    json_int_member="json_extract({c}, '$.{m}')",
    json_flag_member="json_extract({c}, '$.{m}') = 1",
    json_merged="json_patch(COALESCE({c}, '{{}}'), {p})",
    contains_ignoring_case="instr(lower({h}), lower({n})) > 0",
    like_ignoring_case="LIKE",
    ordered_join="CROSS JOIN",
    defer_foreign_keys="PRAGMA defer_foreign_keys = ON",
    tables="SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    restart_ids=None,
    no_limit=-1,
    for_update="",
    for_key_share="",
    skip_locked="",
    lock_keys=None,
)

POSTGRESQL = Dialect(
    name="postgresql",
    json_ints="(SELECT value::bigint AS value FROM json_array_elements_text(CAST({p} AS json)))",
    json_texts="(SELECT value FROM json_array_elements_text(CAST({p} AS json)))",
    json_pairs=(
        "(SELECT value->>0 AS name, (value->>1)::bigint AS id"
        " FROM json_array_elements(CAST({p} AS json)))"
    ),
    json_array_agg="COALESCE(json_agg({e}), '[]')::text",
    json_pair="json_build_array({a}, {b})",
    json_int_member="(CAST({c} AS jsonb)->>'{m}')::bigint",
    json_flag_member="(CAST({c} AS jsonb)->>'{m}') IN ('true', '1')",
    # jsonb_strip_nulls: a null member of the patch removes the member, as in RFC 7396 (the
    # catalog's counts and results are flat objects, so the shallow || is the whole merge).
    json_merged=(
        "jsonb_strip_nulls(CAST(COALESCE({c}, '{{}}') AS jsonb) || CAST({p} AS jsonb))::text"
    ),
    contains_ignoring_case="strpos(lower({h}), lower({n})) > 0",
    like_ignoring_case="ILIKE",
    ordered_join="JOIN",
    defer_foreign_keys="SET CONSTRAINTS ALL DEFERRED",
    tables=(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
        " AND tablename <> 'schema_version'"
    ),
    restart_ids="TRUNCATE {tables} RESTART IDENTITY",
    no_limit=None,
    for_update=" FOR UPDATE",
    for_key_share=" FOR KEY SHARE",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    # A set-returning function yields the array's elements in order, so the locks are taken
    # in that order (callers sort the keys: no two writers wait on each other in a circle).
    lock_keys=(
        "SELECT pg_advisory_xact_lock(value::bigint)"
        " FROM json_array_elements_text(CAST(? AS json))"
    ),
)


def dialect_of(db: Any) -> Dialect:
    """The dialect the connection ``db`` speaks (SQLite unless it says otherwise)."""
    found = getattr(db, "dialect", SQLITE)
    return found if isinstance(found, Dialect) else SQLITE
