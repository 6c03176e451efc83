"""Acceptance (issue 5): the seed document's curl examples, run verbatim with the real curl.

The seed document (GitLab's old "Container Registry API" page) shows one curl command per
endpoint. ``data/seed_curl_examples.toml`` carries them, character for character, with what
the document says each does; the test fails (never skips) when that file is missing or holds
no examples. Only the host (``https://gitlab.example.com``), the token and the ids (project 5,
group 2, repository 2) are replaced by this server's, and ``--silent --show-error
--write-out`` is appended to read the status (it changes nothing in the request). The
results must be what the document says — except where the contract (shared/spec/gitlab-api.md)
supersedes it, which the test names say.

The three bulk-delete examples send form bodies on DELETE with the deprecated ``name_regex``;
each runs on its own repository, under the default once-an-hour rule, whose tags were pushed
in an order different from their dates (the doc: "The creation date is the time of the manifest
creation, not the time of tag push").
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gitlab_support import (
    MAINT,
    PROJECT,
    Api,
    age,
    config_digest,
    dated_image,
    layer_sizes,
    push_tags,
    wait_for,
    write_seed,
)
from tests.e2e.server import RegistryServer
from tests.e2e.skopeo import Skopeo
from tests.oci_content import Image

pytestmark = pytest.mark.e2e

CURL = shutil.which("curl")
JOB_TIMEOUT_S = 30

EXAMPLES_FILE = Path(__file__).parent / "data" / "seed_curl_examples.toml"
# The document's examples, by the key the data file gives each, in the document's order.
EXAMPLE_KEYS = [
    "list_project_repositories", "list_group_repositories", "delete_repository", "list_tags",
    "get_tag", "delete_tag", "bulk_delete_sha", "bulk_delete_keep_5",
    "bulk_delete_older_than_month",
]


@dataclass(frozen=True)
class Example:
    key: str
    endpoint: str
    command: str
    outcome: str
    response_fields: list[str]
    bulk: bool


def read_examples(path: Path) -> dict[str, Example]:
    """The examples in the test tree; a failure (not a skip) when there are none."""
    if not path.is_file():
        pytest.fail(f"{path} is missing: the seed document's curl examples belong in the tests")
    entries = tomllib.loads(path.read_text()).get("examples", [])
    if not entries:
        pytest.fail(f"{path} holds no examples")
    return {
        e["key"]: Example(
            key=e["key"],
            endpoint=e["endpoint"],
            command=e["command"],
            outcome=e["outcome"],
            response_fields=e.get("response_fields", []),
            bulk=e.get("bulk", False),
        )
        for e in entries
    }


@functools.cache
def examples() -> dict[str, Example]:
    return read_examples(EXAMPLES_FILE)


def example(key: str) -> Example:
    return examples()[key]


ISO_Z_MS = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


@dataclass
class Curled:
    status: int
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def curl(
    server: RegistryServer, key: str, *, project: int, repository: int = 0, group: int = 0
) -> Curled:
    """Run one example with this server's host, token and ids substituted."""
    if CURL is None:
        pytest.fail("curl is not installed; the examples must run with the real curl")
    text = (
        example(key).command.replace("https://gitlab.example.com", server.url)
        .replace("<your_access_token>", MAINT.token)
        .replace("/projects/5/", f"/projects/{project}/")
        .replace("/repositories/2", f"/repositories/{repository}")
        .replace("/groups/2/", f"/groups/{group}/")
    )
    args = shlex.split(text)
    assert args[0] == "curl"
    done = subprocess.run(
        [CURL, *args[1:], "--silent", "--show-error", "--write-out", "\n%{http_code}"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    body, _, code = done.stdout.rpartition(b"\n")
    return Curled(int(code), body)


# --- fixture ---------------------------------------------------------------------------------

SHA = [f"{n:x}" * 40 for n in range(1, 10)]  # "111…1", "222…2", …: 40 chars of [0-9a-z]


@dataclass
class Catalog:
    server: RegistryServer
    project_id: int
    group_id: int
    repos: dict[str, dict[str, Any]]  # by name
    images: dict[str, dict[str, Image]]  # repository name → tag → image
    other_project_id: int
    releases: dict[str, Any]  # other/app/releases, for the delete-repository example


# Repository name → tag → age of its config `created`, listed (and pushed) newest first so that
# push order and creation order disagree.
BULK_REPOS: dict[str, dict[str, dict[str, float]]] = {
    # Example 1: name_regex=[0-9a-z]{40}, keep_n=5, older_than=2d.
    "sha": {
        SHA[0]: {"hours": 1}, SHA[1]: {"hours": 2}, SHA[2]: {"hours": 3},
        SHA[3]: {"hours": 4}, SHA[4]: {"hours": 5},
        SHA[5]: {"hours": 6},  # 6th newest: past keep_n but younger than 2 days → kept
        SHA[6]: {"days": 3}, SHA[7]: {"days": 4},  # past keep_n and older → deleted
        "a" * 41: {"days": 10},  # 41 characters: the anchored regex does not match
        "ABCDEF0123" * 4: {"days": 10},  # upper case: not [0-9a-z]
        "v1.0.0": {"days": 100},
        "latest": {"days": 100},
    },
    # Example 2: name_regex=.*, keep_n=5.
    "keep5": {
        **{f"t{n}": {"days": n} for n in range(1, 9)},
        "latest": {"days": 100},  # the oldest of all, and kept
    },
    # Example 3: name_regex=.*, older_than=1month (30 days).
    "month": {
        "m10": {"days": 10}, "m29": {"days": 29}, "m31": {"days": 31}, "m60": {"days": 60},
        "latest": {"days": 90},
    },
}
BULK_KEPT = {
    "sha": sorted(set(BULK_REPOS["sha"]) - {SHA[6], SHA[7]}),
    "keep5": sorted(["latest", "t1", "t2", "t3", "t4", "t5"]),
    "month": sorted(["latest", "m10", "m29"]),
}


# The repository the delete-repository example removes lives in a project of its own, so the
# list examples see the same catalog whichever tests run.
OTHER_PROJECT_SEED = """
[[groups]]
path = "other"
visibility = "private"
members = [{ user = "maint", access_level = "maintainer" }]

[[projects]]
path = "other/app"
visibility = "private"
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    workdir = tmp_path_factory.mktemp("seed-curl")
    seed = write_seed(workdir / "seed.toml", OTHER_PROJECT_SEED)
    # Default settings: bulk deletes once an hour per repository, as the document says.
    server = RegistryServer(workdir, args=["--seed", str(seed)])
    server.start()
    try:
        skopeo = Skopeo(workdir / "skopeo")
        release = dated_image(1, "2019-01-06T16:49:51.272Z", layers=2, layer_size_bytes=5000)
        images: dict[str, dict[str, Image]] = {
            "": {"A": dated_image(2, age(days=5)), "latest": release, "v10.0.0": release},
        }
        for name, ages in BULK_REPOS.items():
            images[name] = {
                tag: dated_image(10_000 + 100 * len(images) + n, age(**delta))
                for n, (tag, delta) in enumerate(ages.items())
            }
        for name, tags in images.items():
            path = f"{PROJECT}/{name}" if name else PROJECT
            push_tags(skopeo, server, workdir / (name or "root"), path, tags, MAINT)
        releases = {"0.0.1": dated_image(3, age(days=5))}
        push_tags(skopeo, server, workdir / "releases", "other/app/releases", releases, MAINT)
        api = Api(server, MAINT.token)
        other = api.get("/projects/other%2Fapp").json
        (released,) = api.get(f"/projects/{other['id']}/registry/repositories").json
        project = api.get("/projects/grp%2Fproj").json
        group = api.get("/groups/grp").json
        repos = api.get(f"/projects/{project['id']}/registry/repositories").json
        yield Catalog(
            server, project["id"], group["id"], {r["name"]: r for r in repos}, images,
            other["id"], released,
        )
    finally:
        server.stop()


def tag_names(catalog: Catalog, repository: str) -> list[str]:
    repo = catalog.repos[repository]
    found = Api(catalog.server, MAINT.token).all_pages(
        f"/projects/{catalog.project_id}/registry/repositories/{repo['id']}/tags"
    )
    return sorted(t["name"] for t in found)


# --- the examples ----------------------------------------------------------------------------


def test_curl_is_installed() -> None:
    assert CURL is not None, "curl is needed to run the documented examples verbatim"


def test_the_examples_are_in_the_test_tree() -> None:
    found = examples()
    assert list(found) == EXAMPLE_KEYS
    for key, documented in found.items():
        # The placeholders curl() replaces: a command without them would not reach this server.
        assert documented.command.startswith("curl "), key
        assert '"PRIVATE-TOKEN: <your_access_token>"' in documented.command, key
        assert '"https://gitlab.example.com/api/v4/' in documented.command, key
    assert [k for k, e in found.items() if e.bulk] == [k for k in EXAMPLE_KEYS if "bulk" in k]


def test_missing_or_empty_examples_fail_rather_than_skip(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        read_examples(tmp_path / "seed_curl_examples.toml")
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing here\n")
    with pytest.raises(pytest.fail.Exception, match="holds no examples"):
        read_examples(empty)


def has_documented_fields(key: str, found: dict[str, Any], *, superseded: set[str]) -> bool:
    """Every field of the document's example response is in the answer (bar the superseded)."""
    return set(example(key).response_fields) - superseded <= set(found)


def test_list_project_repositories_example(catalog: Catalog) -> None:
    done = curl(catalog.server, "list_project_repositories", project=catalog.project_id)
    assert done.status == 200
    host = catalog.server.host
    expected_names = ["", "sha", "keep5", "month"]
    got = done.json
    assert [r["name"] for r in got] == expected_names  # id order = push order
    for repo in got:
        assert has_documented_fields("list_project_repositories", repo, superseded=set())
        path = f"grp/proj/{repo['name']}" if repo["name"] else "grp/proj"
        assert {k: repo[k] for k in ("name", "path", "project_id", "location")} == {
            "name": repo["name"], "path": path, "project_id": catalog.project_id,
            "location": f"{host}/{path}",
        }
        assert isinstance(repo["id"], int)
        assert ISO_Z_MS.match(repo["created_at"]), repo["created_at"]


def test_list_group_repositories_example_ignores_tags_as_the_spec_says(
    catalog: Catalog,
) -> None:
    """The seed doc shows ``tags`` on the group list; the contract (§1 E2, from GitLab's
    current code) says tags/tags_count are ignored there and always omitted."""
    done = curl(
        catalog.server, "list_group_repositories", project=catalog.project_id,
        group=catalog.group_id,
    )
    assert done.status == 200
    paths = [r["path"] for r in done.json]
    assert paths == ["grp/proj", "grp/proj/sha", "grp/proj/keep5", "grp/proj/month"]
    assert all("tags" not in r for r in done.json)
    assert all(
        has_documented_fields("list_group_repositories", r, superseded={"tags"})
        for r in done.json
    )


def test_list_tags_example(catalog: Catalog) -> None:
    root = catalog.repos[""]
    done = curl(catalog.server, "list_tags", project=catalog.project_id, repository=root["id"])
    assert done.status == 200
    host = catalog.server.host
    assert done.json == [
        {"name": n, "path": f"grp/proj:{n}", "location": f"{host}/grp/proj:{n}"}
        for n in ["A", "latest", "v10.0.0"]
    ]
    assert all(has_documented_fields("list_tags", t, superseded=set()) for t in done.json)


def test_tag_details_then_delete_tag_examples(catalog: Catalog) -> None:
    root = catalog.repos[""]
    release = catalog.images[""]["v10.0.0"]
    done = curl(catalog.server, "get_tag", project=catalog.project_id, repository=root["id"])
    assert done.status == 200
    revision = config_digest(release).removeprefix("sha256:")
    assert done.json == {
        "name": "v10.0.0",
        "path": "grp/proj:v10.0.0",
        "location": f"{catalog.server.host}/grp/proj:v10.0.0",
        "revision": revision,
        "short_revision": revision[:9],
        "digest": release.digest,
        "created_at": "2019-01-06T16:49:51.272+00:00",
        "total_size": layer_sizes(release),
    }
    assert list(done.json) == example("get_tag").response_fields

    deleted = curl(
        catalog.server, "delete_tag", project=catalog.project_id, repository=root["id"]
    )
    assert deleted.status == 200
    assert tag_names(catalog, "") == ["A", "latest"]  # latest (same manifest) is untouched
    again = curl(catalog.server, "get_tag", project=catalog.project_id, repository=root["id"])
    assert (again.status, again.json) == (404, {"message": "404 Tag Not Found"})


def test_delete_repository_example(catalog: Catalog) -> None:
    releases = catalog.releases
    assert releases["path"] == "other/app/releases"
    done = curl(
        catalog.server, "delete_repository", project=catalog.other_project_id,
        repository=releases["id"],
    )
    assert done.status == 202
    api = Api(catalog.server, MAINT.token)
    wait_for(
        lambda: api.get(f"/registry/repositories/{releases['id']}").status, 404,
        timeout_s=JOB_TIMEOUT_S,
    )
    listed = api.get(f"/projects/{catalog.other_project_id}/registry/repositories")
    assert (listed.status, listed.json) == (200, [])


@pytest.mark.parametrize(
    ("key", "repository"),
    [
        ("bulk_delete_sha", "sha"),
        ("bulk_delete_keep_5", "keep5"),
        ("bulk_delete_older_than_month", "month"),
    ],
    ids=["sha-keep5-older2d", "all-keep5", "all-older-1month"],
)
def test_bulk_delete_examples(catalog: Catalog, key: str, repository: str) -> None:
    repo = catalog.repos[repository]
    assert tag_names(catalog, repository) == sorted(BULK_REPOS[repository])
    done = curl(catalog.server, key, project=catalog.project_id, repository=repo["id"])
    assert done.status == 202, done.body
    wait_for(lambda: tag_names(catalog, repository), BULK_KEPT[repository],
             timeout_s=JOB_TIMEOUT_S)
    assert "latest" in tag_names(catalog, repository)
    # "You can run this at most once an hour for a given container repository."
    again = curl(catalog.server, key, project=catalog.project_id, repository=repo["id"])
    assert again.status == 400
    assert again.json == {
        "message": "This request has already been made. You can run this at most once an "
        "hour for a given container repository"
    }


def test_dates_are_build_dates_not_push_dates(catalog: Catalog) -> None:
    """A tag's date is its image config's ``created`` (90 days ago), not its push (now)."""
    repo = catalog.repos["month"]
    api = Api(catalog.server, MAINT.token)
    tag = api.get(
        f"/projects/{catalog.project_id}/registry/repositories/{repo['id']}/tags/latest"
    ).json
    created = datetime.fromisoformat(tag["created_at"])
    assert 89 < (datetime.now(UTC) - created).total_seconds() / 86400 < 91
