"""What instance administrators see and do on the web interface's admin pages: users (list,
block, unblock), storage usage (blob bytes in all and per project) and garbage collection runs.
Every function refuses anyone but an administrator (401 anonymous, 403 others), as the API's
administrator calls do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry_service.catalog import administration as admin_rows
from registry_service.catalog import repository_stats as stat_rows
from registry_service.catalog import stats as stat_totals
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import JobRow
from registry_service.catalog.stats import StoredTotals
from registry_service.services.job_data import decode_job
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


async def storage_usage(catalog: CatalogBackend, actor: Actor) -> StorageUsage:
    require_admin(actor)
    # Whole-table aggregates: on the scan reader, off the event loop.
    totals = await stat_totals.select_stored_totals(catalog.scan_reader)
    projects = await stat_rows.select_project_blob_bytes(catalog.scan_reader)
    return StorageUsage(totals, [ProjectUsage(*row) for row in projects])


async def gc_runs(catalog: CatalogBackend, actor: Actor) -> list[GcRun]:
    require_admin(actor)
    found = await admin_rows.select_newest_jobs(
        catalog.reader, JobKind.COLLECT_GARBAGE, GC_RUNS_SHOWN
    )
    return [_gc_run(job) for job in found]


def _gc_run(job: JobRow) -> GcRun:
    # The job codec, as everywhere a job row is read: a malformed row is an error, not a blank.
    data = decode_job(job)
    reason = getattr(data.result, "nothing_deleted_because", None)
    return GcRun(job, data.counts.to_json(), reason)
