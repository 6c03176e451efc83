"""Request parameters of the container registry endpoints (gitlab-api.md §1, §3, §5), as
marshmallow ``*Params`` schemas. Failures are Grape's 400 ``{"error": "<name> is invalid"}``.

The bulk delete's patterns are checked with RE2 here, at request time, as GitLab's
``untrusted_regexp`` validator does; ``older_than`` is checked too (Decision 2), where GitLab
would accept anything and let the job fail.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validates_schema

from jobs.cleanup import Anchoring, RegexInvalid, compile_tag_regex
from jobs.durations import DurationInvalid, parse_duration
from registry_service.api.params import one_of
from registry_service.errors import ParamsInvalid
from registry_service.http.fields import (
    INVALID,
    GitLabBool,
    GitLabInt,
    GitLabParams,
    GitLabStr,
    format_errors,
)
from registry_service.http.pagination import PaginationParams
from registry_service.services.jobs import JobState

AT_LEAST_ONE_REGEX = (
    "name_regex, name_regex_delete are missing, at least one parameter must be provided"
)


class RepositoryIdParams(GitLabParams):
    """``:repository_id`` is an Integer in GitLab's route: anything else is 400."""

    repository_id = GitLabInt(required=True)


class ProjectRepositoriesParams(PaginationParams):
    tags = GitLabBool(load_default=False)
    tags_count = GitLabBool(load_default=False)


class GroupRepositoriesParams(PaginationParams):
    """Only ``page`` and ``per_page``: ``tags`` and ``tags_count`` are ignored here."""


class RepositoryParams(GitLabParams):
    id = GitLabInt(required=True)
    tags = GitLabBool(load_default=False)
    tags_count = GitLabBool(load_default=False)
    size = GitLabBool(load_default=False)


class TagListParams(PaginationParams, RepositoryIdParams):
    pagination = GitLabStr(load_default="offset", validate=one_of(("offset", "keyset")))
    sort = GitLabStr(load_default="asc", validate=one_of(("asc", "desc")))
    last = GitLabStr(load_default=None, allow_none=True)


def _check_regex(value: str) -> None:
    try:
        compile_tag_regex(value, Anchoring.GITLAB)
    except RegexInvalid as exc:
        raise ValidationError(f"is an invalid regexp: {exc.reason}") from None


def _check_older_than(value: str) -> None:
    try:
        parse_duration(value)
    except DurationInvalid:
        raise ValidationError(INVALID) from None


class BulkDeleteTagsParams(RepositoryIdParams):
    name_regex_delete = GitLabStr(load_default=None, allow_none=True, validate=_check_regex)
    name_regex = GitLabStr(load_default=None, allow_none=True, validate=_check_regex)
    name_regex_keep = GitLabStr(load_default=None, allow_none=True, validate=_check_regex)
    keep_n = GitLabInt(load_default=None, allow_none=True)
    older_than = GitLabStr(load_default=None, allow_none=True, validate=_check_older_than)
    # Ours, not GitLab's (issue 6): answer 200 with the plan instead of starting a job.
    dry_run = GitLabBool(load_default=False)

    # Grape reports errors in the order its validators are declared; GitLab declares
    # ``at_least_one_of`` right after ``name_regex_delete``.
    ERROR_ORDER = (
        "repository_id",
        "name_regex_delete",
        "_schema",
        "name_regex",
        "name_regex_keep",
        "keep_n",
        "older_than",
        "dry_run",
    )

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def a_delete_regex(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        # Presence is judged on what was sent: an invalid pattern is reported as invalid, not
        # also as missing.
        sent = original if isinstance(original, dict) else {}
        if sent.get("name_regex_delete") is None and sent.get("name_regex") is None:
            raise ValidationError(AT_LEAST_ONE_REGEX)
        keep_n = data.get("keep_n")
        if keep_n is not None and keep_n < 0:
            # GitLab would fail in the job (Ruby's first(-1)); refuse it up front.
            raise ValidationError(INVALID, "keep_n")

    def handle_error(self, error: ValidationError, data: Any, **kwargs: Any) -> None:
        messages = error.messages if isinstance(error.messages, dict) else {}
        rank = {name: i for i, name in enumerate(self.ERROR_ORDER)}
        ordered = dict(sorted(messages.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        raise ParamsInvalid(format_errors(ordered))


class JobIdParams(GitLabParams):
    job_id = GitLabInt(required=True)


class ProjectJobsParams(PaginationParams):
    """Optional filters; an unknown ``kind`` simply matches no job."""

    kind = GitLabStr(load_default=None, allow_none=True)
    state = GitLabStr(load_default=None, allow_none=True, validate=one_of(tuple(JobState)))
