"""Acceptance (issue 5): every container-registry call of python-gitlab against the real server.

Images are pushed with skopeo, with chosen config ``created`` dates; the bulk fixtures (250
repositories, 250 tags) come from the seed file's ``[[images]]``. Each call's result is
compared with what the contract (shared/spec/gitlab-api.md) says it must be, computed here by
hand: the expected tag sets of the bulk deletes follow §3 step by step in the comments, never
the project's own planner. After a bulk delete a surviving tag is pulled back with skopeo.

One server for the module (bulk-delete rate limit off: ``bulk_delete_interval_seconds=0``).
Tests that delete use their own repositories under ``work/scratch``, so the read-only checks on
``grp/*`` see a fixed catalog in any order. The once-an-hour rule and the repository deletion
lifecycle (with the job runner held back) get servers of their own.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from tests.e2e.gitlab_support import (
    DEV_API,
    MAINT,
    PROJECT,
    SUB_PROJECT,
    Api,
    age,
    config_digest,
    dated_image,
    images_entry,
    layer_sizes,
    push_tags,
    wait_for,
    write_seed,
)
from tests.e2e.oci_layout import assert_same_content, read_layout
from tests.e2e.server import RegistryServer, StartServer
from tests.e2e.skopeo import Skopeo, ok
from tests.oci_content import Image, index
from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 30
JOB_TIMEOUT_S = 30
BULK = 250
RATE_LIMIT_MESSAGE = (
    "This request has already been made. You can run this at most once an hour for a given "
    "container repository"
)
REPOSITORY_KEYS = [
    "id", "name", "path", "project_id", "location", "created_at", "cleanup_policy_started_at",
]
REPOSITORY_CREATED_AT = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
TAG_CREATED_AT = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d\Z")

EXTRA_SEED = """
[[groups]]
path = "many"
visibility = "private"
members = [{ user = "maint", access_level = "maintainer" }]

[[projects]]
path = "many/repos"
visibility = "private"

[[projects]]
path = "many/tags"
visibility = "private"

[[groups]]
path = "work"
visibility = "private"
members = [
    { user = "maint", access_level = "maintainer" },
    { user = "dev", access_level = "developer" },
]

[[projects]]
path = "work/scratch"
visibility = "private"
"""
SCRATCH = "work/scratch"


def bulk_seed() -> str:
    repos = "".join(
        images_entry(f"many/repos/r{n:03}", tags=["v1"], created="@2026-01-01T00:00:00Z")
        for n in range(BULK)
    )
    tags = images_entry(
        "many/tags", tag_pattern="t{n:03}", count=BULK, created="@2026-01-01T00:00:00Z"
    )
    return EXTRA_SEED + repos + tags


# --- the module's server and the images pushed to grp/* ------------------------------------


@dataclass
class World:
    server: RegistryServer
    images: dict[str, Image]  # by tag, for grp/proj (root image)
    worker_image: Image
    tool_image: Image
    started: datetime
    pushed: datetime


def _shut(server: RegistryServer) -> None:
    try:
        server.stop()
    except Exception:  # noqa: BLE001
        server.kill()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("gitlab-registry")
    seed = write_seed(workdir / "seed.toml", bulk_seed())
    server = RegistryServer(
        workdir,
        args=["--seed", str(seed)],
        env={"REGISTRY_SERVICE_CLEANUP_BULK_DELETE_INTERVAL_SECONDS": "0"},
    )
    server.start(timeout_s=60)
    try:
        skopeo = Skopeo(workdir / "skopeo")
        started = datetime.now(UTC) - timedelta(seconds=1)
        release = dated_image(
            101, "2019-01-06T16:49:51.272Z", layers=2, layer_size_bytes=3000,
            annotation_created="2030-01-01T00:00:00Z",
        )
        images = {
            "v1.0.0": release,
            "latest": release,
            # Nanoseconds and an offset: GitLab keeps milliseconds.
            "v1.1.0": dated_image(102, "2020-02-03T04:05:06.123456789+02:00", layers=3),
            # No date at all: created_at must be null, never "".
            "nodate": dated_image(103, None),
            # A date that is not RFC 3339: also null.
            "baddate": dated_image(108, "yesterday"),
            # Multi-arch: the newest created of its children (Decision 4); revision "".
            "multi": index(
                [
                    dated_image(104, "2021-05-05T05:05:05.500Z"),
                    dated_image(105, "2021-06-06T06:06:06.600Z"),
                ]
            ),
        }
        push_tags(skopeo, server, workdir / "proj", PROJECT, images, MAINT)
        worker = dated_image(106, "2022-01-01T00:00:00Z")
        push_tags(skopeo, server, workdir / "web", f"{PROJECT}/web", {"v1": worker}, MAINT)
        push_tags(skopeo, server, workdir / "worker", f"{PROJECT}/web/worker", {"v1": worker},
                  MAINT)
        tool = dated_image(107, "2023-01-01T00:00:00Z")
        push_tags(skopeo, server, workdir / "tool", SUB_PROJECT, {"stable": tool}, MAINT)
        yield World(server, images, worker, tool, started, datetime.now(UTC))
    finally:
        _shut(server)


def client(server: RegistryServer, creds: Any = MAINT) -> gitlab.Gitlab:
    return gitlab.Gitlab(server.url, private_token=creds.token, timeout=HTTP_TIMEOUT_S)


def no_warnings(call: Any) -> Any:
    """Run ``call()``; python-gitlab must not warn (paging, Link base URL)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    assert [str(w.message) for w in caught] == []
    return result


