"""Acceptance (issue 5): the requests glab (client-go) sends, byte for byte, and what it reads.

client-go differs from python-gitlab in ways a server can trip over (contract §5, §6):
options of GET *and DELETE* go in the query string (bulk delete included); path segments are
escaped with ``.`` as ``%2E`` — in project paths (``grp%2Fmy%2Eapp``) and tag names
(``v1%2E0``); booleans are ``true``; offset paging is read from X-Next-Page, X-Total,
X-Total-Pages, X-Per-Page, X-Page and X-Prev-Page (not Link), with glab's default
``per_page=30``; and every ``created_at`` is parsed as RFC 3339, so it must be one or null,
never ``""``. Requests go out through http.client exactly as written here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gitlab_support import (
    DOT_PROJECT,
    MAINT,
    Api,
    Response,
    age,
    config_digest,
    dated_image,
    images_entry,
    push_tags,
    wait_for,
    write_seed,
)
from tests.e2e.oci_layout import assert_same_content, read_layout
from tests.e2e.server import RegistryServer
from tests.e2e.skopeo import Skopeo, ok
from tests.oci_content import Image, index

pytestmark = pytest.mark.e2e

JOB_TIMEOUT_S = 30
GLAB = {"User-Agent": "go-gitlab", "Accept": "application/json"}
ENCODED_PROJECT = "grp%2Fmy%2Eapp"  # client-go's escaping of grp/my.app
SEEDED_REPOS = 35  # grp/my.app/r00 … r34, plus the root image pushed below
# Go's time.Parse(time.RFC3339, …): fractional seconds optional, Z or ±hh:mm.
RFC3339 = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)\Z")


def go_parses(value: Any) -> bool:
    """What glab's JSON decoding of a *time.Time accepts: null or an RFC 3339 string."""
    return value is None or (isinstance(value, str) and bool(RFC3339.match(value)))


@dataclass
class Glab:
    server: RegistryServer
    api: Api
    project_id: int
    images: dict[str, Image]


@pytest.fixture(scope="module")
def glab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Glab]:
    workdir = tmp_path_factory.mktemp("glab")
    seeded = "".join(
        images_entry(f"{DOT_PROJECT}/r{n:02}", tags=["v1"], created="@2026-01-01T00:00:00Z")
        for n in range(SEEDED_REPOS)
    )
    seed = write_seed(workdir / "seed.toml", seeded)
    # Default settings (once-an-hour rule on): every bulk delete here is on its own repository.
    server = RegistryServer(workdir, args=["--seed", str(seed)])
    server.start()
    try:
        images = {
            "v1.0": dated_image(1, "2024-03-04T05:06:07.089Z", layers=2),
            "v1-0": dated_image(2, "2024-03-05T00:00:00Z"),
            "undated": dated_image(3, None),
            "multi": index(
                [dated_image(4, "2024-01-01T00:00:00Z"), dated_image(5, "2024-02-01T00:00:00Z")]
            ),
            "latest": dated_image(6, "2024-04-01T00:00:00Z"),
        }
        push_tags(Skopeo(workdir / "skopeo"), server, workdir / "root", DOT_PROJECT, images,
                  MAINT)
        api = Api(server, MAINT.token)
        project = api.get(f"/projects/{ENCODED_PROJECT}", headers=GLAB)
        assert project.status == 200, project.body
        yield Glab(server, api, project.json["id"], images)
    finally:
        server.stop()


def paging(response: Response) -> dict[str, str | None]:
    return {
        name: response.header(name)
        for name in ("X-Page", "X-Per-Page", "X-Next-Page", "X-Prev-Page", "X-Total",
                     "X-Total-Pages")
    }


def root_repo(glab: Glab) -> dict[str, Any]:
    second = glab.api.get(
        f"/projects/{ENCODED_PROJECT}/registry/repositories",
        query="page=2&per_page=30", headers=GLAB,
    )
    (root,) = [r for r in second.json if r["name"] == ""]
    return dict(root)


# --- glab container-registry repository list / view ------------------------------------------


