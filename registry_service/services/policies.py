"""Cleanup policies: GitLab's ``container_expiration_policy`` of a project — its allowed values,
its defaults, when it runs next, and changing it.

GitLab's rules (``app/models/container_expiration_policy.rb``): ``cadence`` is one of ``1d``,
``7d``, ``14d``, ``1month``, ``3month``; ``keep_n`` one of 1, 5, 10, 25, 50, 100 or null;
``older_than`` one of ``7d``, ``14d``, ``30d``, ``60d``, ``90d`` or null; while enabled,
``name_regex`` must be present and both patterns must be valid RE2. A failed rule is a model
validation error, ``400 {"message": {"container_expiration_policy.<attr>": [...]}}``.
``next_run_at`` is set to now + cadence whenever the policy is saved with a change (GitLab's
``before_save :set_next_run_at``), and again each time a run is scheduled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from jobs.cleanup import Anchoring, RegexInvalid, compile_tag_regex
from registry_service.catalog import policies as policy_rows
from registry_service.catalog.policies import CleanupPolicyRow
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import Project
from registry_service.errors import ValidationFailed

# ChronicDuration's reading of each cadence (a month is 30 days).
CADENCES: dict[str, timedelta] = {
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "14d": timedelta(days=14),
    "1month": timedelta(days=30),
    "3month": timedelta(days=90),
}
KEEP_N_VALUES = (1, 5, 10, 25, 50, 100)
OLDER_THAN_VALUES = ("7d", "14d", "30d", "60d", "90d")
ATTRIBUTES = ("enabled", "cadence", "keep_n", "older_than", "name_regex", "name_regex_keep")

NOT_INCLUDED = "is not included in the list"
BLANK = "can't be blank"


@dataclass(frozen=True)
class CleanupPolicy:
    """A project's policy as the API shows it (GitLab's entity fields)."""

    cadence: str
    enabled: bool
    keep_n: int | None
    older_than: str | None
    name_regex: str | None
    name_regex_keep: str | None
    next_run_at: datetime | None


def default_policy(project: Project) -> CleanupPolicy:
    """What a project has before anyone changes it: GitLab's column defaults, disabled, with
    ``next_run_at`` one cadence after the project was created (when GitLab saves the row)."""
    return CleanupPolicy(
        cadence="1d",
        enabled=False,
        keep_n=10,
        older_than="90d",
        name_regex=".*",
        name_regex_keep=None,
        next_run_at=project.created_at + CADENCES["1d"],
    )


def _from_row(row: CleanupPolicyRow) -> CleanupPolicy:
    return CleanupPolicy(
        cadence=row.cadence,
        enabled=row.enabled,
        keep_n=row.keep_n,
        older_than=row.older_than,
        name_regex=row.name_regex,
        name_regex_keep=row.name_regex_keep,
        next_run_at=row.next_run_at,
    )


async def policy_of(catalog: CatalogBackend, project: Project) -> CleanupPolicy:
    row = await policy_rows.select_policy(catalog.reader, project.id)
    return _from_row(row) if row else default_policy(project)


async def policies_of(catalog: CatalogBackend, projects: list[Project]) -> dict[int, CleanupPolicy]:
    rows = await policy_rows.select_policies(catalog.reader, [p.id for p in projects])
    return {
        p.id: _from_row(rows[p.id]) if p.id in rows else default_policy(p) for p in projects
    }


def next_run_after(cadence: str, now: datetime) -> datetime:
    """When a policy with this cadence runs next, counted from ``now`` (a cadence GitLab would
    not allow counts as a day rather than stopping every later run)."""
    return now + CADENCES.get(cadence, CADENCES["1d"])


def policy_problems(policy: CleanupPolicy) -> dict[str, list[str]]:
    """GitLab's model validation, keyed as a nested-attributes error
    (``container_expiration_policy.cadence``); empty when the policy is valid."""
    problems: dict[str, list[str]] = {}

    def add(attribute: str, message: str) -> None:
        problems.setdefault(f"container_expiration_policy.{attribute}", []).append(message)

    if not isinstance(policy.enabled, bool):
        add("enabled", NOT_INCLUDED)
    if not policy.cadence:
        add("cadence", BLANK)
    if policy.cadence not in CADENCES:
        add("cadence", NOT_INCLUDED)
    if policy.older_than is not None and policy.older_than not in OLDER_THAN_VALUES:
        add("older_than", NOT_INCLUDED)
    if policy.keep_n is not None and policy.keep_n not in KEEP_N_VALUES:
        add("keep_n", NOT_INCLUDED)
    if policy.enabled:
        if not (policy.name_regex or "").strip():
            add("name_regex", BLANK)
        for attribute in ("name_regex", "name_regex_keep"):
            pattern = getattr(policy, attribute)
            if pattern is None:
                continue
            try:
                compile_tag_regex(pattern, Anchoring.GITLAB)
            except RegexInvalid as exc:
                add(attribute, f"not valid RE2 syntax: {exc.reason}")
    return problems


async def update_policy(
    catalog: CatalogBackend, project: Project, changes: Mapping[str, Any], now: datetime
) -> CleanupPolicy:
    """Apply ``changes`` (any of ``ATTRIBUTES``; absent ones keep their value) to the project's
    policy. Nothing changed → nothing saved (GitLab saves a nested record only when dirty);
    otherwise ``next_run_at`` becomes now + cadence. ValidationFailed on a rule broken.
    The caller has checked the actor may administer the project."""
    async with catalog.transaction() as tx:
        row = await policy_rows.select_policy(tx, project.id)
        current = _from_row(row) if row else default_policy(project)
        wanted = replace(current, **{k: v for k, v in changes.items() if k in ATTRIBUTES})
        if wanted == current:
            return current
        if problems := policy_problems(wanted):
            raise ValidationFailed(problems)
        wanted = replace(wanted, next_run_at=next_run_after(wanted.cadence, now))
        await policy_rows.upsert_policy(
            tx,
            CleanupPolicyRow(
                project_id=project.id,
                enabled=wanted.enabled,
                cadence=wanted.cadence,
                keep_n=wanted.keep_n,
                older_than=wanted.older_than,
                name_regex=wanted.name_regex,
                name_regex_keep=wanted.name_regex_keep,
                next_run_at=wanted.next_run_at,
            ),
            now,
        )
    return wanted