def repo_of(gl: gitlab.Gitlab, project: str, name: str) -> Any:
    repos = gl.projects.get(project, lazy=True).repositories.list(get_all=True)
    found = [r for r in repos if r.name == name]
    assert len(found) == 1, [r.attributes for r in repos]
    return found[0]


def tag_names(repo: Any) -> list[str]:
    return sorted(t.name for t in no_warnings(lambda: repo.tags.list(get_all=True)))


def project_id(gl: gitlab.Gitlab, path: str) -> int:
    return int(gl.projects.get(path).id)


def expected_repository(world: World, pid: int, path: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "project_id": pid,
        "location": f"{world.server.host}/{path}",
        "cleanup_policy_started_at": None,
        "status": None,
    }


def check_created_at(world: World, value: str) -> None:
    assert REPOSITORY_CREATED_AT.match(value), value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert world.started <= moment <= world.pushed + timedelta(seconds=1), value


def tag_entries(world: World, path: str, names: list[str]) -> list[dict[str, str]]:
    return [
        {"name": n, "path": f"{path}:{n}", "location": f"{world.server.host}/{path}:{n}"}
        for n in names
    ]


ROOT_TAGS = ["baddate", "latest", "multi", "nodate", "v1.0.0", "v1.1.0"]


# --- E1 / E2 / E3 ----------------------------------------------------------------------------


def test_project_repositories_list_plain(world: World) -> None:
    gl = client(world.server)
    pid = project_id(gl, PROJECT)
    repos = no_warnings(lambda: gl.projects.get(PROJECT, lazy=True).repositories.list())
    expected = [
        expected_repository(world, pid, "grp/proj", ""),
        expected_repository(world, pid, "grp/proj/web", "web"),
        expected_repository(world, pid, "grp/proj/web/worker", "web/worker"),
    ]
    got = [r.attributes for r in repos]
    assert [r["id"] for r in got] == sorted(r["id"] for r in got)
    for attributes in got:
        check_created_at(world, attributes["created_at"])
        assert "tags" not in attributes and "tags_count" not in attributes
        assert "delete_api_path" not in attributes and "size" not in attributes
    assert [{k: r[k] for k in expected[0]} for r in got] == expected


def test_project_repositories_fields_in_gitlab_order(world: World) -> None:
    api = Api(world.server, MAINT.token)
    plain = api.get("/projects/grp%2Fproj/registry/repositories")
    assert plain.status == 200
    assert (plain.header("Content-Type") or "").startswith("application/json")
    assert list(plain.json[0]) == [*REPOSITORY_KEYS, "status"]
    both = api.get(
        "/projects/grp%2Fproj/registry/repositories", query={"tags": "true", "tags_count": "true"}
    )
    assert list(both.json[0]) == [*REPOSITORY_KEYS, "tags_count", "tags", "status"]
    assert list(both.json[0]["tags"][0]) == ["name", "path", "location"]


