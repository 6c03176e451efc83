"""SQL for manifests, the blobs they need and the children an index lists."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from registry_service.catalog.db import execute, fetch_all, fetch_one, format_time
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.errors import ConstraintViolated
from registry_service.catalog.protocols import Reader, Writer
from registry_service.catalog.rows import StoredManifest

# The columns of ``StoredManifest`` (all but the payload).
MANIFEST_COLUMNS = (
    "id, repository_id, digest, media_type, size_bytes, config_digest, config_media_type,"
    " artifact_type, subject_digest, image_created_at, total_size_bytes, annotations, created_at"
)


@dataclass(frozen=True)
class NewManifest:
    """What a manifest PUT records, besides its references."""

    digest: str
    media_type: str
    payload: bytes
    config_digest: str | None
    config_media_type: str | None
    artifact_type: str | None
    subject_digest: str | None
    image_created_at: datetime | None
    total_size_bytes: int | None
    annotations: str | None
    # (digest, size, media type): the config first (if any), then the layers in order.
    blobs: Sequence[tuple[str, int, str]]
    has_config: bool
    # (digest, platform JSON or None) of an index's children, in order.
    children: Sequence[tuple[str, str | None]]


async def insert_manifest(
    db: Writer, repository_id: int, new: NewManifest, now: datetime
) -> tuple[int, bool]:
    """Store a manifest (idempotent by digest); returns (id, created).

    An existing row is locked ``FOR KEY SHARE`` on PostgreSQL: garbage collection deletes it
    before this (and a new row is written) or after this transaction, once it sees the tags
    the caller is about to add. Two pushes of one new manifest at once: the second waits for
    the first's row and then answers it."""
    existing = await _select_manifest_id_locked(db, repository_id, new.digest)
    if existing is not None:
        return existing, False
    inserted = await fetch_all(
        db,
        _INSERT_MANIFEST + " ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id",
        _manifest_row(repository_id, new, format_time(now)),
    )
    if not inserted:
        concurrent = await _select_manifest_id_locked(db, repository_id, new.digest)
        if concurrent is None:
            raise ConstraintViolated(f"manifest {new.digest} was inserted and deleted meanwhile")
        return concurrent, False
    manifest_id = int(inserted[0][0])
    await db.executemany(_INSERT_BLOB_REF, _blob_refs(manifest_id, new))
    await db.executemany(_INSERT_CHILD, _child_refs(manifest_id, new))
    return manifest_id, True


async def _select_manifest_id_locked(db: Writer, repository_id: int, digest: str) -> int | None:
    row = await fetch_one(
        db,
        "SELECT id FROM manifests WHERE repository_id = ? AND digest = ?"
        + dialect_of(db).for_key_share,
        (repository_id, digest),
    )
    return int(row[0]) if row is not None else None


async def lock_manifest_rows(db: Writer, repository_id: int, digests: Sequence[str]) -> None:
    """Keep the repository's manifests of ``digests`` from being deleted until the
    transaction ends (an index about to list them as children), in id order as garbage
    collection locks them; nothing to do on SQLite."""
    dialect = dialect_of(db)
    if not dialect.for_key_share or not digests:
        return
    await fetch_all(
        db,
        f"SELECT id FROM manifests WHERE repository_id = ? AND digest IN {dialect.texts('?')}"
        " ORDER BY id" + dialect.for_key_share,
        (repository_id, json.dumps(sorted(set(digests)))),
    )


async def insert_manifests(
    db: Writer, repository_id: int, news: Sequence[NewManifest], now: datetime
) -> tuple[dict[str, int], int]:
    """Store many manifests in a few statements (seeding); those already in the repository
    are left as they are. Returns the id of every manifest of the repository by digest, and
    how many were new."""
    ids = await select_manifest_ids(db, repository_id)
    fresh = list({new.digest: new for new in news if new.digest not in ids}.values())
    if not fresh:
        return ids, 0
    await db.executemany(
        _INSERT_MANIFEST, [_manifest_row(repository_id, n, format_time(now)) for n in fresh]
    )
    ids = await select_manifest_ids(db, repository_id)
    await db.executemany(
        _INSERT_BLOB_REF, [ref for new in fresh for ref in _blob_refs(ids[new.digest], new)]
    )
    await db.executemany(
        _INSERT_CHILD, [ref for new in fresh for ref in _child_refs(ids[new.digest], new)]
    )
    return ids, len(fresh)


async def select_manifest_ids(db: Reader, repository_id: int) -> dict[str, int]:
    rows = await fetch_all(
        db, "SELECT digest, id FROM manifests WHERE repository_id = ?", (repository_id,)
    )
    return {row[0]: row[1] for row in rows}


_INSERT_MANIFEST = (
    "INSERT INTO manifests (repository_id, digest, media_type, payload, size_bytes,"
    " config_digest, config_media_type, artifact_type, subject_digest, image_created_at,"
    " total_size_bytes, annotations, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_BLOB_REF = (
    "INSERT INTO manifest_blobs (manifest_id, position, digest, size_bytes, media_type)"
    " VALUES (?, ?, ?, ?, ?)"
)
_INSERT_CHILD = (
    "INSERT INTO manifest_children (parent_id, position, child_digest, platform)"
    " VALUES (?, ?, ?, ?)"
)


