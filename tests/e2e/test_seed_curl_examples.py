"""Acceptance (issue 5): the seed document's curl examples, run verbatim with the real curl.

``shared/seed/container_registry_api.md`` (GitLab's old "Container Registry API" page) shows
one curl command per endpoint. Each is copied here character for character; only the host
(``https://gitlab.example.com``), the token and the ids (project 5, group 2, repository 2) are
replaced by this server's, and ``--silent --show-error --write-out`` is appended to read the
status (it changes nothing in the request). The results must be what the text documents —
except where the contract (shared/spec/gitlab-api.md) supersedes it, which the test names say.

The three bulk-delete examples send form bodies on DELETE with the deprecated ``name_regex``;
each runs on its own repository, under the default once-an-hour rule, whose tags were pushed
in an order different from their dates (the doc: "The creation date is the time of the manifest
creation, not the time of tag push").
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
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

# Verbatim from the seed document, in its order.
LIST_PROJECT = (
    'curl --header "PRIVATE-TOKEN: <your_access_token>" '
    '"https://gitlab.example.com/api/v4/projects/5/registry/repositories"'
)
LIST_GROUP = (
    'curl --header "PRIVATE-TOKEN: <your_access_token>" '
    '"https://gitlab.example.com/api/v4/groups/2/registry/repositories?tags=1"'
)
DELETE_REPOSITORY = (
    'curl --request DELETE --header "PRIVATE-TOKEN: <your_access_token>" '
    '"https://gitlab.example.com/api/v4/projects/5/registry/repositories/2"'
)
LIST_TAGS = (
    'curl --header "PRIVATE-TOKEN: <your_access_token>" '
    '"https://gitlab.example.com/api/v4/projects/5/registry/repositories/2/tags"'
)
GET_TAG = (
    'curl --header "PRIVATE-TOKEN: <your_access_token>" '
    '"https://gitlab.example.com/api/v4/projects/5/registry/repositories/2/tags/v10.0.0"'
)
DELETE_TAG = (
    'curl --request DELETE --header "PRIVATE-TOKEN: <your_access_token>" '
    '"https://gitlab.example.com/api/v4/projects/5/registry/repositories/2/tags/v10.0.0"'
)
BULK_SHA = (
    "curl --request DELETE --data 'name_regex=[0-9a-z]{40}' --data 'keep_n=5' "
    "--data 'older_than=2d' --header \"PRIVATE-TOKEN: <your_access_token>\" "
    '"https://gitlab.example.com/api/v4/projects/5/registry/repositories/2/tags"'
)
BULK_KEEP_5 = (
    "curl --request DELETE --data 'name_regex=.*' --data 'keep_n=5' "
    '--header "PRIVATE-TOKEN: <your_access_token>" '
    '"https://gitlab.example.com/api/v4/projects/5/registry/repositories/2/tags"'
)
BULK_MONTH = (
    "curl --request DELETE --data 'name_regex=.*' --data 'older_than=1month' "
    '--header "PRIVATE-TOKEN: <your_access_token>" '
    '"https://gitlab.example.com/api/v4/projects/5/registry/repositories/2/tags"'
)

ISO_Z_MS = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


@dataclass
class Curled:
    status: int
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def curl(
    server: RegistryServer, example: str, *, project: int, repository: int = 0, group: int = 0
) -> Curled:
    """Run one example with this server's host, token and ids substituted."""
    if CURL is None:
        pytest.fail("curl is not installed; the examples must run with the real curl")
    text = (
        example.replace("https://gitlab.example.com", server.url)
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


def test_list_project_repositories_example(catalog: Catalog) -> None:
    done = curl(catalog.server, LIST_PROJECT, project=catalog.project_id)
    assert done.status == 200
    host = catalog.server.host
    expected_names = ["", "sha", "keep5", "month"]
    got = done.json
    assert [r["name"] for r in got] == expected_names  # id order = push order
    for repo in got:
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
    done = curl(catalog.server, LIST_GROUP, project=catalog.project_id, group=catalog.group_id)
    assert done.status == 200
    paths = [r["path"] for r in done.json]
    assert paths == ["grp/proj", "grp/proj/sha", "grp/proj/keep5", "grp/proj/month"]
    assert all("tags" not in r for r in done.json)


def test_list_tags_example(catalog: Catalog) -> None:
    root = catalog.repos[""]
    done = curl(catalog.server, LIST_TAGS, project=catalog.project_id, repository=root["id"])
    assert done.status == 200
    host = catalog.server.host
    assert done.json == [
        {"name": n, "path": f"grp/proj:{n}", "location": f"{host}/grp/proj:{n}"}
        for n in ["A", "latest", "v10.0.0"]
    ]


def test_tag_details_then_delete_tag_examples(catalog: Catalog) -> None:
    root = catalog.repos[""]
    release = catalog.images[""]["v10.0.0"]
    done = curl(catalog.server, GET_TAG, project=catalog.project_id, repository=root["id"])
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

    deleted = curl(catalog.server, DELETE_TAG, project=catalog.project_id, repository=root["id"])
    assert deleted.status == 200
    assert tag_names(catalog, "") == ["A", "latest"]  # latest (same manifest) is untouched
    again = curl(catalog.server, GET_TAG, project=catalog.project_id, repository=root["id"])
    assert (again.status, again.json) == (404, {"message": "404 Tag Not Found"})


def test_delete_repository_example(catalog: Catalog) -> None:
    releases = catalog.releases
    assert releases["path"] == "other/app/releases"
    done = curl(
        catalog.server, DELETE_REPOSITORY, project=catalog.other_project_id,
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
    ("example", "repository"),
    [(BULK_SHA, "sha"), (BULK_KEEP_5, "keep5"), (BULK_MONTH, "month")],
    ids=["sha-keep5-older2d", "all-keep5", "all-older-1month"],
)
def test_bulk_delete_examples(catalog: Catalog, example: str, repository: str) -> None:
    repo = catalog.repos[repository]
    assert tag_names(catalog, repository) == sorted(BULK_REPOS[repository])
    done = curl(catalog.server, example, project=catalog.project_id, repository=repo["id"])
    assert done.status == 202, done.body
    wait_for(lambda: tag_names(catalog, repository), BULK_KEPT[repository],
             timeout_s=JOB_TIMEOUT_S)
    assert "latest" in tag_names(catalog, repository)
    # "You can run this at most once an hour for a given container repository."
    again = curl(catalog.server, example, project=catalog.project_id, repository=repo["id"])
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


def test_curl_examples_are_the_documents() -> None:
    """Guard against editing the copies: the commands are the document's (if it is here)."""
    document = Path("/work/shared/seed/container_registry_api.md")
    if not document.exists():
        pytest.skip("the seed document is not on this machine")
    text = document.read_text()
    for example in (
        LIST_PROJECT, LIST_GROUP, DELETE_REPOSITORY, LIST_TAGS, GET_TAG, DELETE_TAG,
        BULK_SHA, BULK_KEEP_5, BULK_MONTH,
    ):
        assert example in text, example