def test_repository_list_pages_by_x_headers(glab: Glab) -> None:
    """``glab container-registry repository list --include-tags -P 30`` (tags_count is on by
    default), page by page as client-go does: from X-Next-Page until it is empty."""
    target = f"/projects/{ENCODED_PROJECT}/registry/repositories"
    first = glab.api.get(target, query="page=1&per_page=30&tags=true&tags_count=true",
                         headers=GLAB)
    assert first.status == 200, first.body
    assert paging(first) == {
        "X-Page": "1", "X-Per-Page": "30", "X-Next-Page": "2", "X-Prev-Page": "",
        "X-Total": str(SEEDED_REPOS + 1), "X-Total-Pages": "2",
    }
    second = glab.api.get(target, query="page=2&per_page=30&tags=true&tags_count=true",
                          headers=GLAB)
    assert paging(second) == {
        "X-Page": "2", "X-Per-Page": "30", "X-Next-Page": "", "X-Prev-Page": "1",
        "X-Total": str(SEEDED_REPOS + 1), "X-Total-Pages": "2",
    }
    repos = first.json + second.json
    assert len(first.json) == 30 and len(second.json) == SEEDED_REPOS + 1 - 30
    assert [r["name"] for r in repos] == [f"r{n:02}" for n in range(SEEDED_REPOS)] + [""]
    for repo in repos:
        assert repo["project_id"] == glab.project_id
        assert go_parses(repo["created_at"]) and repo["created_at"] is not None
        assert go_parses(repo["cleanup_policy_started_at"])
    assert [(r["tags_count"], [t["name"] for t in r["tags"]]) for r in repos[:-1]] == [
        (1, ["v1"])
    ] * SEEDED_REPOS
    root = repos[-1]
    assert root["path"] == "grp/my.app"
    assert root["location"] == f"{glab.server.host}/grp/my.app"
    assert root["tags_count"] == 5
    assert [t["name"] for t in root["tags"]] == ["latest", "multi", "undated", "v1-0", "v1.0"]
    assert root["tags"][4] == {
        "name": "v1.0", "path": "grp/my.app:v1.0",
        "location": f"{glab.server.host}/grp/my.app:v1.0",
    }

    # The numeric id gives the same; so does the path with "." left as is.
    by_id = glab.api.get(f"/projects/{glab.project_id}/registry/repositories",
                         query="page=2&per_page=30&tags=true&tags_count=true", headers=GLAB)
    assert by_id.json == second.json
    plain_dot = glab.api.get("/projects/grp%2Fmy.app/registry/repositories",
                             query="page=2&per_page=30&tags=true&tags_count=true", headers=GLAB)
    assert plain_dot.json == second.json


def test_group_repository_list_pages_by_x_headers(glab: Glab) -> None:
    """``glab container-registry repository list -g grp``."""
    response = glab.api.get("/groups/grp/registry/repositories",
                            query="page=2&per_page=30", headers=GLAB)
    assert response.status == 200
    assert paging(response) == {
        "X-Page": "2", "X-Per-Page": "30", "X-Next-Page": "", "X-Prev-Page": "1",
        "X-Total": str(SEEDED_REPOS + 1), "X-Total-Pages": "2",
    }
    assert all(go_parses(r["created_at"]) for r in response.json)


def test_repository_view(glab: Glab) -> None:
    """``glab container-registry repository view <id>`` → E3 ``?tags_count=true``."""
    root = root_repo(glab)
    counted = glab.api.get(f"/registry/repositories/{root['id']}", query="tags_count=true",
                           headers=GLAB)
    assert counted.status == 200
    assert counted.json["tags_count"] == 5 and "tags" not in counted.json
    assert counted.json["path"] == "grp/my.app"
    assert go_parses(counted.json["created_at"])
    both = glab.api.get(f"/registry/repositories/{root['id']}",
                        query="tags_count=true&tags=true", headers=GLAB)
    assert [t["name"] for t in both.json["tags"]] == [
        "latest", "multi", "undated", "v1-0", "v1.0"
    ]
    assert both.json["tags_count"] == 5


# --- glab container-registry tag list --details / view ----------------------------------------


