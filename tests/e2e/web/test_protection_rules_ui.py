"""Protection rules in a real headless Chromium against the real server: a project's Owner
makes an immutable tag rule on the rules page, the repository and tag pages badge the tag, and
a real ``skopeo`` push of other content under that tag is then refused (403); axe-core finds no
serious accessibility violation on the rules page.

The Owner, not a Maintainer, makes the rule: immutable rules bind administrators too, so the
service keeps them to Owners (GitLab's rule); a Maintainer's page does not offer the kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.accounts import Credentials
from tests.e2e.oci_layout import build_image, write_layout
from tests.e2e.server import RegistryServer, StartServer
from tests.e2e.skopeo import Skopeo, ok
from tests.e2e.web.chromium import Page

pytestmark = pytest.mark.e2e

OLGA = Credentials("olga", "glpat-e2e-web-olga-token-00001")
MARIA = Credentials("maria", "glpat-e2e-web-maria-token-0002")
PROJECT = "rules/app"
IMAGE = f"{PROJECT}/service"

SEED = f"""
[[users]]
username = "olga"
tokens = [{{ name = "web", value = "{OLGA.token}", scopes = ["api", "write_registry"] }}]

[[users]]
username = "maria"
tokens = [{{ name = "web", value = "{MARIA.token}", scopes = ["api", "write_registry"] }}]

[[groups]]
path = "rules"
visibility = "private"
members = [
    {{ user = "olga", access_level = "owner" }},
    {{ user = "maria", access_level = "maintainer" }},
]

[[projects]]
path = "{PROJECT}"
visibility = "private"
"""


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """``v1``, and ``other``: different content to push over it."""
    return write_layout(tmp_path / "layout", {
        "v1": build_image(11, layers=1, layer_size_bytes=8 * 1024, created="2026-01-01T00:00:00Z"),
        "other": build_image(
            12, layers=1, layer_size_bytes=8 * 1024, created="2026-02-01T00:00:00Z"
        ),
    })


@pytest.fixture
def site(
    start_server: StartServer, skopeo: Skopeo, tmp_path: Path, layout: Path
) -> Iterator[RegistryServer]:
    seed = tmp_path / "seed.toml"
    seed.write_text(SEED)
    server = start_server(args=["--seed", str(seed)])
    for tag in ("v1", "other"):
        ok(skopeo.push(layout, tag, f"{server.host}/{IMAGE}:{tag}", MARIA))
    yield server


@pytest.fixture
def page(chromium: Any, site: RegistryServer, tmp_path: Path) -> Page:
    return Page(chromium, site.url, tmp_path / "screenshots")


def sign_in(page: Page, who: Credentials) -> None:
    page.open("/sign-in")
    page.fill({"username": who.username, "token": who.token})
    page.submit("form[action='/sign-in'] button[type=submit]")
    page.wait_text("header", f"Signed in as {who.username}")


def test_owner_makes_an_immutable_rule_that_badges_the_tag_and_stops_a_repush(
    page: Page, site: RegistryServer, skopeo: Skopeo, layout: Path
) -> None:
    sign_in(page, OLGA)
    page.open("/")
    page.follow(PROJECT)
    page.follow("Protection rules")
    page.fill({"tag-name-pattern": "^v1$"})
    page.click("#kind-immutable")
    page.submit("#create-tag-rule")
    page.wait_for("#tag-rules")
    page.fill({"tag-name-pattern": "^release-"})
    page.submit("#create-tag-rule")
    page.wait_for("#tag-rules")
    rows = page.find_all("#tag-rules tbody tr")
    kinds = {
        r.find_element("css selector", ".rule-pattern").text: r.find_element(
            "css selector", ".badge"
        ).text
        for r in rows
    }
    assert kinds == {"^v1$": "immutable", "^release-": "protected"}
    page.fill({"repository-path-pattern": f"{PROJECT}/*"})
    page.submit("#create-repository-rule")
    page.wait_for("#repository-rules")
    page.screenshot("protection-rules")
    violations = page.axe_violations()
    assert violations == [], [(v["id"], v["help"], len(v["nodes"])) for v in violations]

    page.open("/")
    page.follow(PROJECT)
    page.follow(IMAGE)
    badges = {
        row.find_element("css selector", ".tag-name").text: row.find_element(
            "css selector", ".badge"
        ).text
        for row in page.find_all("table.tags tbody tr")
        if row.find_elements("css selector", ".badge")
    }
    assert badges == {"v1": "immutable"}
    page.follow("v1")
    assert page.find("#tag-badge").text == "immutable"

    # The Maintainer who pushed v1 may not push other content over it now.
    refused = skopeo.push(layout, "other", f"{site.host}/{IMAGE}:v1", MARIA)
    assert refused.returncode != 0
    assert "403" in refused.stderr or "denied" in refused.stderr.lower(), refused.stderr
    assert "immutable" in refused.stderr, refused.stderr
    # Pushing the same content again changes nothing, so it is allowed.
    ok(skopeo.push(layout, "v1", f"{site.host}/{IMAGE}:v1", MARIA))
