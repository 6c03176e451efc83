"""Frozen row types the catalog hands out, so nothing above it sees a driver's row."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from registry_service.catalog.db import parse_time
from registry_service.catalog.protocols import Row


def _time(row: Row, key: str) -> datetime | None:
    return parse_time(row[key])


def _required_time(row: Row, key: str) -> datetime:
    value = parse_time(row[key])
    assert value is not None, key
    return value


class PrefixedRow:
    """One table's columns inside a joined row, where they were selected with a prefix
    (``t.id AS t_id``), read by their own names so that table's ``from_row`` takes them."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: Row, prefix: str) -> None:
        self._row = row
        self._prefix = prefix

    def __getitem__(self, key: int | str, /) -> Any:
        if isinstance(key, int):
            raise TypeError("a prefixed row is read by column name")
        return self._row[self._prefix + key]

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("a prefixed row is read by column name")


def prefixed_columns(alias: str, columns: str, prefix: str) -> str:
    """``a.x AS p_x, a.y AS p_y`` for the comma-separated ``columns`` of table alias ``alias``."""
    names = [c.strip() for c in columns.split(",")]
    return ", ".join(f"{alias}.{name} AS {prefix}{name}" for name in names)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str
    email: str | None
    is_admin: bool
    external: bool
    state: str
    created_at: datetime
    # Set while the user's deletion waits for their projects' repositories (version 7).
    marked_for_deletion_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Row) -> User:
        return cls(
            id=row["id"],
            username=row["username"],
            name=row["name"],
            email=row["email"],
            is_admin=bool(row["is_admin"]),
            external=bool(row["external"]),
            state=row["state"],
            created_at=_required_time(row, "created_at"),
            marked_for_deletion_at=_time(row, "marked_for_deletion_at"),
        )


@dataclass(frozen=True)
class Token:
    id: int
    user_id: int
    name: str
    token_digest: str
    scopes: tuple[str, ...]
    expires_at: date | None
    revoked: bool
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Token:
        return cls(
            id=row["id"],
            user_id=row["user_id"],
            name=row["name"],
            token_digest=row["token_digest"],
            scopes=tuple(row["scopes"].split()),
            expires_at=date.fromisoformat(row["expires_at"]) if row["expires_at"] else None,
            revoked=bool(row["revoked"]),
            created_at=_required_time(row, "created_at"),
            last_used_at=_time(row, "last_used_at"),
        )


@dataclass(frozen=True)
class Namespace:
    id: int
    kind: str
    name: str
    path: str
    full_path: str
    parent_id: int | None
    owner_id: int | None
    visibility: str
    description: str
    created_at: datetime
    marked_for_deletion_at: datetime | None = None

    @property
    def full_name(self) -> str:
        return self.full_path.replace("/", " / ")

    @classmethod
    def from_row(cls, row: Row) -> Namespace:
        return cls(
            id=row["id"],
            kind=row["kind"],
            name=row["name"],
            path=row["path"],
            full_path=row["full_path"],
            parent_id=row["parent_id"],
            owner_id=row["owner_id"],
            visibility=row["visibility"],
            description=row["description"],
            created_at=_required_time(row, "created_at"),
            marked_for_deletion_at=_time(row, "marked_for_deletion_at"),
        )


@dataclass(frozen=True)
class Project:
    id: int
    namespace_id: int
    name: str
    path: str
    full_path: str
    visibility: str
    container_registry_access_level: str
    description: str
    creator_id: int | None
    created_at: datetime
    marked_for_deletion_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Row) -> Project:
        return cls(
            id=row["id"],
            namespace_id=row["namespace_id"],
            name=row["name"],
            path=row["path"],
            full_path=row["full_path"],
            visibility=row["visibility"],
            container_registry_access_level=row["container_registry_access_level"],
            description=row["description"],
            creator_id=row["creator_id"],
            created_at=_required_time(row, "created_at"),
            marked_for_deletion_at=_time(row, "marked_for_deletion_at"),
        )


@dataclass(frozen=True)
class Member:
    user: User
    access_level: int
    expires_at: date | None
    created_at: datetime


@dataclass(frozen=True)
class Repository:
    id: int
    project_id: int
    name: str
    created_at: datetime
    status: str | None
    failed_deletion_count: int
    next_delete_attempt_at: datetime | None
    delete_started_at: datetime | None
    cleanup_policy_started_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Repository:
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            name=row["name"],
            created_at=_required_time(row, "created_at"),
            status=row["status"],
            failed_deletion_count=row["failed_deletion_count"],
            next_delete_attempt_at=_time(row, "next_delete_attempt_at"),
            delete_started_at=_time(row, "delete_started_at"),
            cleanup_policy_started_at=_time(row, "cleanup_policy_started_at"),
        )


@dataclass(frozen=True)
class StoredManifest:
    """A manifest row without its payload (see ``select_manifest_with_payload``)."""

    id: int
    repository_id: int
    digest: str
    media_type: str
    size_bytes: int
    config_digest: str | None
    config_media_type: str | None
    artifact_type: str | None
    subject_digest: str | None
    image_created_at: datetime | None
    total_size_bytes: int | None
    annotations: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> StoredManifest:
        return cls(
            id=row["id"],
            repository_id=row["repository_id"],
            digest=row["digest"],
            media_type=row["media_type"],
            size_bytes=row["size_bytes"],
            config_digest=row["config_digest"],
            config_media_type=row["config_media_type"],
            artifact_type=row["artifact_type"],
            subject_digest=row["subject_digest"],
            image_created_at=_time(row, "image_created_at"),
            total_size_bytes=row["total_size_bytes"],
            annotations=row["annotations"],
            created_at=_required_time(row, "created_at"),
        )


@dataclass(frozen=True)
class TagRow:
    name: str
    manifest_id: int
    manifest_digest: str
    pushed_at: datetime
    image_created_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> TagRow:
        return cls(
            name=row["name"],
            manifest_id=row["manifest_id"],
            manifest_digest=row["digest"],
            pushed_at=_required_time(row, "pushed_at"),
            image_created_at=_time(row, "image_created_at"),
        )


@dataclass(frozen=True)
class Upload:
    id: str
    repository_id: int
    algorithm: str
    offset_bytes: int
    started_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Upload:
        return cls(
            id=row["id"],
            repository_id=row["repository_id"],
            algorithm=row["algorithm"],
            offset_bytes=row["offset_bytes"],
            started_at=_required_time(row, "started_at"),
            updated_at=_required_time(row, "updated_at"),
        )


@dataclass(frozen=True)
class JobRow:
    """A job's intent and its progress (``params``, ``counts`` and ``result`` are JSON text,
    written and read by ``services/job_data.py``)."""

    id: int
    kind: str
    params: str
    requester_id: int | None
    project_id: int | None
    repository_id: int | None
    state: str
    counts: str
    result: str | None
    error: str | None
    attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    run_after: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> JobRow:
        return cls(
            id=row["id"],
            kind=row["kind"],
            params=row["params"],
            requester_id=row["requester_id"],
            project_id=row["project_id"],
            repository_id=row["repository_id"],
            state=row["state"],
            counts=row["counts"],
            result=row["result"],
            error=row["error"],
            attempts=row["attempts"],
            lease_owner=row["lease_owner"],
            lease_expires_at=_time(row, "lease_expires_at"),
            run_after=_time(row, "run_after"),
            created_at=_required_time(row, "created_at"),
            started_at=_time(row, "started_at"),
            finished_at=_time(row, "finished_at"),
        )
