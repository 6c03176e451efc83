"""The catalog's totals as metric families: which job kinds count as tag deletions and as bytes
freed, and every known kind and state exposed even at 0."""

from __future__ import annotations

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from registry_service.catalog.stats import JobTotals, StoredTotals
from registry_service.metrics import CatalogFamilies


def exposed(families: CatalogFamilies) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(families).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_job_totals_become_jobs_tags_deleted_and_bytes_freed() -> None:
    jobs = [
        JobTotals("cleanup_tags", "done", 3, deleted=40, bytes_freed=0),
        JobTotals("cleanup_tags", "failed", 1, deleted=2, bytes_freed=0),
        JobTotals("delete_repository", "done", 1, deleted=5, bytes_freed=0),
        JobTotals("collect_garbage", "done", 2, deleted=0, bytes_freed=7000),
        JobTotals("collect_garbage", "running", 1, deleted=0, bytes_freed=300),
        # A kind this version does not know: shown, but its counts mean nothing here.
        JobTotals("reindex", "queued", 4, deleted=9, bytes_freed=9),
    ]
    stored = StoredTotals(repositories=2, tags=10, manifests=4, blobs=6, blob_bytes=12345)

    samples = exposed(CatalogFamilies(jobs, stored))

    assert samples["registry_jobs", (("kind", "cleanup_tags"), ("state", "done"))] == 3
    assert samples["registry_jobs", (("kind", "cleanup_tags"), ("state", "queued"))] == 0
    assert samples["registry_jobs", (("kind", "reindex"), ("state", "queued"))] == 4
    assert samples["registry_tags_deleted_total", (("kind", "cleanup_tags"),)] == 42
    assert samples["registry_tags_deleted_total", (("kind", "delete_repository"),)] == 5
    assert samples["registry_gc_freed_bytes_total", ()] == 7300
    assert samples["registry_stored_blob_bytes", ()] == 12345
    assert samples["registry_stored_blobs", ()] == 6
    assert samples["registry_manifests", ()] == 4
    assert samples["registry_repositories", ()] == 2
    assert samples["registry_tags", ()] == 10


def test_an_empty_catalog_exposes_every_kind_and_state_at_zero() -> None:
    samples = exposed(CatalogFamilies([], StoredTotals(0, 0, 0, 0, 0)))

    jobs = {labels: v for (name, labels), v in samples.items() if name == "registry_jobs"}
    assert len(jobs) == 3 * 4 and set(jobs.values()) == {0}
    assert samples["registry_gc_freed_bytes_total", ()] == 0
