"""Acting from the web: deleting tags and repositories, the cleanup preview and run, the jobs
page, the cleanup policy — with the API's roles (a Reporter is offered nothing and a forged
post is 403)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient

from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import Repo, add_tags, jobs_of, make_repo, member
from tests.factories import Factory
from tests.web.conftest import Browser, csrf_of


@pytest.fixture
async def repo(factory: Factory, clock: SettableClock) -> Repo:
    project = await factory.project("group/app", visibility="private")
    repo = await make_repo(factory, project, "web")
    await add_tags(factory.catalog, repo, ["v1", "v2", "v3", "latest"], clock)
    return repo


def page_of(repo: Repo) -> str:
    return f"/projects/{repo.project.id}/repositories/{repo.id}"


async def tag_names(factory: Factory, repo: Repo) -> list[str]:
    rows = await factory.catalog.reader.execute_fetchall(
        "SELECT name FROM tags WHERE repository_id = ? ORDER BY name", (repo.id,)
    )
    return [r[0] for r in rows]


async def test_reporter_sees_no_delete_controls_and_forged_deletes_are_403(
    client: TestClient, browser: Browser, factory: Factory, repo: Repo
) -> None:
    reporter = await member(factory, repo.project, AccessLevel.REPORTER, username="rita")
    await browser.sign_in(reporter)
    listing = await browser.get(page_of(repo))
    assert "v1" in listing
    assert 'name="tag"' not in listing
    assert "Delete" not in listing
    assert "/cleanup" not in listing
    token = csrf_of(listing)
    for action, data in (
        ("/tags/delete", {"tag": "v1", "confirmed": "yes"}),
        ("/delete", {"confirmed": "yes"}),
        ("/cleanup/run", {"name_regex_delete": ".*"}),
        ("/cleanup/preview", {"name_regex_delete": ".*"}),
    ):
        response = await client.post(page_of(repo) + action, data={"csrf_token": token, **data})
        assert response.status == 403, action
    assert await tag_names(factory, repo) == ["latest", "v1", "v2", "v3"]
    assert await jobs_of(factory.catalog) == []


async def test_developer_deletes_selected_tags_after_confirming(
    browser: Browser, factory: Factory, repo: Repo
) -> None:
    developer = await member(factory, repo.project, AccessLevel.DEVELOPER, username="dev")
    await browser.sign_in(developer)
    listing = await browser.get(page_of(repo))
    assert 'name="tag" value="v1"' in listing
    confirm = await browser.post_form(
        page_of(repo), page_of(repo) + "/tags/delete", {"tag": ["v1", "v2"]}
    )
    assert "Delete 2 tag(s)" in confirm
    assert await tag_names(factory, repo) == ["latest", "v1", "v2", "v3"]
    done = await browser.post_form(
        page_of(repo), page_of(repo) + "/tags/delete", {"tag": ["v1", "v2"], "confirmed": "yes"}
    )
    assert await tag_names(factory, repo) == ["latest", "v3"]
    assert "Deleted 2 tag(s)" in done
    # Deleting a repository stays Maintainer+.
    assert 'id="delete-repository"' not in done


async def test_cleanup_preview_shows_what_would_go_why_the_rest_stays_and_warnings(
    browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="max")
    await browser.sign_in(maintainer)
    form = await browser.get(page_of(repo) + "/cleanup")
    assert 'value=".*"' in form  # the project's (default) policy
    preview = await browser.post_form(
        page_of(repo) + "/cleanup", page_of(repo) + "/cleanup/preview",
        {"name_regex_delete": "v.*", "keep_n": "1", "name_regex_keep": "nothing-matches"},
    )
    would = re.search(r'<ul id="would-delete">(.*?)</ul>', preview, re.S)
    assert would and re.findall(r"<li>([^<]+)</li>", would.group(1)) == ["v1", "v2"]
    kept = dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", preview))
    assert kept == {"latest": "latest", "v3": "keep_n"}
    assert "regex_matches_nothing" in preview
    assert await tag_names(factory, repo) == ["latest", "v1", "v2", "v3"]
    assert await jobs_of(factory.catalog) == []


async def test_cleanup_preview_fragment_and_form_problems(
    client: TestClient, browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="max")
    await browser.sign_in(maintainer)
    token = csrf_of(await browser.get(page_of(repo) + "/cleanup"))
    fragment = await client.post(
        page_of(repo) + "/cleanup/preview",
        data={"csrf_token": token, "name_regex_delete": "v1"},
        headers={"X-Preview-Fragment": "1"},
    )
    text = await fragment.text()
    assert fragment.status == 200
    assert "<html" not in text and 'id="would-delete"' in text
    bad = await client.post(
        page_of(repo) + "/cleanup/preview",
        data={"csrf_token": token, "name_regex_delete": "(", "older_than": "soon"},
    )
    assert bad.status == 400
    body = await bad.text()
    assert "Not a valid RE2 regular expression" in body
    assert "A duration such as" in body


async def test_cleanup_run_starts_the_job_and_the_job_page_shows_it(
    browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="max")
    await browser.sign_in(maintainer)
    job_page = await browser.post_form(
        page_of(repo) + "/cleanup", page_of(repo) + "/cleanup/run",
        {"name_regex_delete": "v.*", "keep_n": "1"},
    )
    (job,) = await jobs_of(factory.catalog, "cleanup_tags")
    assert job["params"]["name_regex_delete"] == "v.*"
    assert job["params"]["keep_n"] == 1
    assert f"Job {job['id']}: cleanup tags" in job_page
    assert 'data-running="true"' in job_page
    assert '<meta http-equiv="refresh"' in job_page
    listing = await browser.get(f"/projects/{repo.project.id}/jobs")
    assert f"/jobs/{job['id']}" in listing
    # The API's once-an-hour limit holds on the web too.
    again = await browser.post_form(
        page_of(repo) + "/cleanup", page_of(repo) + "/cleanup/run",
        {"name_regex_delete": "v.*"}, status=400,
    )
    assert "at most once an hour" in again


async def test_maintainer_deletes_a_repository_after_confirming(
    browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="max")
    await browser.sign_in(maintainer)
    confirm = await browser.post_form(page_of(repo), page_of(repo) + "/delete", {})
    assert "Delete the repository group/app/web?" in confirm
    assert await jobs_of(factory.catalog) == []
    await browser.post_form(page_of(repo), page_of(repo) + "/delete", {"confirmed": "yes"})
    (job,) = await jobs_of(factory.catalog, "delete_repository")
    assert job["repository_id"] == repo.id


async def test_cleanup_policy_is_edited_with_the_apis_rules(
    browser: Browser, factory: Factory, repo: Repo, clock: SettableClock
) -> None:
    developer = await member(factory, repo.project, AccessLevel.DEVELOPER, username="dev")
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="max")
    await browser.sign_in(developer)
    await browser.get(f"/projects/{repo.project.id}/cleanup-policy", status=403)
    await browser.post_form("/", "/sign-out", {})
    await browser.sign_in(maintainer)
    url = f"/projects/{repo.project.id}/cleanup-policy"
    refused = await browser.post_form(
        url, url, {"enabled": "on", "cadence": "1d", "name_regex": "(", "keep_n": "5"},
        status=400,
    )
    assert "not valid RE2 syntax" in refused
    saved = await browser.post_form(
        url, url, {"enabled": "on", "cadence": "7d", "name_regex": "v.*", "keep_n": "5",
                   "older_than": "14d"},
    )
    assert "<strong>Enabled</strong>: every 7d" in saved
    assert (clock.now() + timedelta(days=7)).strftime("%Y-%m-%d") in saved
