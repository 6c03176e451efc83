"""What instance administrators see and do on the web interface's admin pages: users (list,
block, unblock), storage usage (blob bytes in all and per project) and garbage collection runs.
Every function refuses anyone but an administrator (401 anonymous, 403 others), as the API's
administrator calls do."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from registry_service.catalog import administration as admin_rows
from registry_service.catalog import repository_stats as stat_rows
from registry_service.catalog import stats as stat_totals
from registry_service.catalog import users as user_rows
from registry_service.catalog.db import Catalog
from registry_service.catalog.rows import JobRow, User
from registry_service.catalog.stats import StoredTotals
from registry_service.errors import Forbidden, UserNotFound
from registry_service.services.jobs import JobKind
from registry_service.services.permissions import Actor
from registry_service.services.users import require_admin

GC_RUNS_SHOWN = 20


@dataclass(frozen=True)
class ProjectUsage:
    project_id: int
    full_path: str
    repositories: int
    blob_bytes: int


@dataclass(frozen=True)
class StorageUsage:
    totals: StoredTotals
    projects: list[ProjectUsage]


@dataclass(frozen=True)
class GcRun:
    job: JobRow
    counts: dict[str, Any]
    reason: str | None


async def list_users(catalog: Catalog, actor: Actor) -> list[User]:
    require_admin(actor)
    return await user_rows.select_users(catalog.reader)


async def set_user_blocked(catalog: Catalog, actor: Actor, user_id: int, blocked: bool) -> User:
    """Block (or unblock) a user: a blocked user's tokens and web sessions stop working at
    once. Administrators cannot block themselves (nobody would be left to undo it)."""
    require_admin(actor)
    if blocked and user_id == actor.user_id:
        raise Forbidden("you cannot block yourself")
    async with catalog.transaction() as tx:
        if not await admin_rows.update_user_state(
            tx, user_id, "blocked" if blocked else "active"
        ):
            raise UserNotFound()
        user = await user_rows.select_user_by_id(tx, user_id)
    assert user is not None
    return user


async def storage_usage(catalog: Catalog, actor: Actor) -> StorageUsage:
    require_admin(actor)
    # Whole-table aggregates: on the scan reader, off the event loop.
    totals = await stat_totals.select_stored_totals(catalog.scan_reader)
    projects = await stat_rows.select_project_blob_bytes(catalog.scan_reader)
    return StorageUsage(totals, [ProjectUsage(*row) for row in projects])


async def gc_runs(catalog: Catalog, actor: Actor) -> list[GcRun]:
    require_admin(actor)
    found = await admin_rows.select_newest_jobs(
        catalog.reader, JobKind.COLLECT_GARBAGE, GC_RUNS_SHOWN
    )
    return [_gc_run(job) for job in found]


def _gc_run(job: JobRow) -> GcRun:
    counts = json.loads(job.counts) if job.counts else {}
    result = json.loads(job.result) if job.result else {}
    reason = result.get("nothing_deleted_because") if isinstance(result, dict) else None
    return GcRun(job, counts if isinstance(counts, dict) else {}, reason)
