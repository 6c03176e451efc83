"""The job data codec (``services/job_data.py``): every kind's params, counts and result survive
encode → decode unchanged; anything else a row might hold is ``JobDataInvalid``, never a
``KeyError`` or a silently ignored member; and rows as the jobs wrote them before the codec
existed (captured from that code) decode to what they meant."""

from __future__ import annotations

import json
import string
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.cleanup import Anchoring, CleanupRules
from registry_service.catalog.rows import JobRow
from registry_service.services.job_codec import JobDataInvalid
from registry_service.services.job_data import (
    CODECS,
    KEEP_REASONS,
    CleanupCounts,
    CleanupParams,
    CleanupResult,
    CollectionCounts,
    CollectionParams,
    CollectionResult,
    JobData,
    RepositoryDeletionCounts,
    RepositoryDeletionParams,
    RepositoryDeletionResult,
    decode_job,
)

T0 = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)

times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
counts = st.none() | st.integers(min_value=0, max_value=2**53)
texts = st.none() | st.text(max_size=30)
names = st.lists(st.text(max_size=12), max_size=8).map(tuple)
patterns = st.sampled_from([".*", "build-.*", "v\\d+", "a|b", "release-[0-9]+", ""]) | st.text(
    alphabet=string.ascii_letters + string.digits + "-_", max_size=10
)
durations = st.sampled_from(["1h", "7d", "14d", "90d", "2h30m", "1 month", "1.5h", "30", "1y"])

cleanup_params = st.builds(
    CleanupParams,
    name_regex_delete=st.none() | patterns,
    name_regex=st.none() | patterns,
    name_regex_keep=st.none() | patterns,
    keep_n=counts,
    older_than=st.none() | durations,
    anchoring=st.sampled_from(Anchoring),
    policy_run_at=st.none() | times,
)
cleanup_result = st.builds(
    CleanupResult,
    plan=st.none()
    | st.lists(st.tuples(st.text(max_size=12), st.integers(0, 2**62))).map(tuple),
    kept=st.none() | st.dictionaries(st.sampled_from(sorted(KEEP_REASONS)), st.integers(0, 10**6)),
    planned_at=st.none() | times,
    left_alone_tags=st.none() | names,
    deleted_tags=st.none() | names,
    left_alone=texts,
    nothing_deleted_because=texts,
    skipped=texts,
)


def all_counts(cls: type[Any]) -> st.SearchStrategy[Any]:
    return st.builds(cls, **{f.name: counts for f in fields(cls)})


EVERY_TYPE = st.one_of(
    cleanup_params,
    all_counts(CleanupCounts),
    cleanup_result,
    st.just(RepositoryDeletionParams()),
    all_counts(RepositoryDeletionCounts),
    st.builds(RepositoryDeletionResult, deleted_tags_count=counts,
              nothing_deleted_because=texts, skipped=texts),
    st.just(CollectionParams()),
    all_counts(CollectionCounts),
    st.builds(CollectionResult, nothing_deleted_because=texts),
)


@given(EVERY_TYPE)
def test_encode_then_decode_is_the_identity_for_every_kind(value: Any) -> None:
    assert type(value).decode(value.encode()) == value


@given(cleanup_params)
def test_cleanup_params_decode_to_the_rules_they_were_made_with(params: CleanupParams) -> None:
    assert CleanupParams.decode(params.encode()).rules() == params.rules()


# --- what is not a job's data ----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                  max_size=3),
    max_leaves=8,
)
KINDS = [(kind, column) for kind in CODECS for column in ("params", "counts", "result")]


def member_names(kind: str) -> list[str]:
    codec = CODECS[kind]
    return sorted(
        {f.name for cls in (codec.params, codec.counts, codec.result) for f in fields(cls)}
        | {"policy", "policy_run_at", "name_regex_delete"}
    )


def stored_type(kind: str, column: str) -> Any:
    return getattr(CODECS[kind], column)


@pytest.mark.parametrize(("kind", "column"), KINDS)
@given(data=st.data())
def test_decoding_any_json_gives_a_value_or_job_data_invalid(
    kind: str, column: str, data: st.DataObject
) -> None:
    """Objects whose members have the right names and any values, and any other JSON: never
    an exception other than JobDataInvalid, and whatever decodes is stable."""
    value = data.draw(
        st.dictionaries(st.sampled_from(member_names(kind)), json_values, max_size=5)
        | json_values
    )
    cls = stored_type(kind, column)
    try:
        decoded = cls.decode(json.dumps(value))
    except JobDataInvalid:
        return
    assert cls.decode(decoded.encode()) == decoded


@pytest.mark.parametrize(("kind", "column"), KINDS)
@given(text=st.text(max_size=20))
def test_text_that_is_not_a_json_object_is_job_data_invalid(
    kind: str, column: str, text: str
) -> None:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return
    with pytest.raises(JobDataInvalid):
        stored_type(kind, column).decode(text)


