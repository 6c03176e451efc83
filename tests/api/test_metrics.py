"""``GET /metrics`` after a push, a pull and a cleanup: requests by route template and status,
bytes pushed and pulled, jobs by kind and state, tags deleted and what is stored."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from jobs.context import JobContext
from jobs.runner import InProcessRunner
from registry_service.catalog.db import Catalog, fetch_one
from registry_service.clock import SettableClock
from registry_service.keys import storage_key
from registry_service.services.job_data import CleanupParams
from registry_service.services.jobs import NO_RUNNER, submit_job
from registry_service.settings import Settings
from tests import oci_content as oc
from tests.factories import Factory

NAME = "group/app"
MANIFESTS = "/v2/{name}/manifests/{reference}"
BLOBS = "/v2/{name}/blobs/{digest}"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: TestClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def requests(samples: Samples, route: str, method: str, status: int, api: str = "v2") -> float:
    found = value(
        samples, "registry_http_requests_total",
        api=api, route=route, method=method, status=str(status),
    )
    return found or 0


async def test_metrics_show_a_push_a_pull_and_a_cleanup(
    client: TestClient,
    catalog: Catalog,
    factory: Factory,
    clock: SettableClock,
    settings: Settings,
) -> None:
    await factory.project(NAME)
    admin = await factory.user("admin", admin=True)
    registry = oc.Registry(client, oc.basic("admin", admin.token))
    img = oc.image(layers=2, layer_size=3000)
    config, *layers = img.blobs

    # Push: the config in one request, the layers in chunks, the manifest under three tags.
    await registry.push_blob(NAME, config)
    for layer in layers:
        await registry.push_blob_chunked(NAME, layer, chunk=1000)
    for tag in ("v1", "old-1", "old-2"):
        response = await registry.put_manifest(NAME, img, tag)
        assert response.status == 201, await response.text()

    # Pull: the manifest, every blob, a range of one, a HEAD (no body) and a miss.
    assert (await registry.call("GET", f"/v2/{NAME}/manifests/v1")).status == 200
    for blob in img.blobs:
        response = await registry.call("GET", f"/v2/{NAME}/blobs/{blob.digest}")
        assert await response.read() == blob.data
    ranged = await registry.call(
        "GET", f"/v2/{NAME}/blobs/{layers[0].digest}", headers={"Range": "bytes=0-99"}
    )
    assert ranged.status == 206 and len(await ranged.read()) == 100
    assert (await registry.call("HEAD", f"/v2/{NAME}/blobs/{config.digest}")).status == 200
    assert (await registry.call("GET", f"/v2/{NAME}/manifests/nope")).status == 404
    assert (await client.get("/no/such/page")).status == 404

    # Cleanup: delete the old-* tags through a job, run in process.
    repository = await fetch_one(catalog.reader, "SELECT id, project_id FROM repositories")
    assert repository is not None
    await submit_job(
        catalog, NO_RUNNER, CleanupParams(name_regex_delete="old-.*"),
        requester_id=admin.user.id, project_id=repository["project_id"],
        repository_id=repository["id"], now=clock.now(),
    )
    runner = InProcessRunner(JobContext(catalog, client.app[storage_key], clock, settings))
    await runner.run_until_idle()

    samples = await scrape(client)

    assert requests(samples, MANIFESTS, "PUT", 201) == 3
    assert requests(samples, MANIFESTS, "GET", 200) == 1
    assert requests(samples, MANIFESTS, "GET", 404) == 1
    assert requests(samples, BLOBS, "GET", 200) == len(img.blobs)
    assert requests(samples, BLOBS, "GET", 206) == 1
    assert requests(samples, BLOBS, "HEAD", 200) == 1
    assert requests(samples, "/v2/{name}/blobs/uploads/{session}", "PATCH", 202) == 6
    assert requests(samples, "unmatched", "GET", 404, api="other") == 1
    assert not any("nope" in dict(labels).get("route", "") for _, labels in samples)
    assert value(
        samples, "registry_http_request_duration_seconds_count",
        api="v2", route=MANIFESTS, method="PUT",
    ) == 3

    blob_bytes = sum(len(blob.data) for blob in img.blobs)
    assert value(samples, "registry_pushed_bytes_total", kind="blob") == blob_bytes
    assert value(samples, "registry_pushed_bytes_total", kind="manifest") == 3 * len(img.manifest)
    assert value(samples, "registry_pulled_bytes_total", kind="blob") == blob_bytes + 100
    assert value(samples, "registry_pulled_bytes_total", kind="manifest") == len(img.manifest)

    assert value(samples, "registry_jobs", kind="cleanup_tags", state="done") == 1
    assert value(samples, "registry_jobs", kind="cleanup_tags", state="failed") == 0
    assert value(samples, "registry_tags_deleted_total", kind="cleanup_tags") == 2
    assert value(samples, "registry_tags_deleted_total", kind="delete_repository") == 0
    assert value(samples, "registry_gc_freed_bytes_total") == 0
    assert value(samples, "registry_stored_blob_bytes") == blob_bytes
    assert value(samples, "registry_stored_blobs") == len(img.blobs)
    assert value(samples, "registry_tags") == 1
    assert value(samples, "registry_repositories") == 1


async def test_gitlab_api_requests_are_labelled_by_route_template(
    client: TestClient, factory: Factory
) -> None:
    admin = await factory.user("admin", admin=True)
    project = await factory.project("group/app")
    for _ in range(2):
        response = await client.get(f"/api/v4/projects/{project.id}", headers=admin.headers)
        assert response.status == 200
    assert (await client.get("/api/v4/projects/999999", headers=admin.headers)).status == 404
    assert (await client.get("/api/v4/no/such/route")).status == 404

    samples = await scrape(client)

    route = "/api/v4/projects/{id}"
    assert requests(samples, route, "GET", 200, api="api_v4") == 2
    assert requests(samples, route, "GET", 404, api="api_v4") == 1
    assert requests(samples, "unmatched", "GET", 404, api="api_v4") == 1


async def test_metrics_answer_openmetrics_when_asked(client: TestClient) -> None:
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    text = await response.text()
    assert text.endswith("# EOF\n")
    assert "registry_stored_blob_bytes 0" in text
