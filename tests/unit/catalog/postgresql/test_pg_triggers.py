"""PostgreSQL's tag-count triggers keep the same counts as SQLite's: the same statements, run
on both catalogs, leave the same ``repositories.tags_count`` after every step, and the count
is the true number of tags. Steps cover multi-row inserts, upserts that insert or re-tag,
skipped duplicates, deletes over several repositories, cascades from a repository and from a
project, and statements that fail (rolled back, counting nothing)."""

from __future__ import annotations

import random

from tests.unit.catalog.postgresql.catalog_rows import Both
from tests.unit.catalog.test_migrations import NOW

COUNTS = "SELECT id, tags_count FROM repositories ORDER BY id"
TRUE_COUNTS = (
    "SELECT r.id, (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id)"
    " FROM repositories r ORDER BY r.id"
)


def tag(repository: int, name: str, manifest: int) -> str:
    return f"({repository}, '{name}', {manifest}, '{NOW}')"


INSERT = "INSERT INTO tags (repository_id, name, manifest_id, pushed_at) VALUES "
UPSERT = (
    " ON CONFLICT (repository_id, name) DO UPDATE SET"
    " manifest_id = excluded.manifest_id, pushed_at = excluded.pushed_at"
    " WHERE tags.manifest_id <> excluded.manifest_id"
)

# (statement, whether it fails): applied in order to catalogs holding rows_at(LATEST), whose
# repositories 1 and 2 belong to project 1 and repository 3 to project 2.
STEPS: list[tuple[str, bool]] = [
    (
        INSERT + ", ".join(tag(r, f"n{i}", 1 if r == 1 else 3) for r in (1, 2) for i in range(5)),
        False,
    ),
    # A re-tag (updates, counts nothing), an unchanged tag, and a new tag in one upsert.
    (INSERT + f"{tag(1, 'n0', 4)}, {tag(1, 'n1', 1)}, {tag(1, 'new', 1)}" + UPSERT, False),
    (INSERT + f"{tag(2, 'n0', 3)}, {tag(2, 'other', 3)} ON CONFLICT DO NOTHING", False),
    # A duplicate in the middle of a multi-row insert: the whole statement fails.
    (INSERT + f"{tag(1, 'x1', 1)}, {tag(1, 'n2', 1)}, {tag(1, 'x2', 1)}", True),
    # A tag of a manifest that does not exist.
    (INSERT + tag(2, "dangling", 999), True),
    ("DELETE FROM tags WHERE name IN ('n1', 'n2', 'other')", False),
    ("DELETE FROM tags WHERE name = 'nothing'", False),
    # A manifest still tagged cannot go (tags.manifest_id has no cascade).
    ("DELETE FROM manifests WHERE id = 1", True),
    (
        "INSERT INTO repositories (id, project_id, name, created_at)"
        f" VALUES (4, 2, 'four', '{NOW}')",
        False,
    ),
    (INSERT + ", ".join(tag(4, f"f{i}", 1) for i in range(3)), False),
    ("DELETE FROM repositories WHERE id = 2", False),
    ("DELETE FROM projects WHERE id = 2", False),
]


async def test_every_step_leaves_the_same_true_counts(both: Both) -> None:
    sqlite, postgres = await both.counts(COUNTS)
    assert sqlite == postgres == [(1, 3), (2, 1), (3, 0)]
    for statement, fails in STEPS:
        assert await both.run(statement) == (fails, fails), statement
        sqlite, postgres = await both.counts(COUNTS)
        assert postgres == sqlite, statement
        assert postgres == (await both.counts(TRUE_COUNTS))[1], statement
    # The steps did move the counts: repository 1 gained, 2 and 3 went, 4 came and went.
    assert postgres == [(1, 7)]


async def test_a_random_mix_of_inserts_and_deletes_counts_the_same(both: Both) -> None:
    chance = random.Random(13)
    for _ in range(150):
        repository = chance.choice((1, 2, 3))
        manifest = 3 if repository == 2 else 1 if repository == 1 else None
        names = [f"r{chance.randrange(30)}" for _ in range(chance.randrange(1, 6))]
        if manifest is None or chance.random() < 0.4:
            statement = (
                f"DELETE FROM tags WHERE repository_id = {repository}"
                f" AND name IN ({', '.join(repr(n) for n in names)})"
            )
        else:
            statement = (
                INSERT
                + ", ".join(tag(repository, n, manifest) for n in dict.fromkeys(names))
                + " ON CONFLICT DO NOTHING"
            )
        sqlite_failed, postgres_failed = await both.run(statement)
        assert sqlite_failed == postgres_failed is False
    sqlite, postgres = await both.counts(COUNTS)
    assert postgres == sqlite == (await both.counts(TRUE_COUNTS))[0]
    assert sum(count for _, count in postgres) > 10