def test_project_repositories_list_with_tags_and_tags_count(world: World) -> None:
    gl = client(world.server)
    project = gl.projects.get(PROJECT, lazy=True)

    with_tags = [r.attributes for r in project.repositories.list(tags=True)]
    assert [r["tags"] for r in with_tags] == [
        tag_entries(world, "grp/proj", ROOT_TAGS),
        tag_entries(world, "grp/proj/web", ["v1"]),
        tag_entries(world, "grp/proj/web/worker", ["v1"]),
    ]
    assert all("tags_count" not in r for r in with_tags)

    counted = [r.attributes for r in project.repositories.list(tags_count=True)]
    assert [r["tags_count"] for r in counted] == [len(ROOT_TAGS), 1, 1]
    assert all("tags" not in r for r in counted)

    both = [r.attributes for r in project.repositories.list(tags=True, tags_count=True)]
    assert [(r["tags_count"], len(r["tags"])) for r in both] == [
        (len(ROOT_TAGS), len(ROOT_TAGS)), (1, 1), (1, 1)
    ]

    # False means false, in python-gitlab's spelling too.
    neither = [r.attributes for r in project.repositories.list(tags=False, tags_count=False)]
    assert all("tags" not in r and "tags_count" not in r for r in neither)


def test_group_registry_repositories_include_subgroup_projects(world: World) -> None:
    gl = client(world.server)
    group = gl.groups.get("grp", lazy=True)
    repos = no_warnings(lambda: group.registry_repositories.list(get_all=True))
    got = [r.attributes for r in repos]
    assert [r["path"] for r in got] == [
        "grp/proj", "grp/proj/web", "grp/proj/web/worker", "grp/sub/tool"
    ]
    assert [r["id"] for r in got] == sorted(r["id"] for r in got)
    tool = got[3]
    assert tool["project_id"] == project_id(gl, SUB_PROJECT)
    assert tool["location"] == f"{world.server.host}/grp/sub/tool"
    # E2 ignores tags/tags_count (§1): never in the entity.
    with_tags = [r.attributes for r in group.registry_repositories.list(tags=True,
                                                                           tags_count=True)]
    assert all("tags" not in r and "tags_count" not in r for r in with_tags)
    # The group's repositories carry a usable tags manager (project_id from the JSON).
    assert tag_names(repos[3]) == ["stable"]


def test_registry_repository_get_with_tags(world: World) -> None:
    gl = client(world.server)
    root = repo_of(gl, PROJECT, "")
    pid = project_id(gl, PROJECT)

    got = gl.registry_repositories.get(root.id, tags=True, tags_count=True).attributes
    assert got["id"] == root.id
    assert {k: got[k] for k in ("name", "path", "project_id", "location", "status")} == {
        "name": "", "path": "grp/proj", "project_id": pid,
        "location": f"{world.server.host}/grp/proj", "status": None,
    }
    assert got["tags"] == tag_entries(world, "grp/proj", ROOT_TAGS)
    assert got["tags_count"] == len(ROOT_TAGS)
    # A Maintainer may delete it: E3 shows where.
    assert got["delete_api_path"] == (
        f"{world.server.url}/api/v4/projects/{pid}/registry/repositories/{root.id}"
    )
    assert "size" not in got

    plain = gl.registry_repositories.get(root.id).attributes
    assert "tags" not in plain and "tags_count" not in plain

    sized = gl.registry_repositories.get(root.id, size=True).attributes
    unique_layers = {
        layer["digest"]: layer["size"]
        for image in [world.images[t] for t in ("v1.0.0", "v1.1.0", "nodate")]
        for layer in json.loads(image.manifest)["layers"]
    }
    assert isinstance(sized["size"], int), sized
    assert sized["size"] >= sum(unique_layers.values())

    # A Developer may not delete the repository: no delete_api_path for them.
    as_dev = client(world.server, DEV_API).registry_repositories.get(root.id).attributes
    assert "delete_api_path" not in as_dev

    with pytest.raises(gitlab.GitlabGetError) as missing:
        gl.registry_repositories.get(999_999)
    assert missing.value.response_code == 404
    assert missing.value.error_message == "404 Not found"


# --- 250 repositories, 250 tags ------------------------------------------------------------


