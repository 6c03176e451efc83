"""Protection rules end to end (issue 14): python-gitlab manages them, skopeo meets them.

A server of its own (rules would reach other tests' pushes on the shared one), seeded with the
accounts of ``tests.e2e.accounts`` (``dev``, a Developer of ``group/app``). The administrator
manages the rules with python-gitlab: its ``registry_protection_repository_rules`` manager,
and raw ``http_*`` calls for the tag rules, which python-gitlab has no manager for.
"""

from __future__ import annotations

from pathlib import Path

import gitlab
import pytest

from tests.e2e.accounts import DEV, PRIVATE_PROJECT, write_seed
from tests.e2e.oci_layout import build_image, write_layout
from tests.e2e.server import RegistryServer, StartServer
from tests.e2e.skopeo import Skopeo, ok

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_S = 30


@pytest.fixture
def server(start_server: StartServer, tmp_path: Path) -> RegistryServer:
    return start_server(args=["--seed", str(write_seed(tmp_path / "seed.toml"))])


def admin(server: RegistryServer) -> gitlab.Gitlab:
    gl = gitlab.Gitlab(server.url, private_token=server.admin_token, timeout=HTTP_TIMEOUT_S)
    gl.auth()
    return gl


def test_skopeo_push_of_a_protected_tag_as_a_developer_is_refused_with_the_rule(
    server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    gl = admin(server)
    project = gl.projects.get(PRIVATE_PROJECT)
    rule = gl.http_post(
        f"/projects/{project.id}/registry/protection/tag/rules",
        post_data={
            "tag_name_pattern": "^release-",
            "minimum_access_level_for_push": "maintainer",
            "minimum_access_level_for_delete": "maintainer",
        },
    )
    layout = write_layout(tmp_path / "layout", {"release-1": build_image(41)})
    image_path = f"{server.host}/{PRIVATE_PROJECT}/e2e"

    refused = skopeo.push(layout, "release-1", f"{image_path}:release-1", DEV)

    assert refused.returncode != 0
    assert (
        f"tag 'release-1' is protected by tag protection rule {rule['id']} ('^release-'):"
        " pushing it needs the maintainer role or higher"
    ) in refused.stderr
    assert "denied" in refused.stderr.lower()
    # The same image under an unprotected tag is the developer's to push.
    layout_dev = write_layout(tmp_path / "layout-dev", {"dev-1": build_image(41)})
    ok(skopeo.push(layout_dev, "dev-1", f"{image_path}:dev-1", DEV))


def test_python_gitlab_manages_repository_rules_and_skopeo_meets_them(
    server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    gl = admin(server)
    project = gl.projects.get(PRIVATE_PROJECT)
    rules = project.registry_protection_repository_rules
    rule = rules.create(
        {
            "repository_path_pattern": f"{PRIVATE_PROJECT}/locked*",
            "minimum_access_level_for_push": "maintainer",
        }
    )
    assert rule.minimum_access_level_for_delete is None
    assert [r.id for r in rules.list(get_all=True)] == [rule.id]
    rule.minimum_access_level_for_delete = "owner"
    rule.save()
    updated = rules.update(rule.id, {"minimum_access_level_for_push": "owner"})
    assert updated["minimum_access_level_for_push"] == "owner"
    assert updated["minimum_access_level_for_delete"] == "owner"

    layout = write_layout(tmp_path / "layout", {"v1": build_image(42)})
    refused = skopeo.push(layout, "v1", f"{server.host}/{PRIVATE_PROJECT}/locked-app:v1", DEV)
    assert refused.returncode != 0
    assert f"repository protection rule {rule.id}" in refused.stderr

    rules.delete(rule.id)
    assert rules.list(get_all=True) == []
    ok(skopeo.push(layout, "v1", f"{server.host}/{PRIVATE_PROJECT}/locked-app:v1", DEV))

    # Tag rules through raw calls: an immutable rule, never updated.
    tag_rules = f"/projects/{project.id}/registry/protection/tag/rules"
    frozen = gl.http_post(tag_rules, post_data={"tag_name_pattern": "^v", "immutable": True})
    assert frozen["immutable"] is True
    with pytest.raises(gitlab.GitlabHttpError) as refused_update:
        gl.http_patch(f"{tag_rules}/{frozen['id']}", post_data={"tag_name_pattern": "^w"})
    assert refused_update.value.response_code == 422
    assert [r["id"] for r in gl.http_list(tag_rules, get_all=True)] == [frozen["id"]]
    gl.http_delete(f"{tag_rules}/{frozen['id']}")
    assert gl.http_list(tag_rules, get_all=True) == []
