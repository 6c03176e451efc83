"""Running cleanup policies: every sweep of either runner starts the runs that are due.

A run of a project's policy is one ``cleanup_tags`` job per repository of the project, with the
policy's rules (``name_regex`` as the delete pattern, ``latest`` always kept) and no requester:
the policy acts as the system, as GitLab's ``ContainerExpirationPolicies::CleanupService`` does.
Those jobs and the policy's new ``next_run_at`` (now + cadence, counted from the sweep that
found the run due — a clock that jumped several cadences gives one run, not a catch-up) are
written in one write transaction that re-reads which policies are due and claims them (row
locks on PostgreSQL, skipping those another sweep holds). So several runners sweeping at once
start a run once, and a crash either loses the whole start (the next sweep
finds the policy still due) or none of it. A run interrupted later resumes job by job: each
repository's cleanup saved its plan and how far it got, and is claimed again after a restart
or once its lease expires (``jobs/tag_cleanup.py``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from jobs.cleanup import Anchoring
from registry_service.catalog import jobs as job_rows
from registry_service.catalog import policies as policy_rows
from registry_service.catalog.policies import CleanupPolicyRow
from registry_service.catalog.protocols import CatalogBackend
from registry_service.services.job_data import CleanupParams
from registry_service.services.jobs import JobQueue
from registry_service.services.policies import next_run_after

log = logging.getLogger("registry_service.jobs")


def policy_job_params(
    policy: CleanupPolicyRow, anchoring: Anchoring, now: datetime
) -> CleanupParams:
    """The ``cleanup_tags`` parameters of one repository's share of a run."""
    return CleanupParams(
        name_regex_delete=policy.name_regex,
        name_regex_keep=policy.name_regex_keep,
        keep_n=policy.keep_n,
        older_than=policy.older_than,
        anchoring=anchoring,
        # Marks the job as the policy's (no requester to re-check) and names its run.
        policy_run_at=now,
    )


async def schedule_due_policies(
    catalog: CatalogBackend,
    queue: JobQueue,
    now: datetime,
    *,
    anchoring: Anchoring = Anchoring.GITLAB,
) -> list[int]:
    """Start every enabled policy whose ``next_run_at`` has come; the ids of the jobs made."""
    if not await policy_rows.select_due_policies(catalog.reader, now):
        return []
    job_ids: list[int] = []
    async with catalog.transaction() as tx:
        # Read again, claiming them: another runner may have started them meanwhile.
        for policy in await policy_rows.claim_due_policies(tx, now):
            params = policy_job_params(policy, anchoring, now)
            for repository_id in await policy_rows.select_repository_ids_for_run(
                tx, policy.project_id
            ):
                job_ids.append(
                    await job_rows.insert_job(
                        tx,
                        kind=params.kind,
                        params=params.encode(),
                        requester_id=None,
                        project_id=policy.project_id,
                        repository_id=repository_id,
                        now=now,
                    )
                )
            await policy_rows.update_next_run_at(
                tx, policy.project_id, next_run_after(policy.cadence, now)
            )
            log.info("cleanup policy of project %d: run started", policy.project_id)
    for job_id in job_ids:
        try:
            await queue.enqueue(job_id)
        except Exception:
            # Committed: the runners' sweep finds the job once the queue is back.
            log.exception("job %d recorded but not enqueued; the next sweep will run it", job_id)
    return job_ids
