"""SQL for the totals ``/metrics`` reports from the catalog: jobs by kind and state with what they
did, and what is stored. Only aggregates live here; turning them into metrics is not this
module's business.

The catalog is shared by ``serve`` and every arq worker, so these totals are right whichever
process did the work. Each is a full scan of a small table or of an index; callers run them on
the scan reader, off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry_service.catalog.db import fetch_all, fetch_one
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader


@dataclass(frozen=True)
class JobTotals:
    """The jobs of one kind in one state, and the sums of two of their ``counts`` keys."""

    kind: str
    state: str
    jobs: int
    # counts.deleted: tags a cleanup or a repository deletion removed (saved as it goes).
    deleted: int
    # counts.bytes_freed: what a garbage collection removed from the blob store.
    bytes_freed: int


@dataclass(frozen=True)
class StoredTotals:
    repositories: int
    tags: int
    manifests: int
    blobs: int
    blob_bytes: int


async def select_job_totals(db: Reader) -> list[JobTotals]:
    member = dialect_of(db).int_member
    rows = await fetch_all(
        db,
        "SELECT kind, state, COUNT(*) AS jobs,"
        f" COALESCE(SUM({member('counts', 'deleted')}), 0) AS deleted,"
        f" COALESCE(SUM({member('counts', 'bytes_freed')}), 0) AS bytes_freed"
        " FROM jobs GROUP BY kind, state ORDER BY kind, state",
    )
    return [
        JobTotals(r["kind"], r["state"], r["jobs"], int(r["deleted"]), int(r["bytes_freed"]))
        for r in rows
    ]


async def select_stored_totals(db: Reader) -> StoredTotals:
    row = await fetch_one(
        db,
        "SELECT (SELECT COUNT(*) FROM repositories) AS repositories,"
        # Each repository's count, kept by triggers: no walk over every tag on each scrape.
        " (SELECT COALESCE(SUM(tags_count), 0) FROM repositories) AS tags,"
        " (SELECT COUNT(*) FROM manifests) AS manifests,"
        " (SELECT COUNT(*) FROM blobs) AS blobs,"
        " (SELECT COALESCE(SUM(size_bytes), 0) FROM blobs) AS blob_bytes",
    )
    assert row is not None
    return StoredTotals(
        row["repositories"], row["tags"], row["manifests"], row["blobs"], row["blob_bytes"]
    )
