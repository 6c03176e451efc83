"""Issue 6's acceptance property: the preview of a parameter set (``dry_run=true`` on E6) names
exactly the tags the real job then deletes — over random tag sets (names, build dates including
undated ones, push times) and random parameters, under both regex anchorings.

Each example seeds a fresh repository, asks for the preview, sends the same parameters for
real (the preview must not have taken the once-an-hour lease), runs the job with the
in-process runner at the same clock reading, and compares.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.cleanup import Anchoring
from jobs.context import JobContext
from jobs.runner import InProcessRunner
from registry_service.app import create_app
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.services.blobs import Storage
from registry_service.settings import Settings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests.factories import Factory, UserWithToken
from tests.jobs.tagsets import SeedTag, seed_tags, tag_names

HOUR = timedelta(hours=1)
_projects = itertools.count(1)

# Valid tag names (\w[\w.-]*) over a small alphabet, so patterns often hit and often differ
# between GitLab's and full anchoring.
tag_name = st.one_of(
    st.sampled_from(["latest", "a", "b", "ab", "ba", "a1", "1b", "v1.0", "v1-rc"]),
    st.text(alphabet="ab1", min_size=1, max_size=3).flatmap(
        lambda head: st.text(alphabet="ab1.-", max_size=2).map(lambda tail: head + tail)
    ),
)
seed_tag = st.builds(
    lambda name, created_h, pushed_h: (name, created_h, pushed_h),
    tag_name,
    st.none() | st.integers(0, 8),  # hours before now the image was built; None = undated
    st.integers(0, 4),  # hours before now the tag was pushed
)
tag_sets = st.lists(seed_tag, max_size=10, unique_by=lambda t: t[0])
pattern = st.sampled_from([".*", "a.*", ".*b", "b", "latest", "[ab]+", "a|b", "a|.*1|b",
                           "v.*", "v1\\..*|.*-rc", "nomatch"])
durations = st.sampled_from(["1h", "2h", "90m", "3h30m", "1d", "4h", "7200"])


@st.composite
def parameter_sets(draw: st.DrawFn) -> dict[str, Any]:
    params: dict[str, Any] = {}
    # At least one of name_regex_delete / name_regex (the API requires it), sometimes both.
    which = draw(st.sampled_from(["delete", "deprecated", "both"]))
    if which in ("delete", "both"):
        params["name_regex_delete"] = draw(pattern)
    if which in ("deprecated", "both"):
        params["name_regex"] = draw(pattern)
    if draw(st.booleans()):
        params["name_regex_keep"] = draw(pattern)
    if draw(st.booleans()):
        params["keep_n"] = draw(st.integers(0, 6))
    if draw(st.booleans()):
        params["older_than"] = draw(durations)
    return params


@dataclass
class Setup:
    clients: dict[Anchoring, TestClient]
    runners: dict[Anchoring, InProcessRunner]
    catalog: Catalog
    factory: Factory
    admin: UserWithToken


@pytest.fixture
async def setup(
    aiohttp_client: Any, settings: Settings, catalog: Catalog, clock: SettableClock,
    factory: Factory,
) -> AsyncIterator[Setup]:
    store = FilesystemBlobStore(settings.data_path)
    clients: dict[Anchoring, TestClient] = {}
    runners: dict[Anchoring, InProcessRunner] = {}
    for anchoring in Anchoring:
        configured = settings.replace("cleanup", regex_anchoring=str(anchoring))
        runner = InProcessRunner(JobContext(catalog, Storage.on(store), clock, configured))
        app = create_app(configured, catalog=catalog, clock=clock, storage=Storage.on(store),
                         queue=runner)
        clients[anchoring] = await aiohttp_client(app)
        runners[anchoring] = runner
    yield Setup(clients, runners, catalog, factory, await factory.user(admin=True))
    await store.aclose()


@settings(
    max_examples=30,
    deadline=None,
    # One catalog and app serve every example; each example makes its own project.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tags=tag_sets, params=parameter_sets(), anchoring=st.sampled_from(Anchoring))
async def test_the_preview_names_exactly_what_the_job_then_deletes(
    setup: Setup, clock: SettableClock, tags: list[tuple[str, int | None, int]],
    params: dict[str, Any], anchoring: Anchoring,
) -> None:
    project = await setup.factory.project(f"prop/p{next(_projects)}")
    async with setup.catalog.transaction() as tx:
        repository = await repository_rows.ensure_repository(tx, project.id, "", clock.now())
    now = clock.now()
    await seed_tags(setup.catalog, repository, [
        SeedTag(name, None if created is None else now - created * HOUR, now - pushed * HOUR)
        for name, created, pushed in tags
    ])
    client = setup.clients[anchoring]
    url = f"/api/v4/projects/{project.id}/registry/repositories/{repository.id}/tags"
    headers = setup.admin.headers

    resp = await client.delete(url, json={**params, "dry_run": True}, headers=headers)
    assert resp.status == 200, await resp.text()
    preview = await resp.json()
    assert await tag_names(setup.catalog, repository.id) == {t[0] for t in tags}

    resp = await client.delete(url, json=params, headers=headers)
    assert resp.status == 202, await resp.text()
    await setup.runners[anchoring].run_until_idle()

    deleted = {t[0] for t in tags} - await tag_names(setup.catalog, repository.id)
    assert sorted(deleted) == preview["would_delete"]
    assert {k["name"] for k in preview["kept"]} == {t[0] for t in tags} - deleted
    job = await client.get(f"/api/v4/registry/jobs/{resp.headers['X-Registry-Job-Id']}",
                           headers=headers)
    shown = await job.json()
    assert shown["state"] == "done"
    assert shown["deleted_tags"] == preview["would_delete"]
    assert shown["counts"]["deleted"] == len(deleted)
