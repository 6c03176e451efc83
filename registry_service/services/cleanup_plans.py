"""A bulk delete's plan, and the preview of one (issue 6).

``plan_tags`` is the one path from a bulk delete's parameters (``job_data.CleanupParams``, as
the job decodes them from its row) and a repository's tag rows to a ``CleanupPlan``: the
cleanup job makes its plan with it, and so does ``preview_cleanup`` — so a preview cannot drift
from what the job then deletes. The preview also warns about parameters that probably do not
mean what the caller thinks (an alternation anchored GitLab's way, a regex that matches
nothing, ``name_regex`` ignored beside ``name_regex_delete``, a ``keep_n`` that keeps every
candidate). It takes no lease, records no job and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from jobs.cleanup import (
    Anchoring,
    CleanupPlan,
    KeepReason,
    compile_tag_regex,
    plan_cleanup,
)
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Repository
from registry_service.catalog.tags import TagDates, TagDatesDocument, parse_tag_dates
from registry_service.services import projects, protection_rules
from registry_service.services.job_data import CleanupParams
from registry_service.services.permissions import Ability, Actor
from registry_service.services.projects import ProjectAccess
from registry_service.services.protection import NO_TAG_RULES, TagProtection, protected_tags
from registry_service.services.repositories import image_path

# A warning names at most this many tags; ``tags_total`` says how many there were.
WARNING_TAGS_SHOWN = 20
# Reasons for which a tag was a candidate (past the name filters) before it was kept.
CANDIDATE_REASONS = frozenset({KeepReason.KEEP_N, KeepReason.NEWER, KeepReason.UNDATED})


def plan_tags(
    params: CleanupParams,
    tags: Sequence[TagDates],
    now: datetime,
    protection: TagProtection = NO_TAG_RULES,
) -> CleanupPlan:
    """The plan for these tags: a tag's date is its image's build date (Decision 4), its push
    time only breaks ties (Decision 3); a tag a protection rule matches is never deleted."""
    protected = protected_tags(protection, [t.name for t in tags])
    return plan_cleanup(tags, params.rules(), now, protected)


@dataclass(frozen=True)
class PreviewWarning:
    code: str
    message: str
    parameter: str | None = None
    tags: tuple[str, ...] = ()
    tags_total: int = 0


@dataclass(frozen=True)
class CleanupPreview:
    """What a bulk delete with these parameters would do, were it run now."""

    params: CleanupParams
    tags_total: int
    # Tags past the name filters (latest, keep regex, delete regex): what keep_n ranks.
    candidates: int
    would_delete: tuple[str, ...]  # by name
    kept: tuple[tuple[str, KeepReason], ...]  # by name
    kept_by_reason: Mapping[str, int]
    warnings: tuple[PreviewWarning, ...]
    planned_at: datetime


async def preview_cleanup(
    catalog: CatalogBackend,
    actor: Actor,
    access: ProjectAccess,
    repository: Repository,
    params: CleanupParams,
    now: datetime,
) -> CleanupPreview:
    """The plan the cleanup job would make from ``params``, for the caller who may start it
    (Maintainer+), with warnings; no lease, no job, no change."""
    projects.require(access, actor, Ability.ADMIN_CONTAINER_IMAGE)
    # Refused as the bulk delete itself would be; the tag rules are what the plan keeps.
    guard = await protection_rules.guard_for(
        catalog, actor, access.project.id, image_path(access.project, repository)
    )
    guard.require_repository("delete")
    protection = guard.tags
    # Many rows, as in the job: read on the scan connection, off the event loop.
    document = await tag_rows.select_tag_dates(catalog.scan_reader, repository.id)
    # Most of a second of CPU for a large repository: on a thread, so other requests are served.
    return await asyncio.to_thread(_preview, params, document, now, protection)


def _preview(
    params: CleanupParams, document: TagDatesDocument, now: datetime, protection: TagProtection
) -> CleanupPreview:
    tags = parse_tag_dates(document)
    plan = plan_tags(params, tags, now, protection)
    kept = tuple(sorted(plan.keep.items()))
    candidates = len(plan.delete) + sum(1 for r in plan.keep.values() if r in CANDIDATE_REASONS)
    names = sorted(t.name for t in tags)
    return CleanupPreview(
        params=params,
        tags_total=len(tags),
        candidates=candidates,
        would_delete=tuple(sorted(plan.delete)),
        kept=kept,
        kept_by_reason=dict(sorted(Counter(str(r) for _, r in kept).items())),
        warnings=(
            *_anchoring_warnings(params, names),
            *_matches_nothing_warnings(params, names),
            *_alias_warnings(params),
            *_keep_n_warnings(params, candidates),
        ),
        planned_at=now,
    )


def _shown(names: Sequence[str]) -> tuple[tuple[str, ...], int]:
    ordered = sorted(names)
    return tuple(ordered[:WARNING_TAGS_SHOWN]), len(ordered)


def _anchoring_warnings(params: CleanupParams, names: Sequence[str]) -> list[PreviewWarning]:
    # Decision 1: GitLab anchors "a|b" as "\Aa|b\z" (start of the first branch, end of the
    # last only); where that and whole-name anchoring disagree on a tag, the caller should know
    # which one this server applies.
    found: list[PreviewWarning] = []
    for parameter, pattern in params.regexes():
        gitlab = compile_tag_regex(pattern, Anchoring.GITLAB)
        full = compile_tag_regex(pattern, Anchoring.FULL)
        differ = [n for n in names if gitlab.matches(n) != full.matches(n)]
        if not differ:
            continue
        shown, total = _shown(differ)
        found.append(
            PreviewWarning(
                code="anchoring_differs",
                parameter=parameter,
                message=(
                    f"{parameter} {pattern!r} matches {total} tag(s) differently under GitLab's"
                    f" anchoring ({gitlab.pattern}) and full anchoring ({full.pattern});"
                    f" this server applies {params.anchoring.value!r} anchoring"
                ),
                tags=shown,
                tags_total=total,
            )
        )
    return found


def _matches_nothing_warnings(
    params: CleanupParams, names: Sequence[str]
) -> list[PreviewWarning]:
    found: list[PreviewWarning] = []
    for parameter, pattern in params.regexes():
        regex = compile_tag_regex(pattern, params.anchoring)
        if not any(regex.matches(n) for n in names):
            what = "deletes nothing" if parameter != "name_regex_keep" else "keeps nothing"
            found.append(
                PreviewWarning(
                    code="regex_matches_nothing",
                    parameter=parameter,
                    message=f"{parameter} {pattern!r} matches none of the repository's "
                    f"{len(names)} tag(s): it {what}",
                )
            )
    return found


def _alias_warnings(params: CleanupParams) -> list[PreviewWarning]:
    if not params.alias_ignored:
        return []
    return [
        PreviewWarning(
            code="name_regex_ignored",
            parameter="name_regex",
            message="name_regex is ignored: name_regex_delete is given and wins",
        )
    ]


def _keep_n_warnings(params: CleanupParams, candidates: int) -> list[PreviewWarning]:
    if params.keep_n is None or params.keep_n <= candidates:
        return []
    return [
        PreviewWarning(
            code="keep_n_exceeds_candidates",
            parameter="keep_n",
            message=f"keep_n is {params.keep_n} but only {candidates} tag(s) pass the name "
            "filters: keep_n keeps them all",
        )
    ]
