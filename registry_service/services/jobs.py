"""Background jobs as the services see them: write the intent, then hand it to a queue.

The intent row is committed before anything is enqueued, so a crash of the server, a worker or
Redis between the two loses nothing: runners sweep the catalog for due jobs on start-up and
periodically. The queue itself (in-process or arq) is a ``JobQueue`` the composition root
passes in; services never import the runners.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from registry_service.catalog import jobs as job_rows
from registry_service.catalog.errors import ForeignKeyViolated
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import JobRow
from registry_service.errors import RecordNotFound

if TYPE_CHECKING:
    # job_data names its kinds with JobKind, from here; only its types are needed here.
    from registry_service.services.job_data import JobParams

log = logging.getLogger("registry_service.jobs")


class JobKind(StrEnum):
    CLEANUP_TAGS = "cleanup_tags"
    DELETE_REPOSITORY = "delete_repository"
    COLLECT_GARBAGE = "collect_garbage"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobQueue(Protocol):
    async def enqueue(self, job_id: int) -> None:
        """Ask a runner to run the job soon (it may already be running: that is harmless)."""
        ...


class _NoRunner:
    """A queue with no runner behind it: intents wait in the catalog for the next sweep."""

    async def enqueue(self, job_id: int) -> None:
        return None


NO_RUNNER: JobQueue = _NoRunner()


@runtime_checkable
class GatedRunner(Protocol):
    """A queue that is also a runner, active or standing by (the in-process runner)."""

    @property
    def active(self) -> bool: ...


def runner_role(queue: JobQueue) -> str:
    """What this process does for the catalog's jobs: ``active`` (it runs them), ``standby``
    (another process does; it takes over if that one goes), or ``none`` (no runner here: arq
    workers run them, or nothing does)."""
    if isinstance(queue, GatedRunner):
        return "active" if queue.active else "standby"
    return "none"


async def submit_job(
    catalog: CatalogBackend,
    queue: JobQueue,
    params: JobParams,
    *,
    requester_id: int | None,
    project_id: int | None = None,
    repository_id: int | None = None,
    now: datetime,
) -> int:
    """Record a job's intent (its kind is the parameters') and enqueue it; returns the job id.

    RecordNotFound if the repository (or project, or requester) it names was deleted since the
    caller looked it up — a concurrent repository deletion can finish in between.
    """
    try:
        async with catalog.transaction() as tx:
            job_id = await job_rows.insert_job(
                tx,
                kind=params.kind,
                params=params.encode(),
                requester_id=requester_id,
                project_id=project_id,
                repository_id=repository_id,
                now=now,
            )
    except ForeignKeyViolated:
        raise RecordNotFound() from None
    try:
        await queue.enqueue(job_id)
    except Exception:
        # The intent is committed; the runners' sweep picks it up once the queue is back.
        log.exception("job %d recorded but not enqueued; the next sweep will run it", job_id)
    return job_id


async def find_job(catalog: CatalogBackend, job_id: int) -> JobRow | None:
    return await job_rows.select_job(catalog.reader, job_id)
