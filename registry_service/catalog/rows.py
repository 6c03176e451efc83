"""Frozen row types the catalog hands out, so nothing above it sees ``sqlite3.Row``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from registry_service.catalog.db import Row, parse_time


def _time(row: Row, key: str) -> datetime | None:
    return parse_time(row[key])


def _required_time(row: Row, key: str) -> datetime:
    value = parse_time(row[key])
    assert value is not None, key
    return value


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
        )


@dataclass(frozen=True)
class Member:
    user: User
    access_level: int
    expires_at: date | None
    created_at: datetime