def test_get_all_over_250_repositories(world: World) -> None:
    gl = client(world.server)
    project = gl.projects.get("many/repos", lazy=True)
    repos = no_warnings(lambda: project.repositories.list(get_all=True))
    assert [r.name for r in repos] == [f"r{n:03}" for n in range(BULK)]
    assert [r.id for r in repos] == sorted(r.id for r in repos)
    assert len({r.id for r in repos}) == BULK

    hundred = no_warnings(lambda: project.repositories.list(get_all=True, per_page=100))
    assert [r.id for r in hundred] == [r.id for r in repos]

    iterated = no_warnings(lambda: list(project.repositories.list(iterator=True, per_page=30)))
    assert [r.id for r in iterated] == [r.id for r in repos]

    # A plain list() stops at one page, and python-gitlab says so (from X-Per-Page/X-Total).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = project.repositories.list()
    assert [r.id for r in first] == [r.id for r in repos[:20]]
    assert len(caught) == 1 and "returned 20 of 250 items" in str(caught[0].message)

    group = no_warnings(
        lambda: gl.groups.get("many", lazy=True).registry_repositories.list(get_all=True)
    )
    assert len(group) == BULK + 1
    assert {r.path for r in group} == {f"many/repos/r{n:03}" for n in range(BULK)} | {"many/tags"}


def test_get_all_over_250_tags(world: World) -> None:
    gl = client(world.server)
    repo = repo_of(gl, "many/tags", "")
    names = [t.name for t in no_warnings(lambda: repo.tags.list(get_all=True))]
    expected = [f"t{n:03}" for n in range(1, BULK + 1)]
    assert names == expected  # name order, byte-wise

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = repo.tags.list()
    assert [t.name for t in first] == expected[:20]
    assert len(caught) == 1 and "returned 20 of 250 items" in str(caught[0].message)

    # tags=true on E1 is the whole list, not paginated.
    listed = gl.projects.get("many/tags", lazy=True).repositories.list(tags=True,
                                                                        tags_count=True)
    assert [t["name"] for t in listed[0].attributes["tags"]] == expected
    assert listed[0].tags_count == BULK


def test_tags_keyset_pagination_over_250_tags(world: World) -> None:
    """E5 ``pagination=keyset``: python-gitlab follows the Link rel="next" alone."""
    gl = client(world.server)
    repo = repo_of(gl, "many/tags", "")
    expected = [f"t{n:03}" for n in range(1, BULK + 1)]
    ascending = no_warnings(
        lambda: repo.tags.list(get_all=True, pagination="keyset", per_page=100)
    )
    assert [t.name for t in ascending] == expected
    descending = no_warnings(
        lambda: repo.tags.list(get_all=True, pagination="keyset", per_page=100, sort="desc")
    )
    assert [t.name for t in descending] == expected[::-1]

    api = Api(world.server, MAINT.token)
    target = f"/projects/{repo.project_id}/registry/repositories/{repo.id}/tags"
    first = api.get(target, query="pagination=keyset&per_page=100")
    assert [t["name"] for t in first.json] == expected[:100]
    assert first.header("Link") == (
        f"<{world.server.url}/api/v4{target}?last=t100&pagination=keyset&per_page=100"
        '&sort=asc>; rel="next"'
    )
    assert first.header("X-Total") is None and first.header("X-Next-Page") is None
    last = api.get(target, query="pagination=keyset&per_page=100&last=t200")
    assert [t["name"] for t in last.json] == expected[200:]
    assert last.header("Link") is None


def test_offset_paging_headers(world: World) -> None:
    """§5: every X-* header, and Link (prev, next, first, last) built on the external URL with
    every parameter, path ones included, keys sorted."""
    api = Api(world.server, MAINT.token)
    page = api.get("/projects/many%2Frepos/registry/repositories", query="page=2")
    assert page.status == 200
    assert {k: page.header(k) for k in (
        "X-Page", "X-Per-Page", "X-Next-Page", "X-Prev-Page", "X-Total", "X-Total-Pages"
    )} == {
        "X-Page": "2", "X-Per-Page": "20", "X-Next-Page": "3", "X-Prev-Page": "1",
        "X-Total": "250", "X-Total-Pages": "13",
    }
    base = f"{world.server.url}/api/v4/projects/many%2Frepos/registry/repositories?id=many%2Frepos"
    assert page.header("Link") == ", ".join(
        f'<{base}&page={n}&per_page=20>; rel="{rel}"'
        for n, rel in ((1, "prev"), (3, "next"), (1, "first"), (13, "last"))
    )
    assert [r["name"] for r in page.json] == [f"r{n:03}" for n in range(20, 40)]


# --- E5 / E7 ---------------------------------------------------------------------------------


