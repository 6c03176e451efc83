"""Protection rules on the web, through the service the API uses: a Maintainer creates, edits
and deletes tag and repository rules (seen on the API afterwards), a Developer gets no link
and a forged post is 403; the service's refusals (immutable rules are not edited nor made by
a Maintainer, five tag rules at most, a pattern RE2 rejects) show on the form with the API's
422; a post without its CSRF token changes nothing; a pattern is text, never markup; the
repository and tag pages badge the tags a rule matches."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from registry_service.services.protection_rules import (
    IMMUTABLE_NEEDS_OWNER,
    IMMUTABLE_NOT_UPDATED,
    REPOSITORY_LEVEL_NEEDED,
    TOO_MANY_RULES,
)
from tests.api.gitlab.conftest import Repo, add_tags, make_repo, member, push
from tests.factories import Factory, UserWithToken
from tests.oci_content import image
from tests.web.conftest import Browser, csrf_of

RULES_API = "/api/v4/projects/{id}/registry/protection/{kind}/rules"
EDIT_ACTION = re.compile(r'action="(/projects/\d+/protection-rules/(?:tag|repository)/\d+/edit)"')
DELETE_ACTION = re.compile(
    r'action="(/projects/\d+/protection-rules/(?:tag|repository)/\d+/delete)"'
)


@pytest.fixture
async def repo(factory: Factory, clock: SettableClock) -> Repo:
    project = await factory.project("team/app", visibility="private")
    repo = await make_repo(factory, project, "web")
    await add_tags(factory.catalog, repo, ["v1.0", "rel-1", "latest"], clock)
    return repo


def rules_page(repo: Repo) -> str:
    return f"/projects/{repo.project.id}/protection-rules"


async def api_rules(client: TestClient, person: UserWithToken, repo: Repo, kind: str) -> Any:
    response = await client.get(
        RULES_API.format(id=repo.project.id, kind=kind), headers={"PRIVATE-TOKEN": person.token}
    )
    assert response.status == 200
    return await response.json()


async def tag_rule_count(factory: Factory) -> int:
    rows = await factory.catalog.reader.execute_fetchall(
        "SELECT count(*) FROM tag_protection_rules"
    )
    return int(rows[0][0])


async def test_maintainer_creates_edits_and_deletes_rules_seen_by_the_api(
    client: TestClient, browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    assert f'href="{rules_page(repo)}"' in await browser.get(f"/projects/{repo.project.id}")
    page = rules_page(repo)
    # A Maintainer is not offered the immutable kind (the service keeps it to Owners).
    assert 'id="kind-immutable"' not in await browser.get(page)

    await browser.post_form(page, f"{page}/tag", {
        "tag_name_pattern": "^v", "kind": "protected",
        "push_level": "maintainer", "delete_level": "owner",
    })
    await browser.post_form(page, f"{page}/repository", {
        "repository_path_pattern": "team/app/*", "push_level": "owner", "delete_level": "",
    })
    (tag_rule,) = await api_rules(client, maintainer, repo, "tag")
    assert tag_rule == {
        "id": tag_rule["id"], "project_id": repo.project.id, "tag_name_pattern": "^v",
        "minimum_access_level_for_push": "maintainer",
        "minimum_access_level_for_delete": "owner", "immutable": False,
    }
    (repository_rule,) = await api_rules(client, maintainer, repo, "repository")
    assert repository_rule["repository_path_pattern"] == "team/app/*"
    assert repository_rule["minimum_access_level_for_push"] == "owner"
    assert repository_rule["minimum_access_level_for_delete"] is None

    listing = await browser.get(page)
    tag_edit, repository_edit = EDIT_ACTION.findall(listing)
    await browser.post_form(page, tag_edit, {"push_level": "owner", "delete_level": "admin"})
    await browser.post_form(
        page, repository_edit, {"push_level": "", "delete_level": "maintainer"}
    )
    (tag_rule,) = await api_rules(client, maintainer, repo, "tag")
    assert tag_rule["minimum_access_level_for_push"] == "owner"
    assert tag_rule["minimum_access_level_for_delete"] == "admin"
    (repository_rule,) = await api_rules(client, maintainer, repo, "repository")
    assert repository_rule["minimum_access_level_for_push"] is None
    assert repository_rule["minimum_access_level_for_delete"] == "maintainer"

    tag_delete, repository_delete = DELETE_ACTION.findall(await browser.get(page))
    # The first post only asks.
    question = await browser.post_form(page, tag_delete, {})
    assert "Delete the tag rule <code>^v</code>?" in question
    assert len(await api_rules(client, maintainer, repo, "tag")) == 1
    await browser.post_form(page, tag_delete, {"confirmed": "yes"})
    await browser.post_form(page, repository_delete, {"confirmed": "yes"})
    assert await api_rules(client, maintainer, repo, "tag") == []
    assert await api_rules(client, maintainer, repo, "repository") == []


async def test_developer_sees_no_link_and_forged_posts_are_403(
    client: TestClient, browser: Browser, factory: Factory, repo: Repo
) -> None:
    developer = await member(factory, repo.project, AccessLevel.DEVELOPER, username="dev")
    await browser.sign_in(developer)
    overview = await browser.get(f"/projects/{repo.project.id}")
    assert "protection-rules" not in overview
    await browser.get(rules_page(repo), status=403)
    token = csrf_of(overview)
    for action, fields in [
        ("/tag", {"tag_name_pattern": "^v", "push_level": "maintainer",
                  "delete_level": "maintainer"}),
        ("/repository", {"repository_path_pattern": "team/app/*", "push_level": "owner"}),
    ]:
        response = await client.post(
            rules_page(repo) + action, data={"csrf_token": token, **fields}
        )
        assert response.status == 403, await response.text()
    assert await tag_rule_count(factory) == 0


async def test_immutable_rules_are_made_by_owners_and_never_edited(
    client: TestClient, browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    page = rules_page(repo)
    refused = await browser.post_form(
        page, f"{page}/tag", {"tag_name_pattern": "^rel", "kind": "immutable"}, status=422
    )
    assert IMMUTABLE_NEEDS_OWNER in refused
    assert await tag_rule_count(factory) == 0

    owner = await member(factory, repo.project, AccessLevel.OWNER, username="olga")
    await browser.sign_in(owner)
    await browser.post_form(page, f"{page}/tag", {
        "tag_name_pattern": "^rel", "kind": "immutable",
        # Sent by the form, ignored for an immutable rule.
        "push_level": "maintainer", "delete_level": "maintainer",
    })
    (rule,) = await api_rules(client, owner, repo, "tag")
    assert rule["immutable"] is True and rule["minimum_access_level_for_push"] is None
    listing = await browser.get(page)
    assert EDIT_ACTION.findall(listing) == []
    assert 'class="badge immutable">immutable<' in listing
    forged = await browser.post_form(
        page, f"{page}/tag/{rule['id']}/edit",
        {"push_level": "owner", "delete_level": "owner"}, status=422,
    )
    assert IMMUTABLE_NOT_UPDATED in forged
    (unchanged,) = await api_rules(client, owner, repo, "tag")
    assert unchanged == rule


async def test_the_sixth_tag_rule_is_refused_with_the_limit_message(
    browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    page = rules_page(repo)
    levels = {"push_level": "maintainer", "delete_level": "maintainer"}
    for n in range(5):
        await browser.post_form(page, f"{page}/tag", {"tag_name_pattern": f"^r{n}", **levels})
    full = await browser.get(page)
    assert 'id="new-tag-rule"' not in full
    assert "(5 of at most 5)" in full
    refused = await browser.post_form(
        page, f"{page}/tag", {"tag_name_pattern": "^r5", **levels}, status=422
    )
    assert f'role="alert" id="rule-problem">{TOO_MANY_RULES}<' in refused
    assert await tag_rule_count(factory) == 5


async def test_a_pattern_re2_rejects_is_shown_with_the_services_message_and_kept(
    browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    page = rules_page(repo)
    refused = await browser.post_form(page, f"{page}/tag", {
        "tag_name_pattern": "v(1", "push_level": "maintainer", "delete_level": "maintainer",
    }, status=422)
    assert "Tag name pattern not valid RE2 syntax: missing )" in refused
    assert 'value="v(1"' in refused
    # A level no form offers is the API's 400, as a bad parameter is there.
    bad_level = await browser.post_form(page, f"{page}/tag", {
        "tag_name_pattern": "^v", "push_level": "developer", "delete_level": "maintainer",
    }, status=400)
    assert "An access level must be one of: maintainer, owner, admin." in bad_level
    assert await tag_rule_count(factory) == 0


async def test_a_post_without_its_csrf_token_changes_nothing(
    client: TestClient, browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    fields = {"tag_name_pattern": "^v", "push_level": "maintainer", "delete_level": "maintainer"}
    for data in (fields, {**fields, "csrf_token": "forged"}):
        response = await client.post(rules_page(repo) + "/tag", data=data)
        assert response.status == 403
        assert "anti-forgery token" in await response.text()
    assert await tag_rule_count(factory) == 0


async def test_a_pattern_with_markup_renders_as_text(
    browser: Browser, factory: Factory, repo: Repo
) -> None:
    owner = await member(factory, repo.project, AccessLevel.OWNER, username="olga")
    await browser.sign_in(owner)
    page = rules_page(repo)
    payload = '<script>alert(1)</script>"'
    await browser.post_form(page, f"{page}/tag", {
        "tag_name_pattern": payload, "push_level": "maintainer", "delete_level": "maintainer",
    })
    await browser.post_form(page, f"{page}/repository", {
        "repository_path_pattern": f"team/app/{payload}", "push_level": "owner",
    })
    for html in (
        await browser.get(page),
        await browser.post_form(page, DELETE_ACTION.findall(await browser.get(page))[0], {}),
    ):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in html


async def test_repository_and_tag_pages_badge_the_tags_a_rule_matches(
    client: TestClient, browser: Browser, factory: Factory, repo: Repo
) -> None:
    # Tag pages read the manifest: these tags are pushed for real (the fixture's are rows).
    await push(client, factory, "team/app/web", image(), "v1.0", "rel-1", "latest")
    owner = await member(factory, repo.project, AccessLevel.OWNER, username="olga")
    await browser.sign_in(owner)
    page = rules_page(repo)
    repository_page = f"/projects/{repo.project.id}/repositories/{repo.id}"
    assert 'class="badge' not in await browser.get(repository_page)
    await browser.post_form(page, f"{page}/tag", {"tag_name_pattern": "^rel", "kind": "immutable"})
    await browser.post_form(page, f"{page}/tag", {
        # Both rules match rel-1: immutable is the badge it shows.
        "tag_name_pattern": "^(v|rel)", "push_level": "owner", "delete_level": "owner",
    })
    listing = await browser.get(repository_page)
    badges = dict(re.findall(
        r'class="tag-name">([^<]+)</a> <span class="badge (\w+)">', listing
    ))
    assert badges == {"rel-1": "immutable", "v1.0": "protected"}
    for tag, badge in [("rel-1", "immutable"), ("v1.0", "protected")]:
        html = await browser.get(f"{repository_page}/tags/{tag}")
        assert f'id="tag-badge">{badge}<' in html
    assert 'id="tag-badge"' not in await browser.get(f"{repository_page}/tags/latest")


async def test_repository_rule_refusals_show_the_services_message_in_their_own_form(
    browser: Browser, factory: Factory, repo: Repo
) -> None:
    maintainer = await member(factory, repo.project, AccessLevel.MAINTAINER, username="maint")
    await browser.sign_in(maintainer)
    page = rules_page(repo)
    elsewhere = await browser.post_form(page, f"{page}/repository", {
        "repository_path_pattern": "other/app/*", "push_level": "owner", "delete_level": "",
    }, status=422)
    assert "Repository path pattern should start with the project&#39;s full path" in elsewhere
    assert 'id="repository-path-pattern" name="repository_path_pattern" type="text" required' \
        ' maxlength="255" autocomplete="off" value="other/app/*"' in elsewhere
    # Only the form that was sent is filled again.
    # Only the form that was sent is filled again: the tag form keeps its default level.
    assert re.search(
        r'<select id="tag-push-level" name="push_level">\s*<option value="maintainer" selected>',
        elsewhere,
    ), elsewhere
    no_level = await browser.post_form(page, f"{page}/repository", {
        "repository_path_pattern": "team/app/*", "push_level": "", "delete_level": "",
    }, status=422)
    assert REPOSITORY_LEVEL_NEEDED in no_level
    assert 'id="repository-rules"' not in await browser.get(page)