def _manifest_row(repository_id: int, new: NewManifest, now: str) -> tuple[object, ...]:
    return (
        repository_id,
        new.digest,
        new.media_type,
        new.payload,
        len(new.payload),
        new.config_digest,
        new.config_media_type,
        new.artifact_type,
        new.subject_digest,
        format_time(new.image_created_at) if new.image_created_at else None,
        new.total_size_bytes,
        new.annotations,
        now,
    )


def _blob_refs(manifest_id: int, new: NewManifest) -> list[tuple[object, ...]]:
    first = -1 if new.has_config else 0
    return [
        (manifest_id, first + i, digest, size, media_type)
        for i, (digest, size, media_type) in enumerate(new.blobs)
    ]


def _child_refs(manifest_id: int, new: NewManifest) -> list[tuple[object, ...]]:
    return [(manifest_id, i, digest, platform) for i, (digest, platform) in enumerate(new.children)]


async def select_manifest(
    db: Reader, repository_id: int, digest: str
) -> StoredManifest | None:
    row = await fetch_one(
        db,
        f"SELECT {MANIFEST_COLUMNS} FROM manifests WHERE repository_id = ? AND digest = ?",
        (repository_id, digest),
    )
    return StoredManifest.from_row(row) if row else None


async def select_manifest_with_payload(
    db: Reader, repository_id: int, *, digest: str | None = None, tag: str | None = None
) -> tuple[StoredManifest, bytes] | None:
    """A manifest and its bytes in one query, by digest or by tag (the pull path)."""
    if tag is not None:
        where = "m.id = (SELECT manifest_id FROM tags WHERE repository_id = ? AND name = ?)"
        params: tuple[object, ...] = (repository_id, tag)
    else:
        where = "m.repository_id = ? AND m.digest = ?"
        params = (repository_id, digest)
    columns = ", ".join(f"m.{c.strip()}" for c in MANIFEST_COLUMNS.split(","))
    row = await fetch_one(db, f"SELECT {columns}, m.payload FROM manifests m WHERE {where}", params)
    return (StoredManifest.from_row(row), bytes(row["payload"])) if row else None


async def select_manifests_by_digests(
    db: Reader, repository_id: int, digests: Sequence[str]
) -> dict[str, StoredManifest]:
    if not digests:
        return {}
    marks = ",".join("?" * len(digests))
    rows = await fetch_all(
        db,
        f"SELECT {MANIFEST_COLUMNS} FROM manifests WHERE repository_id = ? AND digest IN ({marks})",
        [repository_id, *digests],
    )
    return {row["digest"]: StoredManifest.from_row(row) for row in rows}


async def select_referrers(
    db: Reader, repository_id: int, subject_digest: str
) -> list[StoredManifest]:
    rows = await fetch_all(
        db,
        f"SELECT {MANIFEST_COLUMNS} FROM manifests WHERE repository_id = ? AND subject_digest = ?"
        " ORDER BY id",
        (repository_id, subject_digest),
    )
    return [StoredManifest.from_row(r) for r in rows]


async def select_blob_refs(
    db: Reader, manifest_id: int
) -> list[tuple[int, str, int, str]]:
    """(position, digest, size, media type) of a manifest's config (-1) and layers."""
    rows = await fetch_all(
        db,
        "SELECT position, digest, size_bytes, media_type FROM manifest_blobs"
        " WHERE manifest_id = ? ORDER BY position",
        (manifest_id,),
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def delete_manifest(db: Writer, manifest_id: int) -> None:
    """Remove a manifest and every tag on it (deleting by digest untags it everywhere)."""
    await execute(db, "DELETE FROM tags WHERE manifest_id = ?", (manifest_id,))
    await execute(db, "DELETE FROM manifests WHERE id = ?", (manifest_id,))


async def select_repository_size(db: Reader, repository_id: int) -> int:
    """Bytes of the distinct blobs (configs and layers) of every manifest a tag reaches.

    A tag reaches its manifest and, through an index, every child (nested indexes too). Each
    blob counts once however many manifests share it; manifest bytes themselves are not blobs
    and are left out, as are untagged manifests (garbage collection will take them).
    """
    row = await fetch_one(
        db,
        "WITH RECURSIVE reach(id) AS ("
        " SELECT manifest_id FROM tags WHERE repository_id = :repo"
        " UNION"
        " SELECT m.id FROM reach r JOIN manifest_children c ON c.parent_id = r.id"
        " JOIN manifests m ON m.repository_id = :repo AND m.digest = c.child_digest)"
        " SELECT COALESCE(SUM(size_bytes), 0) FROM ("
        " SELECT b.digest, MAX(b.size_bytes) AS size_bytes FROM manifest_blobs b"
        " JOIN reach ON b.manifest_id = reach.id GROUP BY b.digest) sizes",
        {"repo": repository_id},
    )
    return int(row[0]) if row else 0