def test_tags_list_and_details(world: World) -> None:
    gl = client(world.server)
    repo = repo_of(gl, PROJECT, "")
    listed = no_warnings(lambda: repo.tags.list())
    assert [
        {k: t.attributes[k] for k in ("name", "path", "location")} for t in listed
    ] == tag_entries(world, "grp/proj", ROOT_TAGS)
    raw = Api(world.server, MAINT.token).get(
        f"/projects/{repo.project_id}/registry/repositories/{repo.id}/tags"
    )
    assert raw.json == tag_entries(world, "grp/proj", ROOT_TAGS)
    detail = Api(world.server, MAINT.token).get(
        f"/projects/{repo.project_id}/registry/repositories/{repo.id}/tags/v1.0.0"
    )
    assert list(detail.json) == [
        "name", "path", "location", "revision", "short_revision", "digest", "created_at",
        "total_size",
    ]

    release = world.images["v1.0.0"]
    tag = repo.tags.get("v1.0.0").attributes
    revision = config_digest(release).removeprefix("sha256:")
    details = {k: tag[k] for k in (
        "name", "path", "location", "revision", "short_revision", "digest", "created_at",
        "total_size",
    )}
    assert details == {
        "name": "v1.0.0",
        "path": "grp/proj:v1.0.0",
        "location": f"{world.server.host}/grp/proj:v1.0.0",
        "revision": revision,
        "short_revision": revision[:9],
        "digest": release.digest,
        # The config's created (not the manifest annotation, not the push time).
        "created_at": "2019-01-06T16:49:51.272+00:00",
        "total_size": layer_sizes(release),
    }
    assert layer_sizes(release) == sum(len(b.data) for b in release.blobs[1:])

    offset = repo.tags.get("v1.1.0").attributes
    assert TAG_CREATED_AT.match(offset["created_at"]), offset["created_at"]
    assert datetime.fromisoformat(offset["created_at"]) == datetime(
        2020, 2, 3, 2, 5, 6, 123000, tzinfo=UTC
    )
    assert offset["total_size"] == layer_sizes(world.images["v1.1.0"])
    assert offset["digest"] == world.images["v1.1.0"].digest

    undated = repo.tags.get("nodate").attributes
    assert undated["created_at"] is None
    assert repo.tags.get("baddate").attributes["created_at"] is None
    assert undated["revision"] == config_digest(world.images["nodate"]).removeprefix("sha256:")

    multi = repo.tags.get("multi").attributes
    assert (multi["revision"], multi["short_revision"]) == ("", "")
    assert multi["digest"] == world.images["multi"].digest
    assert multi["created_at"] == "2021-06-06T06:06:06.600+00:00"
    assert isinstance(multi["total_size"], int)

    with pytest.raises(gitlab.GitlabGetError) as missing:
        repo.tags.get("no-such-tag")
    assert missing.value.response_code == 404
    assert missing.value.error_message == "404 Tag Not Found"


# --- E8 --------------------------------------------------------------------------------------


def test_delete_one_tag(world: World, skopeo: Skopeo, tmp_path: Path) -> None:
    image = dated_image(201, age(days=3))
    other = dated_image(202, age(days=2))
    path = f"{SCRATCH}/one"
    layout = push_tags(skopeo, world.server, tmp_path / "src",
                       path, {"a": image, "b": image, "c": other}, MAINT)
    gl = client(world.server)
    repo = repo_of(gl, SCRATCH, "one")

    repo.tags.delete("a")
    assert tag_names(repo) == ["b", "c"]
    # Only that tag: the manifest it pointed at is still there under "b".
    pulled = tmp_path / "pulled"
    ok(skopeo.pull(f"{world.server.host}/{path}:b", pulled, "b", MAINT))
    assert_same_content(read_layout(pulled), image, "b")

    # A Developer may delete one tag; the object form (tag.delete()) works too.
    as_dev = repo_of(client(world.server, DEV_API), SCRATCH, "one")
    as_dev.tags.get("c").delete()
    assert tag_names(repo) == ["b"]

    with pytest.raises(gitlab.GitlabDeleteError) as missing:
        repo.tags.delete("a")
    assert missing.value.response_code == 404
    assert missing.value.error_message == "404 Tag Not Found"

    raw = Api(world.server, MAINT.token).delete(
        f"/projects/{repo.project_id}/registry/repositories/{repo.id}/tags/b"
    )
    assert (raw.status, raw.json) == (200, 200)
    assert tag_names(repo) == []
    assert layout.exists()


# --- E6 bulk delete --------------------------------------------------------------------------

SHA_A = "3f786850e387550fdab836ed7e6dc881de23001b"  # 10 days old
SHA_B = "89e6c98d92887913cadf06b2adb97f26cde4849b"  # 40 days old
SHA_C = "2b66fd261ee5c6cfc8de7fa466bab600bcfe4f69"  # 1 hour old

