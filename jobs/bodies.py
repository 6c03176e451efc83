"""The job kinds the runners know, each mapped to its body."""

from __future__ import annotations

from collections.abc import Mapping

from jobs.execute import JobBody
from jobs.gc import collect_garbage_job
from jobs.repository_deletion import delete_repository
from jobs.tag_cleanup import cleanup_tags
from registry_service.services.jobs import JobKind

JOB_BODIES: Mapping[str, JobBody] = {
    JobKind.CLEANUP_TAGS: cleanup_tags,
    JobKind.DELETE_REPOSITORY: delete_repository,
    JobKind.COLLECT_GARBAGE: collect_garbage_job,
}
