"""Submitting a job intent for something that has just been deleted."""

from __future__ import annotations

import pytest

from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.db import Catalog, fetch_all
from registry_service.clock import SettableClock
from registry_service.errors import RecordNotFound
from registry_service.services.job_data import CleanupParams
from registry_service.services.jobs import NO_RUNNER, submit_job
from tests.factories import Factory
from tests.jobs.tagsets import make_repository


async def test_a_job_for_a_repository_deleted_meanwhile_is_404_and_records_nothing(
    catalog: Catalog, factory: Factory, clock: SettableClock
) -> None:
    repository = await make_repository(factory, "group/app")
    # The repository-deletion job finishes between the handler's lookup and its submission.
    async with catalog.transaction() as tx:
        assert await repository_rows.delete_repository_row(tx, repository.id)

    with pytest.raises(RecordNotFound):
        await submit_job(
            catalog, NO_RUNNER, CleanupParams(name_regex_delete=".*"),
            requester_id=None, project_id=repository.project_id,
            repository_id=repository.id, now=clock.now(),
        )

    assert await fetch_all(catalog.reader, "SELECT * FROM jobs") == []
