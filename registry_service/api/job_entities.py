"""Response entities of job handles and of the bulk delete's preview (issue 6; not GitLab's).

``JobSchema`` dumps a ``services.job_views.JobView``; ``CleanupPreviewSchema`` dumps a
``services.cleanup_plans.CleanupPreview``. Times are GitLab's format (UTC, ms, ``Z``).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from jobs.cleanup import KeepReason
from registry_service.api.entities import gitlab_time
from registry_service.http import schema_types as T
from registry_service.services.cleanup_plans import CleanupPreview
from registry_service.services.job_views import JobView

NUMBER_OR_NULL: dict[str, Any] = {"type": "number", "nullable": True}
STR_LIST_OR_NULL: dict[str, Any] = {**T.STR_LIST, "nullable": True}
REQUESTER: dict[str, Any] = {
    "type": "object",
    "nullable": True,
    "properties": {"id": T.INT, "username": T.STR},
}
KEPT: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object", "properties": {"name": T.STR, "reason": T.STR}},
}
WARNINGS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "code": T.STR,
            "parameter": T.STR_OR_NULL,
            "message": T.STR,
            "tags": T.STR_LIST,
            "tags_total": T.INT,
        },
    },
}
PREVIEW_COUNTS: dict[str, Any] = {
    "type": "object",
    "properties": {
        name: T.INT for name in ("tags", "candidates", "would_delete", "kept", "protected")
    },
}


class JobSchema(Schema):
    id = fields.Function(lambda v: v.job.id, metadata=T.INT)
    kind = fields.Function(lambda v: v.job.kind, metadata=T.STR)
    state = fields.Function(lambda v: v.job.state, metadata=T.STR)
    params = fields.Function(lambda v: v.params.to_json(), metadata=T.OBJECT)
    requester = fields.Method("get_requester", metadata=REQUESTER)
    project_id = fields.Function(lambda v: v.job.project_id, metadata=T.INT_OR_NULL)
    repository_id = fields.Function(lambda v: v.job.repository_id, metadata=T.INT_OR_NULL)
    counts = fields.Function(lambda v: v.counts.to_json(), metadata=T.OBJECT)
    deleted_tags = fields.Function(
        lambda v: list(v.deleted_tags) if v.deleted_tags is not None else None,
        metadata=STR_LIST_OR_NULL,
    )
    deleted_tags_truncated = fields.Function(
        lambda v: v.deleted_tags_truncated, metadata=T.BOOL
    )
    reason = fields.Function(lambda v: v.reason, metadata=T.STR_OR_NULL)
    error = fields.Function(lambda v: v.job.error, metadata=T.STR_OR_NULL)
    attempts = fields.Function(lambda v: v.job.attempts, metadata=T.INT)
    created_at = fields.Function(lambda v: gitlab_time(v.job.created_at), metadata=T.TIME)
    started_at = fields.Function(
        lambda v: gitlab_time(v.job.started_at), metadata=T.TIME_OR_NULL
    )
    finished_at = fields.Function(
        lambda v: gitlab_time(v.job.finished_at), metadata=T.TIME_OR_NULL
    )
    duration_s = fields.Method("get_duration_s", metadata=NUMBER_OR_NULL)

    def get_requester(self, view: JobView) -> dict[str, Any] | None:
        user = view.requester
        return {"id": user.id, "username": user.username} if user is not None else None

    def get_duration_s(self, view: JobView) -> float | None:
        job = view.job
        if job.started_at is None or job.finished_at is None:
            return None
        return (job.finished_at - job.started_at).total_seconds()


class CleanupPreviewSchema(Schema):
    dry_run = fields.Constant(True, metadata=T.BOOL)
    params = fields.Function(lambda p: p.params.to_json(), metadata=T.OBJECT)
    would_delete = fields.Function(lambda p: list(p.would_delete), metadata=T.STR_LIST)
    kept = fields.Method("get_kept", metadata=KEPT)
    kept_by_reason = fields.Function(lambda p: dict(p.kept_by_reason), metadata=T.OBJECT)
    counts = fields.Method("get_counts", metadata=PREVIEW_COUNTS)
    warnings = fields.Method("get_warnings", metadata=WARNINGS)
    planned_at = fields.Function(lambda p: gitlab_time(p.planned_at), metadata=T.TIME)

    def get_kept(self, preview: CleanupPreview) -> list[dict[str, str]]:
        return [{"name": name, "reason": str(reason)} for name, reason in preview.kept]

    def get_counts(self, preview: CleanupPreview) -> dict[str, int]:
        return {
            "tags": preview.tags_total,
            "candidates": preview.candidates,
            "would_delete": len(preview.would_delete),
            "kept": len(preview.kept),
            "protected": preview.kept_by_reason.get(str(KeepReason.PROTECTED), 0),
        }

    def get_warnings(self, preview: CleanupPreview) -> list[dict[str, Any]]:
        return [
            {
                "code": w.code,
                "parameter": w.parameter,
                "message": w.message,
                "tags": list(w.tags),
                "tags_total": w.tags_total,
            }
            for w in preview.warnings
        ]
