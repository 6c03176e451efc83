"""SQL for what the web interface shows beside each repository and project: bytes reached
from tags, the last push, and the instance's blob bytes per project. Only SQL lives here;
each answers a whole page of repositories (or every project) in one statement."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from registry_service.catalog.db import fetch_all, parse_time
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Reader


async def select_repository_sizes(db: Reader, repository_ids: Sequence[int]) -> dict[int, int]:
    """Bytes of the distinct blobs reached from each repository's tags (through indexes too),
    as ``manifests.select_repository_size`` counts one repository."""
    found = dict.fromkeys(repository_ids, 0)
    if not repository_ids:
        return found
    rows = await fetch_all(
        db,
        "WITH RECURSIVE reach(repo, id) AS ("
        " SELECT repository_id, manifest_id FROM tags"
        f" WHERE repository_id IN {dialect_of(db).ints(':ids')}"
        " UNION"
        " SELECT r.repo, m.id FROM reach r JOIN manifest_children c ON c.parent_id = r.id"
        " JOIN manifests m ON m.repository_id = r.repo AND m.digest = c.child_digest)"
        " SELECT repo, COALESCE(SUM(size_bytes), 0) FROM ("
        " SELECT reach.repo, b.digest, MAX(b.size_bytes) AS size_bytes FROM manifest_blobs b"
        " JOIN reach ON b.manifest_id = reach.id GROUP BY reach.repo, b.digest) sizes"
        " GROUP BY repo",
        {"ids": json.dumps(sorted(set(repository_ids)))},
    )
    found.update({r[0]: int(r[1]) for r in rows})
    return found


async def select_last_pushes(
    db: Reader, repository_ids: Sequence[int]
) -> dict[int, datetime | None]:
    """When a tag of each repository was last pushed (None without tags)."""
    if not repository_ids:
        return {}
    # A correlated MAX per repository is one probe of tags_pushed (migration 0006) each.
    rows = await fetch_all(
        db,
        "SELECT r.id, (SELECT MAX(t.pushed_at) FROM tags t WHERE t.repository_id = r.id)"
        f" FROM repositories r WHERE r.id IN {dialect_of(db).ints('?')}",
        (json.dumps(sorted(set(repository_ids))),),
    )
    return {r[0]: parse_time(r[1]) for r in rows}


async def select_project_blob_bytes(db: Reader) -> list[tuple[int, str, int, int]]:
    """(project id, full path, repositories, bytes of the distinct blobs its repositories may
    read) for every project, largest first; a blob shared by two projects counts in both."""
    rows = await fetch_all(
        db,
        "SELECT p.id, p.full_path,"
        " (SELECT COUNT(*) FROM repositories r WHERE r.project_id = p.id),"
        " COALESCE((SELECT SUM(b.size_bytes) FROM blobs b WHERE b.digest IN ("
        "  SELECT rb.digest FROM repository_blobs rb JOIN repositories r"
        "  ON r.id = rb.repository_id WHERE r.project_id = p.id)), 0) AS bytes"
        " FROM projects p ORDER BY bytes DESC, p.full_path",
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows]
