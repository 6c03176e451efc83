"""SQL for the manifest pull, ``GET``/``HEAD /v2/<name>/manifests/<reference>``: everything it
reads after the caller's credential, in one statement.

The pull is the registry's hottest request, and on PostgreSQL each statement is a round trip
(~0.15-0.3 ms of CPU on both ends), so what used to be looked up in turn (the owning project,
the caller's level on it, the repository, the manifest by digest or tag) comes back as one
row. Only SQL lives here: whether the caller may see what came back is
``services.images``' decision, taken before anything of it is answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from registry_service.catalog.db import fetch_one
from registry_service.catalog.manifests import MANIFEST_COLUMNS
from registry_service.catalog.members import CALLER_LEVEL, caller_level, owning_project_cte
from registry_service.catalog.protocols import Reader, Row
from registry_service.catalog.rows import (
    PrefixedRow,
    Project,
    Repository,
    StoredManifest,
    prefixed_columns,
)

_REPOSITORY_COLUMNS = (
    "id, project_id, name, created_at, status, failed_deletion_count, next_delete_attempt_at,"
    " delete_started_at, cleanup_policy_started_at"
)
_MANIFEST_WITH_PAYLOAD = prefixed_columns("m", MANIFEST_COLUMNS + ", payload", "m_")


@dataclass(frozen=True)
class PulledRows:
    """What a pull found: the owning project and the caller's level on it, its repository of
    the image (None if never pushed) and the manifest with its bytes (None if absent)."""

    project: Project
    level: int
    repository: Repository | None
    manifest: tuple[StoredManifest, bytes] | None


def _manifest_join(by_tag: bool) -> str:
    """The manifests of repository ``r`` that ``:ref`` names, a tag or a digest."""
    if by_tag:
        return (
            "LEFT JOIN manifests m"
            " ON m.id = (SELECT manifest_id FROM tags WHERE repository_id = r.id AND name = :ref)"
        )
    return "LEFT JOIN manifests m ON m.repository_id = r.id AND m.digest = :ref"


def _manifest(row: Row) -> tuple[StoredManifest, bytes] | None:
    if row["m_id"] is None:
        return None
    manifest = PrefixedRow(row, "m_")
    return StoredManifest.from_row(manifest), bytes(manifest["payload"])


async def select_pull(
    db: Reader,
    full_paths: Sequence[str],
    image_path: str,
    user_id: int | None,
    reference: str,
    *,
    by_tag: bool,
) -> PulledRows | None:
    """The project at the longest of ``full_paths`` (prefixes of ``image_path``), ``user_id``'s
    level on it, the repository of ``image_path`` below it and its manifest that ``reference``
    names; None when no project owns the path."""
    if not full_paths:
        return None
    cte, params = owning_project_cte(full_paths)
    row = await fetch_one(
        db,
        f"{cte} SELECT owning.*, {CALLER_LEVEL},"
        f" {prefixed_columns('r', _REPOSITORY_COLUMNS, 'r_')}, {_MANIFEST_WITH_PAYLOAD}"
        # The repository's name is what follows the project's path and its slash ('' for
        # the project's root image).
        " FROM owning LEFT JOIN repositories r ON r.project_id = owning.id"
        " AND r.name = substr(:image_path, length(owning.full_path) + 2)"
        f" {_manifest_join(by_tag)}",
        {**params, "uid": user_id, "image_path": image_path, "ref": reference},
    )
    if row is None:
        return None
    repository = Repository.from_row(PrefixedRow(row, "r_")) if row["r_id"] is not None else None
    return PulledRows(Project.from_row(row), caller_level(row), repository, _manifest(row))


async def select_repository_with_manifest(
    db: Reader, project_id: int, name: str, reference: str, *, by_tag: bool
) -> tuple[Repository, tuple[StoredManifest, bytes] | None] | None:
    """A repository and its manifest that ``reference`` names (a tag or a digest) with its
    bytes, in one statement (the pull of a caller whose token already named the project).
    None when the repository does not exist."""
    row = await fetch_one(
        db,
        f"SELECT r.*, {_MANIFEST_WITH_PAYLOAD} FROM repositories r {_manifest_join(by_tag)}"
        " WHERE r.project_id = :project_id AND r.name = :name",
        {"project_id": project_id, "name": name, "ref": reference},
    )
    if row is None:
        return None
    return Repository.from_row(row), _manifest(row)
