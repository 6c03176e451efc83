"""Deleting a container repository (spec §7): every tag, ``latest`` included, then the row.

The API has already set ``delete_scheduled``. The job sets ``delete_ongoing`` and removes the
repository in one transaction — tags, manifests, blob links, upload sessions — so it is either
all there or all gone. On an error the repository goes back to ``delete_scheduled`` and the job
retries after 2^n minutes; after 10 failures it is ``delete_failed`` and stays listed. The bytes
of blobs no other repository uses are left to garbage collection.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from jobs.context import JobContext
from jobs.execute import JobFailed, Outcome, Progress, RetryLater
from registry_service.catalog import deletions as deletion_rows
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.rows import JobRow
from registry_service.services.job_data import (
    RepositoryDeletionCounts,
    RepositoryDeletionResult,
)

log = logging.getLogger("registry_service.jobs")

MAX_FAILURES = 10


def backoff(failures: int) -> timedelta:
    return timedelta(minutes=2**failures)


async def delete_repository(ctx: JobContext, job: JobRow, progress: Progress) -> Outcome:
    if job.repository_id is None:
        return _skipped("no repository given")
    repository = await repository_rows.select_repository_by_id(
        ctx.catalog.reader, job.repository_id
    )
    if repository is None:
        return _skipped("the repository was already deleted")
    tags = await tag_rows.count_tags(ctx.catalog.reader, repository.id)
    try:
        async with ctx.catalog.transaction() as tx:
            await repository_rows.mark_deletion_started(tx, repository.id, ctx.clock.now())
        async with ctx.catalog.transaction() as tx:
            await repository_rows.delete_repository_row(tx, repository.id)
            # The project (group, user) being deleted that this repository was the last
            # thing holding goes with it, in the same transaction (services/deletion.py).
            await deletion_rows.delete_drained_rows(tx)
    except Exception as exc:
        failures = repository.failed_deletion_count + 1
        log.exception("deleting repository %d failed (attempt %d)", repository.id, failures)
        retry = failures < MAX_FAILURES
        async with ctx.catalog.transaction() as tx:
            await repository_rows.mark_deletion_failed(
                tx,
                repository.id,
                failures=failures,
                retry_at=ctx.clock.now() + backoff(failures) if retry else None,
            )
        if retry:
            raise RetryLater(backoff(failures), f"{type(exc).__name__}: {exc}") from exc
        raise JobFailed(f"gave up after {failures} attempts: {exc}") from exc
    why = None if tags else "the repository had no tags; only its record went"
    return Outcome(
        RepositoryDeletionCounts(deleted=tags),
        RepositoryDeletionResult(deleted_tags_count=tags, nothing_deleted_because=why),
    )


def _skipped(why: str) -> Outcome:
    return Outcome(RepositoryDeletionCounts(deleted=0), RepositoryDeletionResult(skipped=why))
