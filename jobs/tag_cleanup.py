"""The bulk tag cleanup job (GitLab's ``CleanupContainerRepositoryWorker``, spec §3 steps 1-8).

First run: re-check the requester, list the repository's tags, ask the pure planner which go,
and save that plan — each tag with the manifest it pointed at — in the job row. Then delete in
batches, saving after each batch how far it got. A run after a crash finds the plan and goes on
from there, so it deletes exactly what one uninterrupted run would have: ``keep_n`` was counted
against the tags as they were when the job started. A tag that was re-pushed to another manifest
since the plan is left alone. One cleanup per repository at a time, across all runners.
Tags a protection rule matches are never deleted: set aside by the plan, and checked again
against the rules before each batch. A cleanup policy's run (``jobs/policies.py``) is this
job with no requester and ``policy`` set in its parameters: nobody's rights to re-check, and
it stamps the repository's
``cleanup_policy_started_at`` when it makes its plan.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import filterfalse
from operator import itemgetter

from jobs.cleanup import KeepReason
from jobs.context import JobContext
from jobs.execute import JobFailed, Outcome, Progress, RetryLater
from registry_service.catalog import leases as lease_rows
from registry_service.catalog import policies as policy_rows
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.rows import JobRow, Repository
from registry_service.catalog.tags import TagDatesDocument, parse_tag_dates
from registry_service.services import protection_rules
from registry_service.services.cleanup_plans import plan_tags
from registry_service.services.job_codec import JobDataInvalid
from registry_service.services.job_data import CleanupCounts, CleanupParams, CleanupResult
from registry_service.services.permissions import Ability
from registry_service.services.projects import user_can
from registry_service.services.protection import TagProtection

BATCH = 10_000
LOCK_LEASE = timedelta(minutes=10)
BUSY_RETRY = timedelta(seconds=2)


def lock_name(repository_id: int) -> str:
    return f"cleanup:repository:{repository_id}"


async def cleanup_tags(ctx: JobContext, job: JobRow, progress: Progress) -> Outcome:
    try:
        # The codec the API recorded them with, and the preview planned with.
        params = CleanupParams.decode(job.params)
    except JobDataInvalid as exc:
        raise JobFailed(f"invalid parameters: {exc}") from exc
    repository = (
        await repository_rows.select_repository_by_id(ctx.catalog.reader, job.repository_id)
        if job.repository_id is not None
        else None
    )
    if repository is None:
        return _skipped("the repository no longer exists")
    if not await _requester_may_delete(ctx, job, params, repository):
        return _skipped("the requester may no longer delete images here")
    lock = lock_name(repository.id)
    # Held in the job's name, not the runner's: a runner that restarts after a crash claims the
    # job again (the job's own lease makes that exclusive) and must get its lock back at once.
    holder = f"job:{job.id}"
    now = ctx.clock.now()
    async with ctx.catalog.transaction() as tx:
        locked = await lease_rows.acquire_lease(tx, lock, holder, now + LOCK_LEASE, now)
    if not locked:
        raise RetryLater(BUSY_RETRY, "another cleanup of this repository is running")
    try:
        return await _run(ctx, job, params, repository, progress, holder)
    finally:
        async with ctx.catalog.transaction() as tx:
            await lease_rows.release_lease(tx, lock, holder)


def _skipped(why: str) -> Outcome:
    return Outcome(CleanupCounts(deleted=0), CleanupResult(skipped=why))


def is_policy_job(job: JobRow, params: CleanupParams) -> bool:
    """A cleanup policy's run (``jobs/policies.py``): the system acts, no requester."""
    return job.requester_id is None and params.is_policy


async def _requester_may_delete(
    ctx: JobContext, job: JobRow, params: CleanupParams, repository: Repository
) -> bool:
    if is_policy_job(job, params):
        return True
    return job.requester_id is not None and await user_can(
        ctx.catalog, job.requester_id, repository.project_id, Ability.DESTROY_CONTAINER_IMAGE
    )