VALID_CLEANUP = {
    "name_regex_delete": "build-.*", "name_regex": None, "name_regex_keep": None,
    "keep_n": 5, "older_than": "7d", "anchoring": "gitlab",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # A misspelt member: the old path ignored it, and deleted every build-* tag.
        ({"keepn": 5}, "unknown member(s) ['keepn']"),
        ({"keep_n": "5"}, "params.keep_n: expected a non-negative integer or null, got '5'"),
        # JSON true is not 1.
        ({"keep_n": True}, "params.keep_n: expected a non-negative integer or null, got True"),
        ({"keep_n": -1}, "params.keep_n: expected a non-negative integer or null, got -1"),
        ({"keep_n": 2.0}, "params.keep_n: expected a non-negative integer or null"),
        ({"older_than": "forever"}, "params: "),
        ({"older_than": 7}, "params.older_than: expected a string or null, got 7"),
        ({"name_regex_delete": "(build"}, "params: missing ): (build"),
        ({"name_regex_keep": ["v.*"]}, "params.name_regex_keep: expected a string or null"),
        ({"anchoring": "whole"}, "params.anchoring: expected 'gitlab' or 'full', got 'whole'"),
        ({"policy": "yes"}, "params.policy: expected true or false, got 'yes'"),
        ({"policy": True}, "params: policy and policy_run_at go together"),
        ({"policy": True, "policy_run_at": "2026-06-01T15:00:00"},
         "params.policy_run_at: expected an ISO 8601 time with its offset"),
    ],
)
def test_a_malformed_cleanup_row_is_job_data_invalid_naming_the_member(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(JobDataInvalid) as raised:
        CleanupParams.decode(json.dumps({**VALID_CLEANUP, **change}))
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"plan": [["a", 1], ["b"]]}', "result.plan: expected a list of [string, integer] pairs"),
        ('{"plan": [["a", "1"]]}', "result.plan: expected a list of [string, integer] pairs"),
        ('{"kept": {"because": 1}}', "result.kept: expected counts keyed by"),
        ('{"deleted_tags": "a,b"}', "result.deleted_tags: expected a list of strings"),
        ('{"planned_at": "yesterday"}', "result.planned_at: expected an ISO 8601 time"),
        ('{"plan": [], "kept": {}', "result: not JSON"),
        ("[]", "result: expected a JSON object, got []"),
    ],
)
def test_a_malformed_saved_plan_is_job_data_invalid(text: str, message: str) -> None:
    with pytest.raises(JobDataInvalid) as raised:
        CleanupResult.decode(text)
    assert message in str(raised.value)


def row(kind: str, params: str, counts: str = "{}", result: str | None = None) -> JobRow:
    return JobRow(
        id=7, kind=kind, params=params, requester_id=None, project_id=None, repository_id=None,
        state="done", counts=counts, result=result, error=None, attempts=1, lease_owner=None,
        lease_expires_at=None, run_after=None, created_at=T0, started_at=None, finished_at=None,
    )


def test_decode_job_names_the_job_and_refuses_an_unknown_kind() -> None:
    with pytest.raises(JobDataInvalid, match=r"job 7 \(cleanup_tags\): counts.deleted"):
        decode_job(row("cleanup_tags", "{}", '{"deleted": "3"}'))
    with pytest.raises(JobDataInvalid, match=r"job 7 \(prune\): unknown job kind 'prune'"):
        decode_job(row("prune", "{}"))


# --- rows written before the codec ----------------------------------------------------------

