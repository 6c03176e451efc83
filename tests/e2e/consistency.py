"""Is a data directory consistent? The invariants a crash must not break, checked from outside.

``assert_store_consistent(data_dir)`` reads the catalog with sqlite3 (safe beside a running
server: WAL), or with ``catalog_url=`` a PostgreSQL catalog through asyncpg (what replicas
share), and the blob tree with plain file reads, and asserts what the design promises
(oci-distribution.md "Decisions", ``storage/layout.py``, ``services/blobs.py``), the same
invariants on either catalog:

- an SQLite file passes ``integrity_check`` and ``foreign_key_check`` (PostgreSQL checks its
  foreign keys at every commit, and has no whole-database check to run);
- every file under ``blobs/`` is named by the digest of its bytes (no partial file is visible);
- every ``blobs`` row has its file, of the recorded size (so, by the rule above, its bytes);
- every manifest's payload hashes to its digest and has its recorded size;
- every blob a manifest references, and every child an index lists, is there (row and file);
- every repository link points at a blob row and every tag at a manifest of its repository;
- each repository's ``tags_count`` is its number of tags, and no tagged manifest is stamped
  unreferenced;
- ``tmp/`` is empty (only call this after a start-up, which purges it).

A blob file that no row references is allowed: a crash between the rename and the catalog
commit leaves one, and garbage collection removes it. Returns what it saw, for more asserts.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from tests.postgres_server import run_async

HASH_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class StoreState:
    """What a consistent store holds: blob files by digest (with sizes) and catalog rows."""

    files: dict[str, int]
    blob_rows: dict[str, int]
    manifests: dict[tuple[int, str], bytes]


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    hasher = hashlib.new(algorithm)
    with path.open("rb") as file:
        while piece := file.read(HASH_READ_BYTES):
            hasher.update(piece)
    return f"{algorithm}:{hasher.hexdigest()}"


def blob_files(data_dir: Path) -> dict[str, int]:
    """Every file under ``blobs/`` by the digest its path names, with its size; asserts that
    the name is the digest of the content and sits in the right fan-out directory."""
    found: dict[str, int] = {}
    root = data_dir / "blobs"
    if not root.exists():
        return found
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        algorithm, fan_out, name = path.relative_to(root).parts
        named = f"{algorithm}:{name}"
        assert name.startswith(fan_out), f"{path} is in the wrong fan-out directory"
        assert file_digest(path, algorithm) == named, f"{path} holds other bytes than its name"
        found[named] = path.stat().st_size
    return found


# The rows every check below reads: plain SELECTs without parameters, spelled alike in both
# dialects, so one set of checks runs over either catalog.
QUERIES = {
    "blobs": "SELECT digest, size_bytes FROM blobs",
    "manifests": "SELECT repository_id, digest, payload, size_bytes FROM manifests",
    "manifest_blobs": (
        "SELECT m.digest, m.repository_id, mb.digest, mb.size_bytes FROM manifest_blobs mb"
        " JOIN manifests m ON m.id = mb.manifest_id"
    ),
    "manifest_children": (
        "SELECT m.digest, m.repository_id, mc.child_digest FROM manifest_children mc"
        " JOIN manifests m ON m.id = mc.parent_id"
    ),
    "repository_blobs": "SELECT repository_id, digest FROM repository_blobs",
    "orphan_tags": (
        "SELECT t.name FROM tags t LEFT JOIN manifests m"
        " ON m.id = t.manifest_id AND m.repository_id = t.repository_id WHERE m.id IS NULL"
    ),
    "miscounted": (
        "SELECT r.id, r.tags_count, COUNT(t.id) FROM repositories r"
        " LEFT JOIN tags t ON t.repository_id = r.id"
        " GROUP BY r.id HAVING r.tags_count <> COUNT(t.id)"
    ),
    "stamped_but_tagged": (
        "SELECT DISTINCT u.manifest_id FROM unreferenced_manifests u"
        " JOIN tags t ON t.manifest_id = u.manifest_id"
    ),
}
Rows = dict[str, list[tuple[Any, ...]]]


def read_sqlite_rows(data_dir: Path) -> Rows:
    db = sqlite3.connect(f"file:{data_dir / 'registry.sqlite3'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        return {name: db.execute(sql).fetchall() for name, sql in QUERIES.items()}
    finally:
        db.close()


def read_postgresql_rows(catalog_url: str) -> Rows:
    async def read() -> Rows:
        conn = await asyncpg.connect(catalog_url)
        try:
            # One snapshot for every query, as the SQLite reader's would be between commits.
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                return {
                    name: [tuple(row) for row in await conn.fetch(sql)]
                    for name, sql in QUERIES.items()
                }
        finally:
            await conn.close()

    return run_async(read)


def assert_store_consistent(data_dir: Path, *, catalog_url: str = "") -> StoreState:
    """Check the blob tree under ``data_dir`` against the catalog: the data directory's SQLite
    file, or the PostgreSQL database ``catalog_url`` names."""
    files = blob_files(data_dir)
    rows = read_postgresql_rows(catalog_url) if catalog_url else read_sqlite_rows(data_dir)

    blob_rows: dict[str, int] = dict(rows["blobs"])  # type: ignore[arg-type]
    for digest, size in blob_rows.items():
        assert digest in files, f"blob row {digest} has no file"
        assert files[digest] == size, f"blob {digest}: row says {size}, file {files[digest]}"

    manifests: dict[tuple[int, str], bytes] = {}
    for repository_id, digest, payload, size in rows["manifests"]:
        algorithm = digest.split(":", 1)[0]
        computed = f"{algorithm}:{hashlib.new(algorithm, payload).hexdigest()}"
        assert computed == digest, f"manifest {digest} holds a payload of digest {computed}"
        assert len(payload) == size, f"manifest {digest}: size {size}, payload {len(payload)}"
        manifests[(repository_id, digest)] = bytes(payload)

    links = {(repository_id, digest) for repository_id, digest in rows["repository_blobs"]}
    for manifest_digest, repository_id, digest, size in rows["manifest_blobs"]:
        assert blob_rows.get(digest) == size, f"{manifest_digest} needs missing blob {digest}"
        assert (repository_id, digest) in links, (
            f"{manifest_digest} needs {digest}, not linked to its repository"
        )

    for parent, repository_id, child in rows["manifest_children"]:
        assert (repository_id, child) in manifests, f"index {parent} lists missing {child}"

    for _, digest in links:
        assert digest in blob_rows, f"repository link to unknown blob {digest}"

    assert rows["orphan_tags"] == [], f"tags without a manifest: {rows['orphan_tags']}"
    assert rows["miscounted"] == [], (
        f"(repository, tags_count, tags) that disagree: {rows['miscounted']}"
    )
    assert rows["stamped_but_tagged"] == [], (
        f"tagged yet unreferenced: {rows['stamped_but_tagged']}"
    )

    tmp = data_dir / "tmp"
    leftovers = sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []
    assert leftovers == [], f"temp files survived start-up: {leftovers}"
    return StoreState(files, blob_rows, manifests)