async def _run(
    ctx: JobContext,
    job: JobRow,
    params: CleanupParams,
    repository: Repository,
    progress: Progress,
    holder: str,
) -> Outcome:
    try:
        # A saved plan is up to 100,000 pairs to check: on a thread, not on the event loop.
        saved, counts = await asyncio.to_thread(_saved_progress, job)
    except JobDataInvalid as exc:
        raise JobFailed(f"invalid saved progress: {exc}") from exc
    if saved is None or saved.plan is None:
        saved, counts = await _make_plan(ctx, job, params, repository, progress)
    plan = saved.plan or ()
    done = counts.processed or 0
    deleted = counts.deleted or 0
    left_alone = list(saved.left_alone_tags or ())
    while done < len(plan):
        batch = plan[done : done + BATCH]
        # A rule made after the plan holds too: the rules are read again for each batch (two
        # indexed reads), and a tag one of them matches now is left alone.
        protection = await protection_rules.load_tag_protection(
            ctx.catalog.reader, repository.project_id
        )
        guarded = {name for name, _ in batch if protection.protects(name)} if protection else set()
        deletable = [pair for pair in batch if pair[0] not in guarded] if guarded else batch
        async with ctx.catalog.transaction() as tx:
            now = ctx.clock.now()
            # A long run keeps its repository lock (it expires only if this runner dies).
            await lease_rows.acquire_lease(
                tx, lock_name(repository.id), holder, now + LOCK_LEASE, now
            )
            went = await tag_rows.delete_tags_if_unchanged(tx, repository.id, deletable, now)
            deleted += went
            done += len(batch)
            protected = counts.protected
            if guarded:
                # A plan saved before protection rules existed has no count to add to.
                protected = (protected or 0) + len(guarded)
            counts = replace(counts, processed=done, deleted=deleted, protected=protected)
            if went < len(batch):
                # Rare: tags re-pushed or protected since the plan. Saved with the plan, so a
                # resumed run still reports them; a normal batch does not rewrite the plan.
                still = await tag_rows.select_existing_names(
                    tx, repository.id, [name for name, _ in batch]
                )
                left_alone.extend(name for name, _ in batch if name in still)
                saved = replace(saved, left_alone_tags=tuple(left_alone))
                await progress.save(tx, counts, saved)
            else:
                await progress.save(tx, counts)
    skipped = set(left_alone)
    # Protected since the plan: what the counts gained over the plan's own protected tags.
    late = (counts.protected or 0) - (saved.kept or {}).get(str(KeepReason.PROTECTED), 0)
    moved = done - deleted - late
    why: str | None = None
    if not plan:
        why = _why_nothing(saved.kept or {})
    elif not deleted and not late:
        why = f"all {moved} planned tag(s) were re-pushed after the plan was made"
    elif not deleted:
        why = "every planned tag was left alone: " + _left_alone(moved, late)
    # The finished row drops the plan (CleanupResult.dropped_when_finished) and keeps the
    # names instead.
    result = CleanupResult(
        deleted_tags=tuple(filterfalse(skipped.__contains__, map(itemgetter(0), plan))),
        left_alone=_left_alone(moved, late) if moved or late else None,
        nothing_deleted_because=why,
    )
    return Outcome(counts, result)


def _left_alone(moved: int, protected: int) -> str:
    parts = [f"{moved} tag(s) were re-pushed after the plan was made"] if moved else []
    if protected:
        parts.append(f"{protected} tag(s) were protected by a rule made after the plan")
    return "; ".join(parts)


def _saved_progress(job: JobRow) -> tuple[CleanupResult | None, CleanupCounts]:
    """What an earlier run of this job saved: its plan, if it made one, and how far it got."""
    saved = CleanupResult.decode(job.result) if job.result is not None else None
    return saved, CleanupCounts.decode(job.counts)


async def _make_plan(
    ctx: JobContext,
    job: JobRow,
    params: CleanupParams,
    repository: Repository,
    progress: Progress,
) -> tuple[CleanupResult, CleanupCounts]:
    # The project's rules as they are when the plan is made: the plan is what a resumed run
    # goes on with, so a rule added later does not reach a plan already saved.
    protection = await protection_rules.load_tag_protection(
        ctx.catalog.reader, repository.project_id
    )
    # Many rows: read on the scan connection, off the event loop.
    tags = await tag_rows.select_tag_dates(ctx.catalog.scan_reader, repository.id)
    now = ctx.clock.now()
    # Most of a second of CPU for a large repository: on a thread, so `serve` keeps serving.
    saved, counts = await asyncio.to_thread(_plan_document, params, tags, now, protection)
    async with ctx.catalog.transaction() as tx:
        await progress.save(tx, counts, saved)
        if is_policy_job(job, params):
            # GitLab's expiration_policy_started_at: when this repository's run began.
            await policy_rows.update_cleanup_policy_started_at(tx, repository.id, now)
    return saved, counts


def _plan_document(
    params: CleanupParams, document: TagDatesDocument, now: datetime, protection: TagProtection
) -> tuple[CleanupResult, CleanupCounts]:
    """The plan as the job saves it (each tag with the manifest it was planned against), and
    the counts that go with it."""
    tags = parse_tag_dates(document)
    # The same function the API's preview (dry_run) plans with: the two cannot drift.
    plan = plan_tags(params, tags, now, protection)
    manifest_of = {t.name: t.manifest_id for t in tags}
    saved = CleanupResult(
        plan=tuple(zip(plan.delete, map(manifest_of.__getitem__, plan.delete), strict=True)),
        kept=dict(Counter(str(reason) for reason in plan.keep.values())),
        planned_at=now,
    )
    protected = sum(1 for reason in plan.keep.values() if reason is KeepReason.PROTECTED)
    counts = CleanupCounts(
        tags=len(tags), planned=len(plan.delete), kept=len(plan.keep), processed=0, deleted=0,
        protected=protected,
    )
    return saved, counts


def _why_nothing(kept: dict[str, int]) -> str:
    if not kept:
        return "the repository has no tags"
    reasons = ", ".join(f"{count} by {reason}" for reason, count in sorted(kept.items()))
    return f"every tag was kept: {reasons}"