# Captured from the jobs of commit 498fc19 (the last before this codec) run through the API,
# the runner and jobs/policies.py: the exact text in their rows.
TODAYS_ROWS: list[tuple[JobRow, JobData]] = [
    (  # a bulk delete with every parameter, finished
        row(
            "cleanup_tags",
            '{"anchoring": "gitlab", "keep_n": 1, "name_regex": "x", "name_regex_delete": '
            '"build-.*", "name_regex_keep": "keep-.*", "older_than": "1h"}',
            '{"deleted":3,"kept":3,"planned":3,"processed":3,"tags":6}',
            '{"kept":{"keep_n":1,"latest":1,"name_regex_keep":1},"planned_at":'
            '"2026-06-01T15:00:00+00:00","deleted_tags":["build-1","build-2","build-3"]}',
        ),
        JobData(
            CleanupParams("build-.*", "x", "keep-.*", 1, "1h", Anchoring.GITLAB),
            CleanupCounts(tags=6, planned=3, kept=3, processed=3, deleted=3),
            CleanupResult(
                kept={"keep_n": 1, "latest": 1, "name_regex_keep": 1}, planned_at=T0,
                deleted_tags=("build-1", "build-2", "build-3"),
            ),
        ),
    ),
    (  # only the deprecated name_regex, nothing matched
        row(
            "cleanup_tags",
            '{"anchoring": "gitlab", "keep_n": null, "name_regex": "nomatch", '
            '"name_regex_delete": null, "name_regex_keep": null, "older_than": null}',
            '{"deleted":0,"kept":1,"planned":0,"processed":0,"tags":1}',
            '{"kept":{"not_matched":1},"planned_at":"2026-06-01T15:00:00+00:00",'
            '"deleted_tags":[],"nothing_deleted_because":"every tag was kept: 1 by not_matched"}',
        ),
        JobData(
            CleanupParams(None, "nomatch"),
            CleanupCounts(tags=1, planned=0, kept=1, processed=0, deleted=0),
            CleanupResult(
                kept={"not_matched": 1}, planned_at=T0, deleted_tags=(),
                nothing_deleted_because="every tag was kept: 1 by not_matched",
            ),
        ),
    ),
    (  # planned, not yet deleting: the saved plan
        row(
            "cleanup_tags",
            '{"anchoring": "gitlab", "keep_n": null, "name_regex": null, "name_regex_delete": '
            '"old-.*", "name_regex_keep": null, "older_than": null}',
            '{"deleted": 0, "kept": 1, "planned": 3, "processed": 0, "tags": 4}',
            '{"kept": {"not_matched": 1}, "plan": [["old-1", 10], ["old-2", 11], ["old-3", 12]],'
            ' "planned_at": "2026-06-01T15:00:00+00:00"}',
        ),
        JobData(
            CleanupParams("old-.*"),
            CleanupCounts(tags=4, planned=3, kept=1, processed=0, deleted=0),
            CleanupResult(
                plan=(("old-1", 10), ("old-2", 11), ("old-3", 12)),
                kept={"not_matched": 1}, planned_at=T0,
            ),
        ),
    ),
    (  # a cleanup policy's run, still queued
        row(
            "cleanup_tags",
            '{"anchoring": "gitlab", "keep_n": 10, "name_regex_delete": ".*", "name_regex_keep":'
            ' "v.*", "older_than": "90d", "policy": true, "policy_run_at": '
            '"2026-06-01T15:00:00+00:00"}',
        ),
        JobData(
            CleanupParams(".*", None, "v.*", 10, "90d", policy_run_at=T0),
            CleanupCounts(),
            None,
        ),
    ),
    (  # skipped (jobs/tag_cleanup.py's early outcomes, merged into an empty row)
        row("cleanup_tags", '{"anchoring": "full", "name_regex_delete": ".*"}', '{"deleted":0}',
            '{"skipped":"the repository no longer exists"}'),
        JobData(
            CleanupParams(".*", anchoring=Anchoring.FULL),
            CleanupCounts(deleted=0),
            CleanupResult(skipped="the repository no longer exists"),
        ),
    ),
    (
        row("delete_repository", "{}", '{"deleted":2}', '{"deleted_tags_count":2}'),
        JobData(
            RepositoryDeletionParams(),
            RepositoryDeletionCounts(deleted=2),
            RepositoryDeletionResult(deleted_tags_count=2),
        ),
    ),
    (
        row(
            "collect_garbage",
            "{}",
            '{"blob_bytes":0,"blobs":0,"bytes_freed":0,"manifests":0,"orphan_bytes":0,'
            '"orphan_files":0}',
            '{"nothing_deleted_because":"nothing was garbage: no untagged manifest unreferenced '
            'for 86400s, no unused blob or uncataloged file older than 86400s"}',
        ),
        JobData(
            CollectionParams(),
            CollectionCounts(0, 0, 0, 0, 0, 0),
            CollectionResult(
                "nothing was garbage: no untagged manifest unreferenced for 86400s, no unused "
                "blob or uncataloged file older than 86400s"
            ),
        ),
    ),
]


@pytest.mark.parametrize(("stored", "meant"), TODAYS_ROWS)
def test_rows_written_before_the_codec_decode_to_what_they_meant(
    stored: JobRow, meant: JobData
) -> None:
    assert decode_job(stored) == meant


@pytest.mark.parametrize(("stored", "meant"), TODAYS_ROWS)
def test_the_codec_writes_the_format_the_rows_were_written_in(
    stored: JobRow, meant: JobData
) -> None:
    """Same members, same values (only the spacing, and null against absent, may differ), so
    a row the codec writes reads the same to anything that reads the JSON itself (metrics,
    fixture mode, SQL)."""
    for column, value in (("params", meant.params), ("counts", meant.counts),
                          ("result", meant.result)):
        text = getattr(stored, column)
        assert set_members(value.encode() if value else None) == set_members(text), column


def set_members(text: str | None) -> dict[str, Any] | None:
    return {k: v for k, v in json.loads(text).items() if v is not None} if text else None


def test_the_params_give_the_planner_its_rules() -> None:
    params = CleanupParams(None, "v.*", "keep-.*", 3, "2d", Anchoring.FULL)
    assert params.rules() == CleanupRules(
        name_regex_delete="v.*", name_regex_keep="keep-.*", keep_n=3,
        older_than=timedelta(days=2), anchoring=Anchoring.FULL,
    )
    both = CleanupParams("a.*", "b.*")
    assert both.rules().name_regex_delete == "a.*" and both.alias_ignored
    assert both.regexes() == [("name_regex_delete", "a.*")]