# Tag → age of its image's config `created` (None: no date). Pushed in this order, one image
# per tag except v1-alias, which is the same image (and manifest) as v1.0.0.
AGES: dict[str, dict[str, float] | None] = {
    "latest": {"days": 400},
    "v1.0.0": {"days": 300},
    "v1-alias": {"days": 300},
    "v1.1.0": {"days": 200},
    "v1.2.0": {"days": 100},
    "dev-1": {"days": 50},
    SHA_B: {"days": 40},
    "v2.0.0": {"days": 20},
    SHA_A: {"days": 10},
    "v3.0-rc": {"days": 5},
    "v2.1.0": {"days": 2},
    "dev-10": {"hours": 3},
    SHA_C: {"hours": 1},
    "minute": {"minutes": 3},
    "fresh": {"seconds": 2},
    "nodate": None,
}


@dataclass(frozen=True)
class BulkCase:
    params: dict[str, Any]
    deleted: frozenset[str]
    pull: str  # a survivor to pull back afterwards


EVERYTHING_BUT_LATEST = frozenset(AGES) - {"latest"}

BULK_CASES: dict[str, BulkCase] = {
    # Step 4: \Av1\..*\z matches the three v1.x.y; v1-alias has no "." after v1.
    "name_regex_delete": BulkCase(
        {"name_regex_delete": r"v1\..*"}, frozenset({"v1.0.0", "v1.1.0", "v1.2.0"}), "v1-alias"
    ),
    # Step 6: candidates = all but latest; newest first with the undated tag as "now":
    # nodate, fresh (2 s), minute (3 min) are kept; everything older goes.
    "keep_n": BulkCase(
        {"name_regex_delete": ".*", "keep_n": 3},
        EVERYTHING_BUT_LATEST - {"nodate", "fresh", "minute"},
        "fresh",
    ),
    # Step 4: \Av2.*\z keeps v2.0.0 and v2.1.0; latest is dropped before the filter.
    "name_regex_keep": BulkCase(
        {"name_regex_delete": ".*", "name_regex_keep": "v2.*"},
        EVERYTHING_BUT_LATEST - {"v2.0.0", "v2.1.0"},
        "v2.1.0",
    ),
    # Step 7: dated strictly before now - 30 days; nodate is never deleted by older_than.
    "older_than": BulkCase(
        {"name_regex_delete": ".*", "older_than": "30d"},
        frozenset({"v1.0.0", "v1-alias", "v1.1.0", "v1.2.0", "dev-1", SHA_B}),
        "v2.0.0",
    ),
    # 1m is one minute (not a month): of the all-letter names (latest aside), minute (3 min)
    # is older, fresh (seconds) is not, nodate has no date.
    "older_than_1m_is_a_minute": BulkCase(
        {"name_regex_delete": "[a-z]+", "older_than": "1m"}, frozenset({"minute"}), "fresh"
    ),
    # keep_n before older_than: of the three shas keep_n=1 keeps SHA_C (1 h); then both
    # remaining ones (10 d, 40 d) are older than 2 d. (older_than first would keep SHA_A.)
    "keep_n_then_older_than": BulkCase(
        {"name_regex_delete": "[0-9a-f]{40}", "keep_n": 1, "older_than": "2d"},
        frozenset({SHA_A, SHA_B}),
        SHA_C,
    ),
    # Decision 1, GitLab anchoring: \Adev-1|.*-rc\z — "dev-1" is anchored at the start only,
    # so dev-10 goes too; ".*-rc" at the end only.
    "alternation_anchored_like_gitlab": BulkCase(
        {"name_regex_delete": "dev-1|.*-rc"}, frozenset({"dev-1", "dev-10", "v3.0-rc"}), "v2.0.0"
    ),
}


def bulk_images() -> dict[str, Image]:
    images: dict[str, Image] = {}
    for n, (tag, delta) in enumerate(AGES.items()):
        if tag == "v1-alias":
            images[tag] = images["v1.0.0"]
        else:
            images[tag] = dated_image(300 + n, None if delta is None else age(**delta))
    return images


