"""SQL for a project's container registry protection rules: tag rules (protected and
immutable) and repository rules.

Only SQL lives here. What a rule means, how its pattern matches and who it lets through is
decided in ``services/protection.py``; validating a new rule in ``services/protection_rules.py``.
Levels are GitLab's numbers (40, 50) and 60 for "admin".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time, insert
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader, Row, Writer


@dataclass(frozen=True)
class TagRuleRow:
    id: int
    project_id: int
    tag_name_pattern: str
    push_level: int | None
    delete_level: int | None
    immutable: bool

    @classmethod
    def from_row(cls, row: Row) -> TagRuleRow:
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            tag_name_pattern=row["tag_name_pattern"],
            push_level=row["minimum_access_level_for_push"],
            delete_level=row["minimum_access_level_for_delete"],
            immutable=bool(row["immutable"]),
        )


@dataclass(frozen=True)
class RepositoryRuleRow:
    id: int
    project_id: int
    repository_path_pattern: str
    push_level: int | None
    delete_level: int | None

    @classmethod
    def from_row(cls, row: Row) -> RepositoryRuleRow:
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            repository_path_pattern=row["repository_path_pattern"],
            push_level=row["minimum_access_level_for_push"],
            delete_level=row["minimum_access_level_for_delete"],
        )


_TAG_COLUMNS = (
    "id, project_id, tag_name_pattern, minimum_access_level_for_push,"
    " minimum_access_level_for_delete, immutable"
)
_REPOSITORY_COLUMNS = (
    "id, project_id, repository_path_pattern, minimum_access_level_for_push,"
    " minimum_access_level_for_delete"
)


async def select_tag_rules(db: Reader, project_id: int) -> list[TagRuleRow]:
    rows = await fetch_all(
        db,
        f"SELECT {_TAG_COLUMNS} FROM tag_protection_rules WHERE project_id = ? ORDER BY id",
        (project_id,),
    )
    return [TagRuleRow.from_row(row) for row in rows]


async def select_tag_rule(db: Reader, project_id: int, rule_id: int) -> TagRuleRow | None:
    row = await fetch_one(
        db,
        f"SELECT {_TAG_COLUMNS} FROM tag_protection_rules WHERE project_id = ? AND id = ?",
        (project_id, rule_id),
    )
    return TagRuleRow.from_row(row) if row else None


async def count_tag_rules(db: Reader, project_id: int) -> int:
    """How many tag rules the project has. Inside a write transaction on PostgreSQL the
    project's row is locked first, so two rules added at once are counted one after the
    other against the limit."""
    lock = dialect_of(db).for_update
    if lock:
        await fetch_all(db, "SELECT id FROM projects WHERE id = ?" + lock, (project_id,))
    row = await fetch_one(
        db, "SELECT COUNT(*) FROM tag_protection_rules WHERE project_id = ?", (project_id,)
    )
    return int(row[0]) if row else 0


async def select_tag_rule_by_pattern(
    db: Reader, project_id: int, pattern: str, immutable: bool
) -> TagRuleRow | None:
    row = await fetch_one(
        db,
        f"SELECT {_TAG_COLUMNS} FROM tag_protection_rules"
        " WHERE project_id = ? AND tag_name_pattern = ? AND immutable = ?",
        (project_id, pattern, int(immutable)),
    )
    return TagRuleRow.from_row(row) if row else None


async def insert_tag_rule(
    tx: Writer,
    project_id: int,
    pattern: str,
    push_level: int | None,
    delete_level: int | None,
    immutable: bool,
    now: datetime,
) -> int:
    return await insert(
        tx,
        "INSERT INTO tag_protection_rules (project_id, tag_name_pattern,"
        " minimum_access_level_for_push, minimum_access_level_for_delete, immutable, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (project_id, pattern, push_level, delete_level, int(immutable), format_time(now)),
    )


async def update_tag_rule(
    tx: Writer, rule_id: int, pattern: str, push_level: int | None, delete_level: int | None
) -> None:
    await execute(
        tx,
        "UPDATE tag_protection_rules SET tag_name_pattern = ?,"
        " minimum_access_level_for_push = ?, minimum_access_level_for_delete = ? WHERE id = ?",
        (pattern, push_level, delete_level, rule_id),
    )


async def delete_tag_rule(tx: Writer, project_id: int, rule_id: int) -> bool:
    return (
        await execute(
            tx,
            "DELETE FROM tag_protection_rules WHERE project_id = ? AND id = ?",
            (project_id, rule_id),
        )
        > 0
    )


async def select_repository_rules(db: Reader, project_id: int) -> list[RepositoryRuleRow]:
    rows = await fetch_all(
        db,
        f"SELECT {_REPOSITORY_COLUMNS} FROM repository_protection_rules WHERE project_id = ?"
        " ORDER BY id",
        (project_id,),
    )
    return [RepositoryRuleRow.from_row(row) for row in rows]


async def select_repository_rule(
    db: Reader, project_id: int, rule_id: int
) -> RepositoryRuleRow | None:
    row = await fetch_one(
        db,
        f"SELECT {_REPOSITORY_COLUMNS} FROM repository_protection_rules"
        " WHERE project_id = ? AND id = ?",
        (project_id, rule_id),
    )
    return RepositoryRuleRow.from_row(row) if row else None


async def select_repository_rule_by_pattern(
    db: Reader, project_id: int, pattern: str
) -> RepositoryRuleRow | None:
    row = await fetch_one(
        db,
        f"SELECT {_REPOSITORY_COLUMNS} FROM repository_protection_rules"
        " WHERE project_id = ? AND repository_path_pattern = ?",
        (project_id, pattern),
    )
    return RepositoryRuleRow.from_row(row) if row else None


async def insert_repository_rule(
    tx: Writer,
    project_id: int,
    pattern: str,
    push_level: int | None,
    delete_level: int | None,
    now: datetime,
) -> int:
    return await insert(
        tx,
        "INSERT INTO repository_protection_rules (project_id, repository_path_pattern,"
        " minimum_access_level_for_push, minimum_access_level_for_delete, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (project_id, pattern, push_level, delete_level, format_time(now)),
    )


async def update_repository_rule(
    tx: Writer, rule_id: int, pattern: str, push_level: int | None, delete_level: int | None
) -> None:
    await execute(
        tx,
        "UPDATE repository_protection_rules SET repository_path_pattern = ?,"
        " minimum_access_level_for_push = ?, minimum_access_level_for_delete = ? WHERE id = ?",
        (pattern, push_level, delete_level, rule_id),
    )


async def delete_repository_rule(tx: Writer, project_id: int, rule_id: int) -> bool:
    return (
        await execute(
            tx,
            "DELETE FROM repository_protection_rules WHERE project_id = ? AND id = ?",
            (project_id, rule_id),
        )
        > 0
    )