def test_tag_list_with_details(glab: Glab) -> None:
    """``glab container-registry tag list <repo> --details``: E5 page by page, then E7 per
    tag with the name escaped as client-go escapes it (``.`` → ``%2E``)."""
    root = root_repo(glab)
    tags_target = f"/projects/{ENCODED_PROJECT}/registry/repositories/{root['id']}/tags"
    listed = glab.api.get(tags_target, query="page=1&per_page=30", headers=GLAB)
    assert listed.status == 200
    assert paging(listed) == {
        "X-Page": "1", "X-Per-Page": "30", "X-Next-Page": "", "X-Prev-Page": "",
        "X-Total": "5", "X-Total-Pages": "1",
    }
    names = [t["name"] for t in listed.json]
    assert names == ["latest", "multi", "undated", "v1-0", "v1.0"]

    details = {}
    for name in names:
        escaped = name.replace(".", "%2E")
        response = glab.api.get(f"{tags_target}/{escaped}", headers=GLAB)
        assert response.status == 200, (escaped, response.body)
        details[name] = response.json
        assert response.json["name"] == name
        assert go_parses(response.json["created_at"]), response.json

    v10 = details["v1.0"]
    revision = config_digest(glab.images["v1.0"]).removeprefix("sha256:")
    assert (v10["digest"], v10["revision"], v10["short_revision"]) == (
        glab.images["v1.0"].digest, revision, revision[:9]
    )
    assert v10["created_at"] == "2024-03-04T05:06:07.089+00:00"
    assert v10["path"] == "grp/my.app:v1.0"
    # %2E did not turn into some other tag: v1-0 is a different image.
    assert details["v1-0"]["digest"] == glab.images["v1-0"].digest
    assert details["undated"]["created_at"] is None
    assert details["multi"]["created_at"] == "2024-02-01T00:00:00.000+00:00"
    assert details["multi"]["revision"] == ""
    assert datetime.fromisoformat(details["latest"]["created_at"]).year == 2024

    missing = glab.api.get(f"{tags_target}/v9%2E9", headers=GLAB)
    assert (missing.status, missing.json) == (404, {"message": "404 Tag Not Found"})


# --- glab container-registry tag delete ------------------------------------------------------


def push_repo(
    glab: Glab, skopeo: Skopeo, workdir: Path, name: str, tags: dict[str, Image]
) -> dict[str, Any]:
    push_tags(skopeo, glab.server, workdir, f"{DOT_PROJECT}/{name}", tags, MAINT)
    repos = glab.api.all_pages(f"/projects/{ENCODED_PROJECT}/registry/repositories")
    (repo,) = [r for r in repos if r["name"] == name]
    return dict(repo)


def tag_names(glab: Glab, repo: dict[str, Any]) -> list[str]:
    found = glab.api.all_pages(
        f"/projects/{ENCODED_PROJECT}/registry/repositories/{repo['id']}/tags"
    )
    return sorted(t["name"] for t in found)


def test_delete_one_tag_named_with_an_escaped_dot(
    glab: Glab, skopeo: Skopeo, tmp_path: Path
) -> None:
    """``glab container-registry tag delete <repo> v1.0`` → DELETE …/tags/v1%2E0."""
    image, other = dated_image(10, age(days=1)), dated_image(11, age(days=1))
    repo = push_repo(glab, skopeo, tmp_path / "src", "one",
                     {"v1.0": image, "v1-0": other, "v1x0": other})
    target = f"/projects/{ENCODED_PROJECT}/registry/repositories/{repo['id']}/tags/v1%2E0"
    deleted = glab.api.delete(target, headers=GLAB)
    assert (deleted.status, deleted.json) == (200, 200)
    assert tag_names(glab, repo) == ["v1-0", "v1x0"]
    again = glab.api.delete(target, headers=GLAB)
    assert (again.status, again.json) == (404, {"message": "404 Tag Not Found"})