@pytest.mark.parametrize("case", list(BULK_CASES))
def test_delete_in_bulk(world: World, skopeo: Skopeo, tmp_path: Path, case: str) -> None:
    spec = BULK_CASES[case]
    images = bulk_images()
    path = f"{SCRATCH}/bulk/{case.replace('_', '-')}"
    push_tags(skopeo, world.server, tmp_path / "src", path, images, MAINT)
    gl = client(world.server)
    repo = repo_of(gl, SCRATCH, path.removeprefix(f"{SCRATCH}/"))
    assert tag_names(repo) == sorted(AGES)

    repo.tags.delete_in_bulk(**spec.params)

    survivors = sorted(set(AGES) - spec.deleted)
    assert "latest" in survivors
    wait_for(lambda: tag_names(repo), survivors, timeout_s=JOB_TIMEOUT_S)
    pulled = tmp_path / "pulled"
    reference = f"{world.server.host}/{path}:{spec.pull}"
    ok(skopeo.pull(reference, pulled, spec.pull, MAINT))
    assert_same_content(read_layout(pulled), images[spec.pull], spec.pull)
    ok(skopeo.pull(f"{world.server.host}/{path}:latest", tmp_path / "latest", "latest", MAINT))


def test_delete_in_bulk_keep_n_ties_go_to_the_newest_push(
    world: World, skopeo: Skopeo, tmp_path: Path
) -> None:
    """Decision 3: equal dates are ordered newest push first (then by name)."""
    same = dated_image(400, age(days=10))
    path = f"{SCRATCH}/bulk/ties"
    # Pushed x, z, y: neither name order gives {y, z}.
    push_tags(skopeo, world.server, tmp_path / "src", path,
              {"same-x": same, "same-z": same, "same-y": same}, MAINT)
    repo = repo_of(client(world.server), SCRATCH, "bulk/ties")
    repo.tags.delete_in_bulk(name_regex_delete="same-.*", keep_n=2)
    wait_for(lambda: tag_names(repo), ["same-y", "same-z"], timeout_s=JOB_TIMEOUT_S)


def test_delete_in_bulk_refusals(world: World, skopeo: Skopeo, tmp_path: Path) -> None:
    path = f"{SCRATCH}/bulk/refusals"
    push_tags(skopeo, world.server, tmp_path / "src", path,
              {"old": dated_image(500, age(days=9))}, MAINT)
    gl = client(world.server)
    repo = repo_of(gl, SCRATCH, "bulk/refusals")

    def refused(creds: Any, **params: Any) -> tuple[int, str]:
        as_user = repo_of(client(world.server, creds), SCRATCH, "bulk/refusals")
        with pytest.raises(gitlab.GitlabDeleteError) as error:
            as_user.tags.delete_in_bulk(**params)
        return error.value.response_code, str(error.value.error_message)

    assert refused(MAINT, name_regex_delete=".*", keep_n="many") == (400, "keep_n is invalid")
    code, message = refused(MAINT, name_regex_delete="(")
    assert code == 400 and message.startswith("name_regex_delete is an invalid regexp: ")
    code, message = refused(MAINT, name_regex_delete=".*", name_regex_keep="a(?=b)")
    assert code == 400 and message.startswith("name_regex_keep is an invalid regexp: ")
    assert refused(MAINT, name_regex_delete=".*", older_than="fortnight") == (
        400, "older_than is invalid"
    )
    # A Developer may delete one tag but not in bulk.
    assert refused(DEV_API, name_regex_delete=".*") == (403, "403 Forbidden")
    time.sleep(1)
    assert tag_names(repo) == ["old"]


# --- the once-an-hour rule (default settings) -------------------------------------------------


