"""The Prometheus metrics: the instruments a server process records into, and the families read
from the catalog at each scrape. Nothing here knows aiohttp; ``http/metrics.py`` records and
serves.

Each app owns its ``Metrics`` (its own ``CollectorRegistry``, not the library's global one), so
several apps in one process — tests — never share a series. What jobs did and what is stored is
not counted in-process: the catalog is shared by ``serve`` and the arq workers, so it is read
there at scrape time (``catalog/stats.py``) and is right whichever process did the work.

Names follow Prometheus's conventions: base units, the unit as the last word before ``_total``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from registry_service.catalog import stats
from registry_service.catalog.protocols import CatalogBackend
from registry_service.services.jobs import JobKind, JobState

# Requests range from a manifest HEAD (~1 ms) to a blob upload of minutes.
DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The job kinds whose ``counts.deleted`` are tags deleted.
TAG_DELETING_KINDS = (JobKind.CLEANUP_TAGS, JobKind.DELETE_REPOSITORY)


class Metrics:
    """One app's instruments, registered in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "registry_http_requests",
            "HTTP requests answered, by API, route template, method and status.",
            ["api", "route", "method", "status"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            "registry_http_request_duration_seconds",
            "Time from a request's arrival to its answer's headers (a body streamed after them,"
            " such as a blob's, is not included).",
            ["api", "route", "method"],
            buckets=DURATION_BUCKETS_S,
            registry=self.registry,
        )
        self.pushed_bytes = Counter(
            "registry_pushed_bytes",
            "Bytes accepted through /v2: blob upload bodies and manifests.",
            ["kind"],
            registry=self.registry,
        )
        self.pulled_bytes = Counter(
            "registry_pulled_bytes",
            "Bytes served through /v2: blob bodies (ranges included) and manifests.",
            ["kind"],
            registry=self.registry,
        )
        for counter in (self.pushed_bytes, self.pulled_bytes):
            for kind in ("blob", "manifest"):
                counter.labels(kind)

    async def scrape(self, catalog: CatalogBackend, accept: str | None) -> tuple[bytes, str]:
        """The exposition for an ``Accept`` header (text format, or OpenMetrics if asked) and
        its content type: this process's instruments plus the catalog's totals."""
        jobs = await stats.select_job_totals(catalog.scan_reader)
        stored = await stats.select_stored_totals(catalog.scan_reader)
        encode, content_type = choose_encoder(accept or "")
        return encode(_Both(self.registry, CatalogFamilies(jobs, stored))), content_type


class _Both:
    def __init__(self, *collectors: Collector) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


class CatalogFamilies:
    """The catalog's totals of one scrape as metric families."""

    def __init__(self, jobs: list[stats.JobTotals], stored: stats.StoredTotals) -> None:
        self._jobs = jobs
        self._stored = stored

    def collect(self) -> Iterable[Metric]:
        # Every known kind and state is exposed, 0 included, so an alert sees 0, not "absent".
        counts = {(kind.value, state.value): 0 for kind in JobKind for state in JobState}
        tags_deleted = {kind.value: 0 for kind in TAG_DELETING_KINDS}
        bytes_freed = 0
        for row in self._jobs:
            counts[row.kind, row.state] = row.jobs
            if row.kind in tags_deleted:
                tags_deleted[row.kind] += row.deleted
            if row.kind == JobKind.COLLECT_GARBAGE:
                bytes_freed += row.bytes_freed

        jobs = GaugeMetricFamily(
            "registry_jobs", "Background jobs in the catalog, by kind and state.",
            labels=["kind", "state"],
        )
        for (kind, state), value in sorted(counts.items()):
            jobs.add_metric([kind, state], value)
        yield jobs

        deleted_family = CounterMetricFamily(
            "registry_tags_deleted",
            "Tags deleted by cleanup and repository-deletion jobs (done, running or failed).",
            labels=["kind"],
        )
        for kind, value in sorted(tags_deleted.items()):
            deleted_family.add_metric([kind], value)
        yield deleted_family

        yield CounterMetricFamily(
            "registry_gc_freed_bytes",
            "Bytes removed from the blob store by garbage collection jobs.",
            value=bytes_freed,
        )
        stored = self._stored
        for name, text, value in (
            ("registry_stored_blob_bytes", "Bytes of the blobs stored.", stored.blob_bytes),
            ("registry_stored_blobs", "Blobs stored (each digest once).", stored.blobs),
            ("registry_manifests", "Manifests, counted once per repository.", stored.manifests),
            ("registry_repositories", "Repositories.", stored.repositories),
            ("registry_tags", "Tags.", stored.tags),
        ):
            yield GaugeMetricFamily(name, text, value=value)