def test_bulk_delete_options_in_the_query_string(
    glab: Glab, skopeo: Skopeo, tmp_path: Path
) -> None:
    """``glab container-registry tag delete <repo> --name-regex-delete 'v.*' --keep-n 1
    --older-than 1d``: a DELETE with every option in the query string, no body."""
    tags = {
        "latest": dated_image(20, age(days=30)),
        "v1": dated_image(21, age(days=20)),
        "v2": dated_image(22, age(days=10)),
        "v3": dated_image(23, age(days=5)),
        "v4": dated_image(24, age(hours=12)),
        "v5": dated_image(25, age(hours=1)),
        "keepme": dated_image(26, age(days=40)),
        "ver": dated_image(27, age(days=40)),
    }
    repo = push_repo(glab, skopeo, tmp_path / "src", "bulk", tags)
    target = f"/projects/{ENCODED_PROJECT}/registry/repositories/{repo['id']}/tags"

    # glab lets one send only the keep options; GitLab answers 400 (and that takes no hour).
    refused = glab.api.delete(target, query="name_regex_keep=v1&keep_n=1&older_than=1d",
                              headers=GLAB)
    assert refused.status == 400
    assert refused.json == {
        "error": "name_regex, name_regex_delete are missing, at least one parameter must be "
        "provided"
    }

    accepted = glab.api.delete(
        target,
        query="keep_n=1&name_regex_delete=v.%2A&name_regex_keep=v1&older_than=1d",
        headers=GLAB,
    )
    assert (accepted.status, accepted.json) == (202, 202)
    # Candidates: \Av.*\z minus \Av1\z = v2, v3, v4, v5 (ver too: "v" then "er"); keep_n=1
    # keeps v5 (newest); of v2, v3, v4, ver only those dated before now - 1 day go:
    # v2 (10 d), v3 (5 d), ver (40 d); v4 (12 h) stays. latest, keepme, v1 stay.
    wait_for(lambda: tag_names(glab, repo), ["keepme", "latest", "v1", "v4", "v5"],
             timeout_s=JOB_TIMEOUT_S)
    pulled = tmp_path / "pulled"
    ok(skopeo.pull(f"{glab.server.host}/{DOT_PROJECT}/bulk:v4", pulled, "v4", MAINT))
    assert_same_content(read_layout(pulled), tags["v4"], "v4")


def test_older_than_in_words_and_bad_values(glab: Glab, skopeo: Skopeo, tmp_path: Path) -> None:
    """``--older-than`` values from glab's help (``1h``, ``1d``, ``1month``) and a compound
    one; an unparseable one is a 400 (Decision 2) and consumes no hour."""
    tags = {
        "a": dated_image(30, age(days=3, hours=1)),
        "b": dated_image(31, age(days=2)),
        "latest": dated_image(32, age(days=9)),
    }
    repo = push_repo(glab, skopeo, tmp_path / "src", "words", tags)
    target = f"/projects/{ENCODED_PROJECT}/registry/repositories/{repo['id']}/tags"
    bad = glab.api.delete(target, query="name_regex_delete=.%2A&older_than=soon", headers=GLAB)
    assert (bad.status, bad.json) == (400, {"error": "older_than is invalid"})
    # 2 days 12 hours: a (3 d 1 h) is older, b (2 d) is not.
    good = glab.api.delete(target, query="name_regex_delete=.%2A&older_than=2d12h",
                           headers=GLAB)
    assert good.status == 202
    wait_for(lambda: tag_names(glab, repo), ["b", "latest"], timeout_s=JOB_TIMEOUT_S)


def test_repository_delete_with_an_escaped_project_path(
    glab: Glab, skopeo: Skopeo, tmp_path: Path
) -> None:
    """``glab container-registry repository delete <id>`` (project from the git remote)."""
    repo = push_repo(glab, skopeo, tmp_path / "src", "doomed",
                     {"v1": dated_image(40, age(days=1))})
    response = glab.api.delete(
        f"/projects/{ENCODED_PROJECT}/registry/repositories/{repo['id']}", headers=GLAB
    )
    assert (response.status, response.json) == (202, 202)
    wait_for(lambda: glab.api.get(f"/registry/repositories/{repo['id']}").status, 404,
             timeout_s=JOB_TIMEOUT_S)
    gone = glab.api.get(f"/registry/repositories/{repo['id']}", headers=GLAB)
    assert gone.json == {"message": "404 Not found"}