def test_bulk_delete_at_most_once_an_hour_by_default(
    start_server: StartServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    seed = write_seed(tmp_path / "seed.toml", EXTRA_SEED)
    server = start_server(args=["--seed", str(seed)])
    old, new = dated_image(600, age(days=9)), dated_image(601, age(days=1))
    for name in ("limited", "other"):
        push_tags(skopeo, server, tmp_path / name, f"{SCRATCH}/{name}",
                  {"old": old, "new": new}, MAINT)
    gl = client(server)
    limited = repo_of(gl, SCRATCH, "limited")
    other = repo_of(gl, SCRATCH, "other")
    api = Api(server, MAINT.token)
    target = f"/projects/{limited.project_id}/registry/repositories/{limited.id}/tags"

    # Refused requests do not take the hour.
    assert api.delete(target, query={"name_regex_delete": "("}).status == 400
    assert api.delete(target, query={"keep_n": "1"}).status == 400
    as_dev = Api(server, DEV_API.token).delete(target, query={"name_regex_delete": "old"})
    assert as_dev.status == 403

    limited.tags.delete_in_bulk(name_regex_delete="old")
    wait_for(lambda: tag_names(limited), ["new"], timeout_s=JOB_TIMEOUT_S)

    again = api.delete(target, query={"name_regex_delete": "new"})
    assert again.status == 400
    assert again.json == {"message": RATE_LIMIT_MESSAGE}
    with pytest.raises(gitlab.GitlabDeleteError) as error:
        limited.tags.delete_in_bulk(name_regex_delete="new")
    assert (error.value.response_code, error.value.error_message) == (400, RATE_LIMIT_MESSAGE)
    time.sleep(1)
    assert tag_names(limited) == ["new"]

    # Another repository has its own hour.
    other.tags.delete_in_bulk(name_regex_delete="new")
    wait_for(lambda: tag_names(other), ["old"], timeout_s=JOB_TIMEOUT_S)


# --- E4 repository deletion ----------------------------------------------------------------


def test_delete_repository(world: World, skopeo: Skopeo, tmp_path: Path) -> None:
    image = dated_image(700, age(days=1))
    path = f"{SCRATCH}/gone"
    push_tags(skopeo, world.server, tmp_path / "src", path, {"v1": image, "latest": image},
              MAINT)
    gl = client(world.server)
    project = gl.projects.get(SCRATCH, lazy=True)
    repo = repo_of(gl, SCRATCH, "gone")

    # A Developer may not.
    with pytest.raises(gitlab.GitlabDeleteError) as denied:
        client(world.server, DEV_API).projects.get(SCRATCH, lazy=True).repositories.delete(
            repo.id
        )
    assert denied.value.response_code == 403

    project.repositories.delete(repo.id)

    def state() -> str | None:
        try:
            return str(gl.registry_repositories.get(repo.id).status)
        except gitlab.GitlabGetError as exc:
            assert exc.response_code == 404
            return None

    assert state() in {"delete_scheduled", "delete_ongoing", None}
    wait_for(state, None, timeout_s=JOB_TIMEOUT_S)
    assert "gone" not in [r.name for r in project.repositories.list(get_all=True)]
    assert_unknown_to_v2(world.server, path)


def assert_unknown_to_v2(server: RegistryServer, path: str) -> None:
    listed = requests.get(
        f"{server.url}/v2/{path}/tags/list", auth=(MAINT.username, MAINT.token),
        timeout=HTTP_TIMEOUT_S,
    )
    assert listed.status_code == 404, listed.text
    assert listed.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_delete_repository_lifecycle_while_jobs_wait(
    start_server: StartServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    """With jobs going to Redis and no worker, the repository stays ``delete_scheduled`` (and
    readable); once a runner sweeps (serve restarted with in-process jobs) it disappears,
    ``latest`` and all."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        seed = write_seed(tmp_path / "seed.toml", EXTRA_SEED)
        server = start_server(
            args=["--seed", str(seed)], env={"REGISTRY_SERVICE_REDIS_URL": redis.url}
        )
        image = dated_image(800, age(days=1))
        path = f"{SCRATCH}/doomed"
        push_tags(skopeo, server, tmp_path / "src", path, {"v1": image, "latest": image}, MAINT)
        gl = client(server)
        project = gl.projects.get(SCRATCH, lazy=True)
        repo = repo_of(gl, SCRATCH, "doomed")

        project.repositories.delete(repo.id)
        assert gl.registry_repositories.get(repo.id).status == "delete_scheduled"
        listed = repo_of(gl, SCRATCH, "doomed")
        assert listed.status == "delete_scheduled"
        assert tag_names(listed) == ["latest", "v1"]
        # Again while scheduled: still 202, the bare number.
        again = Api(server, MAINT.token).delete(
            f"/projects/{repo.project_id}/registry/repositories/{repo.id}"
        )
        assert (again.status, again.json) == (202, 202)
        assert gl.registry_repositories.get(repo.id).status == "delete_scheduled"

        assert server.stop() == 0
        del server.extra_env["REGISTRY_SERVICE_REDIS_URL"]
        server.start()

        def gone() -> bool:
            try:
                gl.registry_repositories.get(repo.id)
            except gitlab.GitlabGetError as exc:
                return exc.response_code == 404
            return False

        wait_for(gone, True, timeout_s=JOB_TIMEOUT_S)
        assert [r.name for r in project.repositories.list(get_all=True)] == []
        assert_unknown_to_v2(server, path)
    finally:
        redis.stop()
