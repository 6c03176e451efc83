"""The web interface in a real headless Chromium against the real server: a Maintainer signs
in, browses to a pushed image, copies its pull command, previews a cleanup and runs it, watches
the job finish, deletes a tag, creates and revokes a token and signs out; pages stay inert with
script payloads in names, labels and annotations; a Reporter is offered no delete; anonymous
visitors see public projects only; a Maintainer's deploy token made in the browser lets skopeo
pull until it is revoked there; axe-core finds no serious accessibility violation."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys

from tests.e2e.accounts import Credentials
from tests.e2e.server import RegistryServer, StartServer
from tests.e2e.skopeo import Skopeo, ok
from tests.e2e.web.chromium import Page
from tests.e2e.web.site import (
    IMAGE,
    MARIA,
    PRIVATE_PROJECT,
    PUBLIC_PROJECT,
    RITA,
    XSS,
    XSS_REPOSITORY,
    XSS_TAG,
    plant_unvalidated_names,
    push_images,
    write_seed,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(start_server: StartServer, skopeo: Skopeo, tmp_path: Path) -> Iterator[RegistryServer]:
    server = start_server(
        args=["--seed", str(write_seed(tmp_path / "seed.toml"))],
        # One cleanup per test run is all that is asked for; no hour-long lease in the way.
        env={"REGISTRY_SERVICE_CLEANUP_BULK_DELETE_INTERVAL_SECONDS": "0"},
    )
    push_images(skopeo, server.host, tmp_path)
    yield server


@pytest.fixture
def page(chromium: Any, site: RegistryServer, tmp_path: Path) -> Page:
    return Page(chromium, site.url, tmp_path / "screenshots")


def sign_in(page: Page, who: Credentials) -> None:
    page.open("/sign-in")
    page.fill({"username": who.username, "token": who.token})
    page.submit("form[action='/sign-in'] button[type=submit]")
    page.wait_text("header", f"Signed in as {who.username}")


def assert_accessible(page: Page) -> None:
    violations = page.axe_violations()
    assert violations == [], [(v["id"], v["help"], len(v["nodes"])) for v in violations]


def test_maintainer_browses_cleans_up_deletes_and_manages_tokens(
    page: Page, site: RegistryServer
) -> None:
    page.open("/sign-in")
    page.screenshot("sign-in")
    assert_accessible(page)
    # Keyboard only: tab into the form, type, submit with Enter.
    page.find("#username").send_keys(MARIA.username, Keys.TAB, MARIA.token, Keys.ENTER)
    page.wait_text("header", "Signed in as maria")
    assert MARIA.token not in page.driver.page_source
    assert MARIA.token not in page.driver.current_url

    page.screenshot("projects")
    assert_accessible(page)
    page.follow(PUBLIC_PROJECT)
    page.wait_for("table.list")
    assert "service" in page.text()
    page.screenshot("project")
    assert_accessible(page)

    page.follow(IMAGE)
    page.wait_for("table.tags")
    names = [a.text for a in page.find_all("a.tag-name")]
    assert names == ["evil", "multi", "v1", "v2", "v3"]
    assert "linux/amd64, linux/arm64" in page.text()
    page.screenshot("repository")
    assert_accessible(page)
    # Newest build first.
    page.follow("Built")
    page.wait_for("table.tags")
    assert [a.text for a in page.find_all("a.tag-name")][:1] == ["evil"]
    repository_path = page.path.split("?")[0]

    page.open(f"{repository_path}/tags/v1")
    pull = page.find("#pull-docker").get_attribute("value")
    assert pull == f"docker pull {site.host}/{IMAGE}:v1"
    assert page.find("#pull-podman").get_attribute("value") == f"podman pull {site.host}/{IMAGE}:v1"
    copy = page.find("button[data-copy-target='pull-docker']")
    assert copy.is_displayed()
    copy.click()
    page.wait_text("button[data-copy-target='pull-docker']", "Copied")
    assert "Layers" in page.text() and "Image configuration" in page.text()
    page.screenshot("tag")
    assert_accessible(page)

    # Cleanup: the preview follows the form as it is typed (no button pressed), then run it
    # and watch the job finish.
    page.open(f"{repository_path}/cleanup")
    page.fill({"name_regex_keep": "", "older_than": "", "keep_n": "1", "name_regex_delete": "v.*"})
    # The preview is busy from a keystroke until the plan for the form as it reads is shown
    # (typing "v." already shows the same summary; the plan for "v.*" replaces it after).
    busy = page.driver.execute_script(
        "document.getElementById('keep_n').dispatchEvent(new Event('input', {bubbles: true}));"
        "return document.getElementById('preview').getAttribute('aria-busy');"
    )
    assert busy == "true"
    page.wait_for("#preview:not([aria-busy])")
    page.wait_for("#would-delete")
    page.wait_text("#preview-summary", "2 of 5 tag(s) would be deleted")
    assert page.texts("#would-delete li") == ["v1", "v2"]
    cells = page.rows("#kept tbody tr")
    kept = dict(cells)
    assert kept["v3"] == "keep_n"
    assert kept["multi"] == "not_matched"
    page.submit("#preview-button")
    page.wait_text("#preview-summary", "2 of 5 tag(s) would be deleted")
    page.screenshot("cleanup-preview")
    assert_accessible(page)
    page.submit("#run-button")
    page.wait_for("#job-progress")
    page.wait_text("#job-state", "done", timeout_s=60)
    assert page.texts("#deleted-tags li") == ["v1", "v2"]
    page.screenshot("job")
    assert_accessible(page)

    # Delete a tag from its page, with the confirmation step.
    page.open(f"{repository_path}/tags/v3")
    page.submit("#delete-tag")
    page.wait_for("#confirm-delete")
    assert [li.text for li in page.find_all("#tags-to-delete li")] == ["v3"]
    page.screenshot("confirm-delete")
    page.submit("#confirm-delete")
    page.wait_for("#deleted-notice")
    assert [a.text for a in page.find_all("a.tag-name")] == ["evil", "multi"]

    # A token: created, shown once, revoked.
    page.open("/tokens")
    page.fill({"token-name": "laptop"})
    page.click("#scope-api")
    page.submit("#create-token")
    page.wait_for("#created-token")
    value = page.find("#new-token").get_attribute("value")
    assert value and value.startswith("glpat-")
    page.screenshot("tokens")
    assert_accessible(page)
    page.open("/tokens")
    assert value not in page.driver.page_source
    page.submit("button[aria-label='Revoke token laptop']")
    page.wait_for("#tokens")
    row = [r.text for r in page.find_all("#tokens tbody tr") if r.text.startswith("laptop")]
    assert row and "revoked" in row[0]

    # The project's jobs and its cleanup policy.
    project_path = repository_path.split("/repositories/")[0]
    page.open(f"{project_path}/jobs")
    assert "cleanup tags" in page.text()
    page.screenshot("jobs")
    assert_accessible(page)
    page.open(f"{project_path}/cleanup-policy")
    page.click("#enabled")
    page.fill({"name_regex": "v.*"})
    page.screenshot("cleanup-policy")
    assert_accessible(page)
    page.submit("#save-policy")
    page.wait_for("#policy-heading")
    assert "Enabled: every 1d" in page.text()

    page.submit("form[action='/sign-out'] button")
    page.wait_for("#username")
    page.open("/")
    assert "Browsing anonymously" in page.text()


def test_maintainer_makes_a_deploy_token_skopeo_pulls_with_until_it_is_revoked(
    page: Page, site: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    sign_in(page, MARIA)
    page.open("/")
    page.follow(PRIVATE_PROJECT)
    page.follow("Deploy tokens")
    page.fill({"deploy-token-name": "k8s pull"})
    page.submit("#create-deploy-token")
    page.wait_for("#created-deploy-token")
    username = page.find("#new-deploy-username").get_attribute("value")
    value = page.find("#new-deploy-token").get_attribute("value")
    assert username and value and value.startswith("gldt-")
    assert value not in page.driver.current_url
    page.screenshot("deploy-tokens")
    assert_accessible(page)
    deploy = Credentials(username, value)
    image = f"{site.host}/{PRIVATE_PROJECT}/hidden:v1"
    ok(skopeo.pull(image, tmp_path / "pulled", "v1", deploy))

    page.open(page.path)
    assert value not in page.driver.page_source
    page.submit("button[aria-label='Revoke deploy token k8s pull']")
    page.wait_for("main h1")
    assert "k8s pull" not in page.text()
    refused = skopeo.pull(image, tmp_path / "refused", "v1", deploy)
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower(), refused.stderr


@pytest.mark.parametrize("chromium", [False], ids=["no-javascript"], indirect=True)
def test_cleanup_works_without_javascript(page: Page, site: RegistryServer) -> None:
    sign_in(page, MARIA)
    page.open("/")
    page.follow(PUBLIC_PROJECT)
    page.follow(IMAGE)
    repository_path = page.path.split("?")[0]
    # No script: the copy buttons stay hidden, the field is there to select.
    page.open(f"{repository_path}/tags/v1")
    assert not page.find("button[data-copy-target='pull-docker']").is_displayed()
    page.open(f"{repository_path}/cleanup")
    page.fill({"name_regex_keep": "", "older_than": "", "keep_n": "2", "name_regex_delete": "v.*"})
    page.submit("#preview-button")
    assert [li.text for li in page.find_all("#would-delete li")] == ["v1"]
    page.submit("#run-button")
    # The job page reloads itself (<noscript><meta refresh>) until the job is done.
    page.wait_text("#job-state", "done", timeout_s=60)
    assert page.texts("#deleted-tags li") == ["v1"]


def test_keyboard_reaches_the_content_first(page: Page) -> None:
    page.open("/")
    page.find("body").send_keys(Keys.TAB)
    active = page.driver.switch_to.active_element
    assert active.text == "Skip to content"
    assert active.is_displayed()
    active.send_keys(Keys.ENTER)
    assert page.driver.switch_to.active_element.get_attribute("id") == "main"


def test_pages_fit_a_phone_screen(page: Page, site: RegistryServer) -> None:
    sign_in(page, MARIA)
    page.driver.set_window_size(390, 844)
    page.open("/")
    page.follow(PUBLIC_PROJECT)
    deploy_tokens_path = page.path.split("?")[0] + "/deploy-tokens"
    page.follow(IMAGE)
    repository_path = page.path.split("?")[0]
    pages = ("/", repository_path, f"{repository_path}/tags/multi", "/tokens", deploy_tokens_path)
    for path in pages:
        page.open(path)
        overflow = page.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    page.open(repository_path)
    page.screenshot("phone-repository", width=390)


def test_administrator_sees_storage_gc_and_manages_users(
    page: Page, site: RegistryServer
) -> None:
    assert site.admin_token
    sign_in(page, Credentials("root", site.admin_token))
    page.open("/")
    page.follow("web")
    page.wait_for("main h1")
    assert IMAGE in page.text()
    page.screenshot("group")
    assert_accessible(page)
    page.follow("Admin")
    page.wait_for("#storage-totals")
    rows = [
        [td.text for td in row.find_elements("css selector", "td")]
        for row in page.find_all("#project-usage tbody tr")
    ]
    usage = {cells[0]: cells[2] for cells in rows}
    assert usage[PUBLIC_PROJECT].endswith("KiB")
    page.screenshot("admin")
    assert_accessible(page)
    page.follow("Users")
    page.fill({"new-username": "newbie", "new-name": "New Bie"})
    page.submit("#create-user")
    page.wait_for("#users")
    page.submit("button[aria-label='Block rita']")
    page.wait_for("#users")
    row = [r.text for r in page.find_all("#users tbody tr") if r.text.startswith("rita")]
    assert row and "blocked" in row[0]
    assert "newbie" in page.text()
    page.screenshot("admin-users")
    assert_accessible(page)


def test_payloads_in_names_labels_and_annotations_render_inert(
    page: Page, site: RegistryServer
) -> None:
    plant_unvalidated_names(site.data_dir)
    sign_in(page, MARIA)
    page.open("/")
    page.follow(PUBLIC_PROJECT)
    page.wait_for("table.list")
    assert f"{PUBLIC_PROJECT}/{XSS_REPOSITORY}" in page.text()
    page.follow(IMAGE)
    page.wait_for("table.tags")
    assert XSS_TAG in [a.text for a in page.find_all("a.tag-name")]
    repository_path = page.path.split("?")[0]
    pages = [
        f"{repository_path}/tags/evil",
        f"{repository_path}/tags/{urllib.parse.quote(XSS_TAG, safe='')}",
        repository_path + "?filter=" + urllib.parse.quote(XSS),
    ]
    for path in pages:
        page.open(path)
        page.wait_for("main")
        assert page.driver.execute_script("return window.__pwned") is None, path
        assert not page.has_alert(), path
        assert not page.find_all("main img, main svg, main script"), path
    page.open(f"{repository_path}/tags/evil")
    text = page.text()
    assert XSS in page.find("#annotations").text
    assert XSS in page.find("#labels").text
    assert XSS in text
    page.screenshot("tag-with-payloads")
    # The planted tag shares v1's manifest; its page shows its name as text.
    page.open(f"{repository_path}/tags/{urllib.parse.quote(XSS_TAG, safe='')}")
    assert page.find("#tag-name").text == XSS_TAG
    assert page.driver.execute_script("return window.__pwned") is None


def test_reporter_is_offered_no_delete_and_anonymous_sees_public_projects_only(
    page: Page, site: RegistryServer
) -> None:
    page.open("/")
    assert "Browsing anonymously" in page.text()
    assert PUBLIC_PROJECT in page.text()
    assert PRIVATE_PROJECT not in page.text()
    sign_in(page, RITA)
    page.open("/")
    assert PRIVATE_PROJECT in page.text()
    page.follow(PUBLIC_PROJECT)
    page.follow(IMAGE)
    page.wait_for("table.tags")
    assert not page.find_all("input[name=tag]")
    assert not page.find_all("button.danger")
    page.follow("v1")
    page.wait_for("#pull-docker")
    assert not page.find_all("#delete-tag")
    # A forged delete from the page's own origin, with the session's real CSRF token.
    repository_path = page.path.rsplit("/tags/", 1)[0]
    status = page.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const body = new URLSearchParams({csrf_token: document.querySelector("
        "  'input[name=csrf_token]').value, tag: 'v1', confirmed: 'yes'});"
        "fetch(arguments[0], {method: 'POST', body}).then(r => done(r.status));",
        f"{repository_path}/tags/delete",
    )
    assert status == 403
    page.open(repository_path)
    assert "v1" in [a.text for a in page.find_all("a.tag-name")]
