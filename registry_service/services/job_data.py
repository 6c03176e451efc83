"""Job data: the typed ``params``, ``counts`` and ``result`` of every job kind, and
``decode_job`` for a whole row (arq's ``JobDef`` and ``deserialize_job``).

Each kind has three frozen dataclasses — what it was asked to do (``*Params``), how far it got
(``*Counts``) and what it found (``*Result``) — written and read through ``services/job_codec.py``:
every member's type and meaning is checked on decode, and a malformed row is
``JobDataInvalid``. The API, the cleanup preview and the job bodies all use these types, so a
bulk delete's parameters keep one shape from the request to the job. The JSON is the format the
jobs wrote before these types existed (GitLab's parameter names; the saved plan as ``[name,
manifest id]`` pairs), so rows in a catalog upgraded in place still decode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from jobs.cleanup import Anchoring, CleanupRules, KeepReason, compile_tag_regex
from jobs.durations import parse_duration
from registry_service.catalog.rows import JobRow
from registry_service.services.job_codec import (
    JobDataInvalid,
    Json,
    Members,
    StoredCounts,
    StoredParams,
    StoredResult,
    iso_time,
    present,
)
from registry_service.services.jobs import JobKind

KEEP_REASONS = frozenset(str(reason) for reason in KeepReason)


# --- cleanup_tags ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanupParams(StoredParams):
    """A bulk tag delete's parameters (GitLab's names), or a cleanup policy's run.

    Checked when made: an invalid regex or duration, or a negative ``keep_n``, is a
    ``ValueError`` (the API refuses them before, with GitLab's messages).
    """

    kind: ClassVar[JobKind] = JobKind.CLEANUP_TAGS

    name_regex_delete: str | None
    # GitLab's deprecated alias: used only when ``name_regex_delete`` is not given.
    name_regex: str | None = None
    name_regex_keep: str | None = None
    keep_n: int | None = None
    older_than: str | None = None  # as given ("7d"); ``rules`` parses it
    # The server's setting when the job was recorded: the job must anchor as the API did.
    anchoring: Anchoring = Anchoring.GITLAB
    # Set for a cleanup policy's run (no requester to re-check; it names the run).
    policy_run_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.keep_n is not None and self.keep_n < 0:
            raise ValueError(f"keep_n must not be negative: {self.keep_n}")
        if self.older_than is not None:
            parse_duration(self.older_than)
        for _, pattern in self.regexes():
            compile_tag_regex(pattern, self.anchoring)

    @property
    def is_policy(self) -> bool:
        return self.policy_run_at is not None

    @property
    def delete_regex(self) -> str | None:
        return self.name_regex_delete if self.name_regex_delete is not None else self.name_regex

    @property
    def alias_ignored(self) -> bool:
        """Both spellings were given: ``name_regex`` is ignored."""
        return self.name_regex_delete is not None and self.name_regex is not None

    def regexes(self) -> list[tuple[str, str]]:
        """(parameter, pattern) of the patterns the plan uses."""
        used: list[tuple[str, str]] = []
        if self.name_regex_delete is not None:
            used.append(("name_regex_delete", self.name_regex_delete))
        elif self.name_regex is not None:
            used.append(("name_regex", self.name_regex))
        if self.name_regex_keep is not None:
            used.append(("name_regex_keep", self.name_regex_keep))
        return used

    def rules(self) -> CleanupRules:
        """The planner's rules."""
        return CleanupRules(
            name_regex_delete=self.delete_regex,
            name_regex_keep=self.name_regex_keep,
            keep_n=self.keep_n,
            older_than=parse_duration(self.older_than) if self.older_than else None,
            anchoring=self.anchoring,
        )

    def to_json(self) -> Json:
        stored: Json = {
            "name_regex_delete": self.name_regex_delete,
            "name_regex": self.name_regex,
            "name_regex_keep": self.name_regex_keep,
            "keep_n": self.keep_n,
            "older_than": self.older_than,
            "anchoring": str(self.anchoring),
        }
        if self.policy_run_at is not None:
            stored.update(policy=True, policy_run_at=iso_time(self.policy_run_at))
        return stored

    @classmethod
    def from_members(cls, members: Members) -> Self:
        anchoring = members.text("anchoring") or Anchoring.GITLAB
        if anchoring not in {a.value for a in Anchoring}:
            expected = " or ".join(repr(a.value) for a in Anchoring)
            raise JobDataInvalid(f"params.anchoring: expected {expected}, got {anchoring!r}")
        policy = members.flag("policy")
        policy_run_at = members.time("policy_run_at")
        if policy != (policy_run_at is not None):
            raise JobDataInvalid("params: policy and policy_run_at go together")
        return cls(
            name_regex_delete=members.text("name_regex_delete"),
            name_regex=members.text("name_regex"),
            name_regex_keep=members.text("name_regex_keep"),
            keep_n=members.count("keep_n"),
            older_than=members.text("older_than"),
            anchoring=Anchoring(anchoring),
            policy_run_at=policy_run_at,
        )


@dataclass(frozen=True)
class CleanupCounts(StoredCounts):
    tags: int | None = None  # in the repository when the plan was made
    planned: int | None = None
    kept: int | None = None
    processed: int | None = None  # planned tags gone through, deleted or left alone
    deleted: int | None = None
    protected: int | None = None  # of the kept: those a protection rule matched

    def to_json(self) -> Json:
        return present(
            tags=self.tags, planned=self.planned, kept=self.kept,
            processed=self.processed, deleted=self.deleted, protected=self.protected,
        )

    @classmethod
    def from_members(cls, members: Members) -> Self:
        return cls(
            tags=members.count("tags"),
            planned=members.count("planned"),
            kept=members.count("kept"),
            processed=members.count("processed"),
            deleted=members.count("deleted"),
            protected=members.count("protected"),
        )


# A tag the plan deletes and the manifest it pointed at, stored as a [name, id] pair. A plain
# tuple, not a NamedTuple: the JSON encoder copies a tuple subclass into a list first (twice
# the time for a 100,000-tag plan), and ``zip`` builds plain ones in C on the planning thread.
PlannedTag = tuple[str, int]


@dataclass(frozen=True)
class CleanupResult(StoredResult):
    # While the job runs: its plan, least wanted first; a finished job's row drops it.
    plan: tuple[PlannedTag, ...] | None = None
    kept: dict[str, int] | None = None  # KeepReason value → how many tags it kept
    planned_at: datetime | None = None
    left_alone_tags: tuple[str, ...] | None = None  # re-pushed since the plan
    # Once finished:
    deleted_tags: tuple[str, ...] | None = None
    left_alone: str | None = None
    nothing_deleted_because: str | None = None
    skipped: str | None = None  # why the job did not run at all

    dropped_when_finished: ClassVar[tuple[str, ...]] = ("plan",)

    @property
    def reason(self) -> str | None:
        return self.nothing_deleted_because or self.skipped

    def to_json(self) -> Json:
        return present(
            plan=self.plan,
            kept=self.kept,
            planned_at=iso_time(self.planned_at),
            left_alone_tags=self.left_alone_tags,
            deleted_tags=self.deleted_tags,
            left_alone=self.left_alone,
            nothing_deleted_because=self.nothing_deleted_because,
            skipped=self.skipped,
        )

    @classmethod
    def from_members(cls, members: Members) -> Self:
        return cls(
            plan=members.pairs("plan"),
            kept=members.tally("kept", KEEP_REASONS),
            planned_at=members.time("planned_at"),
            left_alone_tags=members.names("left_alone_tags"),
            deleted_tags=members.names("deleted_tags"),
            left_alone=members.text("left_alone"),
            nothing_deleted_because=members.text("nothing_deleted_because"),
            skipped=members.text("skipped"),
        )


# --- delete_repository ----------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryDeletionParams(StoredParams):
    """Nothing to say: the job row names the repository."""

    kind: ClassVar[JobKind] = JobKind.DELETE_REPOSITORY

    def to_json(self) -> Json:
        return {}

    @classmethod
    def from_members(cls, members: Members) -> Self:
        return cls()


@dataclass(frozen=True)
class RepositoryDeletionCounts(StoredCounts):
    deleted: int | None = None  # tags

    def to_json(self) -> Json:
        return present(deleted=self.deleted)

    @classmethod
    def from_members(cls, members: Members) -> Self:
        return cls(deleted=members.count("deleted"))


@dataclass(frozen=True)
class RepositoryDeletionResult(StoredResult):
    deleted_tags_count: int | None = None
    nothing_deleted_because: str | None = None
    skipped: str | None = None

    @property
    def reason(self) -> str | None:
        return self.nothing_deleted_because or self.skipped

    def to_json(self) -> Json:
        return present(
            deleted_tags_count=self.deleted_tags_count,
            nothing_deleted_because=self.nothing_deleted_because,
            skipped=self.skipped,
        )

    @classmethod
    def from_members(cls, members: Members) -> Self:
        return cls(
            deleted_tags_count=members.count("deleted_tags_count"),
            nothing_deleted_because=members.text("nothing_deleted_because"),
            skipped=members.text("skipped"),
        )


# --- collect_garbage ------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionParams(StoredParams):
    """Nothing to say: a collection covers the whole registry."""

    kind: ClassVar[JobKind] = JobKind.COLLECT_GARBAGE

    def to_json(self) -> Json:
        return {}

    @classmethod
    def from_members(cls, members: Members) -> Self:
        return cls()


@dataclass(frozen=True)
class CollectionCounts(StoredCounts):
    manifests: int | None = None
    blobs: int | None = None
    blob_bytes: int | None = None
    orphan_files: int | None = None
    orphan_bytes: int | None = None
    bytes_freed: int | None = None

    def to_json(self) -> Json:
        return present(
            manifests=self.manifests, blobs=self.blobs, blob_bytes=self.blob_bytes,
            orphan_files=self.orphan_files, orphan_bytes=self.orphan_bytes,
            bytes_freed=self.bytes_freed,
        )

    @classmethod
    def from_members(cls, members: Members) -> Self:
        return cls(
            manifests=members.count("manifests"),
            blobs=members.count("blobs"),
            blob_bytes=members.count("blob_bytes"),
            orphan_files=members.count("orphan_files"),
            orphan_bytes=members.count("orphan_bytes"),
            bytes_freed=members.count("bytes_freed"),
        )


@dataclass(frozen=True)
class CollectionResult(StoredResult):
    nothing_deleted_because: str | None = None

    @property
    def reason(self) -> str | None:
        return self.nothing_deleted_because

    def to_json(self) -> Json:
        return present(nothing_deleted_because=self.nothing_deleted_because)

    @classmethod
    def from_members(cls, members: Members) -> Self:
        return cls(nothing_deleted_because=members.text("nothing_deleted_because"))


# --- any kind -------------------------------------------------------------------------------

JobParams = CleanupParams | RepositoryDeletionParams | CollectionParams
JobCounts = CleanupCounts | RepositoryDeletionCounts | CollectionCounts
JobResult = CleanupResult | RepositoryDeletionResult | CollectionResult


@dataclass(frozen=True)
class _KindCodec:
    params: type[JobParams]
    counts: type[JobCounts]
    result: type[JobResult]


CODECS: Mapping[str, _KindCodec] = {
    JobKind.CLEANUP_TAGS: _KindCodec(CleanupParams, CleanupCounts, CleanupResult),
    JobKind.DELETE_REPOSITORY: _KindCodec(
        RepositoryDeletionParams, RepositoryDeletionCounts, RepositoryDeletionResult
    ),
    JobKind.COLLECT_GARBAGE: _KindCodec(CollectionParams, CollectionCounts, CollectionResult),
}


@dataclass(frozen=True)
class JobData:
    """A job row's JSON, decoded (arq's ``JobDef``)."""

    params: JobParams
    counts: JobCounts
    result: JobResult | None


def decode_job(job: JobRow) -> JobData:
    """Decode a row's params, counts and result (arq's ``deserialize_job``); JobDataInvalid
    naming the job for a malformed row or an unknown kind. CPU work for a large saved plan:
    best called off the event loop."""
    codec = CODECS.get(job.kind)
    try:
        if codec is None:
            raise JobDataInvalid(f"unknown job kind {job.kind!r}")
        return JobData(
            params=codec.params.decode(job.params),
            counts=codec.counts.decode(job.counts),
            result=codec.result.decode(job.result) if job.result is not None else None,
        )
    except JobDataInvalid as exc:
        raise JobDataInvalid(f"job {job.id} ({job.kind}): {exc}") from exc
