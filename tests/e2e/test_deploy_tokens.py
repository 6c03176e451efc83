"""Deploy tokens with real clients (issue 14.2): python-gitlab manages them through its
``deploytokens`` managers; skopeo and podman log in with one (``login`` writing their auth
file, no ``--creds``) and pull with ``read_registry``, push with ``write_registry``, and are
refused a push with a read-only token. The token's value never reaches the server's logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest
import requests

from tests.e2e.oci_layout import assert_same_content, build_image, read_layout, write_layout
from tests.e2e.podman import Podman
from tests.e2e.server import RegistryServer, StartServer
from tests.e2e.skopeo import Skopeo, ok

pytestmark = pytest.mark.e2e

MAINTAINER_TOKEN = "glpat-e2e-maintainer-token-01"
SEED = f"""
[[users]]
username = "maint"
tokens = [{{ name = "api", value = "{MAINTAINER_TOKEN}", scopes = ["api"] }}]

[[groups]]
path = "team"
visibility = "private"
members = [{{ user = "maint", access_level = "maintainer" }}]

[[groups]]
path = "team/sub"
visibility = "private"

[[groups]]
path = "other"
visibility = "private"

[[projects]]
path = "team/app"
visibility = "private"

[[projects]]
path = "team/sub/tool"
visibility = "private"

[[projects]]
path = "other/app"
visibility = "private"
"""
HTTP_TIMEOUT_S = 30


@pytest.fixture
def server(start_server: StartServer, tmp_path: Path) -> Iterator[RegistryServer]:
    seed = tmp_path / "seed.toml"
    seed.write_text(SEED)
    yield start_server(args=["--seed", str(seed)])


def maintainer(server: RegistryServer) -> gitlab.Gitlab:
    gl = gitlab.Gitlab(server.url, private_token=MAINTAINER_TOKEN, timeout=HTTP_TIMEOUT_S)
    gl.auth()
    return gl


def test_python_gitlab_drives_project_group_and_instance_deploy_tokens(
    server: RegistryServer,
) -> None:
    gl = maintainer(server)
    project = gl.projects.get("team/app")
    created = project.deploytokens.create(
        {"name": "k8s", "scopes": ["read_registry"], "username": "", "expires_at": ""}
    )
    assert created.username == f"gitlab+deploy-token-{created.id}"
    assert created.token.startswith("gldt-")
    assert created.expires_at is None and created.revoked is False and created.expired is False
    fetched = project.deploytokens.get(created.id)
    assert fetched.name == "k8s" and not hasattr(fetched, "token")
    assert [t.id for t in project.deploytokens.list(get_all=True)] == [created.id]

    group = gl.groups.get("team")
    pusher = group.deploytokens.create(
        {"name": "ci", "scopes": ["read_registry", "write_registry"], "username": "ci-pusher",
         "expires_at": "2030-01-31T00:00:00Z"}
    )
    assert pusher.username == "ci-pusher" and pusher.expires_at == "2030-01-31T00:00:00.000Z"
    assert [t.scopes for t in group.deploytokens.list(get_all=True)] == [
        ["read_registry", "write_registry"]
    ]
    assert group.deploytokens.get(pusher.id).username == "ci-pusher"

    admin = gitlab.Gitlab(server.url, private_token=server.admin_token, timeout=HTTP_TIMEOUT_S)
    everything = admin.deploytokens.list(get_all=True)
    assert [t.id for t in everything] == [created.id, pusher.id]
    with pytest.raises(gitlab.GitlabListError) as refused:
        gl.deploytokens.list(get_all=True)
    assert refused.value.response_code == 403

    project.deploytokens.delete(created.id)
    group.deploytokens.delete(pusher.id)
    assert admin.deploytokens.list(get_all=True, active=True) == []
    with pytest.raises(gitlab.GitlabGetError) as missing:
        project.deploytokens.get(created.id)
    assert missing.value.response_code == 404

    # Never a credential for /api/v4.
    answer = requests.get(
        f"{server.url}/api/v4/projects/team%2Fapp", headers={"PRIVATE-TOKEN": created.token},
        timeout=HTTP_TIMEOUT_S,
    )
    assert answer.status_code == 401


def _tokens(server: RegistryServer, owner: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """(username, value) of a read-only and of a read-write token of ``owner``, a project
    (``team/app``) or a group (``team``)."""
    gl = maintainer(server)
    holder = gl.groups.get(owner) if owner == "team" else gl.projects.get(owner)
    reader = holder.deploytokens.create({"name": "pull", "scopes": ["read_registry"]})
    writer = holder.deploytokens.create(
        {"name": "push", "scopes": ["read_registry", "write_registry"]}
    )
    return (reader.username, reader.token), (writer.username, writer.token)


def test_skopeo_logs_in_with_project_deploy_tokens_to_push_and_pull(
    server: RegistryServer, tmp_path: Path
) -> None:
    (reader, reader_token), (writer, writer_token) = _tokens(server, "team/app")
    image = build_image(1402, layers=2)
    source = write_layout(tmp_path / "source", {"v1": image})
    target = f"docker://{server.host}/team/app/web:v1"

    pushing = Skopeo(tmp_path / "skopeo-push")
    ok(pushing.run(["login", "--tls-verify=false", "-u", writer, "-p", writer_token,
                    server.host]))
    ok(pushing.run(["copy", "--preserve-digests", "--dest-tls-verify=false",
                    f"oci:{source}:v1", target]))

    pulling = Skopeo(tmp_path / "skopeo-pull")
    ok(pulling.run(["login", "--tls-verify=false", "-u", reader, "-p", reader_token,
                    server.host]))
    ok(pulling.run(["copy", "--preserve-digests", "--src-tls-verify=false", target,
                    f"oci:{tmp_path / 'pulled'}:v1"]))
    assert_same_content(read_layout(tmp_path / "pulled"), image, "v1")

    refused = pulling.run(["copy", "--dest-tls-verify=false", f"oci:{source}:v1",
                           f"docker://{server.host}/team/app/web:v2"])
    assert refused.returncode != 0
    assert "denied" in refused.stderr.lower(), refused.stderr
    # A project token reaches its project only: the sibling is as good as missing.
    elsewhere = pushing.run(["copy", "--dest-tls-verify=false", f"oci:{source}:v1",
                             f"docker://{server.host}/other/app:v1"])
    assert elsewhere.returncode != 0
    # Through the token flow: the token /jwt/auth gave grants nothing there, as for a path no
    # project owns, so both are refused alike (403 insufficient_scope).
    nowhere = pushing.run(["copy", "--dest-tls-verify=false", f"oci:{source}:v1",
                           f"docker://{server.host}/nowhere/app:v1"])
    assert "403 (forbidden)" in elsewhere.stderr.lower(), elsewhere.stderr
    assert elsewhere.stderr.split("msg=")[1].replace("other/app", "nowhere/app") == (
        nowhere.stderr.split("msg=")[1]), (elsewhere.stderr, nowhere.stderr)
    for token in (reader_token, writer_token):
        assert token not in server.stderr and token not in server.stdout


def test_podman_logs_in_with_group_deploy_tokens_to_push_and_pull(
    server: RegistryServer, tmp_path: Path
) -> None:
    (reader, reader_token), (writer, writer_token) = _tokens(server, "team")
    image = build_image(1403, layers=2)
    source = write_layout(tmp_path / "source", {"v1": image})
    config_digest = image.blobs[0].digest.removeprefix("sha256:")
    # A project in a subgroup: a group token reaches every project below the group.
    reference = f"{server.host}/team/sub/tool:v1"

    pusher, puller = Podman(tmp_path / "podman-push"), Podman(tmp_path / "podman-pull")
    ok(pusher.run(["login", "--tls-verify=false", "-u", writer, "-p", writer_token,
                   server.host]))
    ok(pusher.run(["pull", "-q", "--signature-policy", str(pusher.policy), f"oci:{source}:v1"]))
    ok(pusher.run(["push", "-q", "--tls-verify=false", "--signature-policy",
                   str(pusher.policy), config_digest, f"docker://{reference}"]))

    ok(puller.run(["login", "--tls-verify=false", "-u", reader, "-p", reader_token,
                   server.host]))
    pulled = ok(puller.run(["pull", "-q", "--tls-verify=false", "--signature-policy",
                            str(puller.policy), f"docker://{reference}"]))
    # The image ID is the config digest, and podman checks every layer against its diff_id.
    assert pulled.strip() == config_digest

    refused = puller.run(["push", "-q", "--tls-verify=false", "--signature-policy",
                          str(puller.policy), config_digest, f"docker://{server.host}/team/app:x"])
    assert refused.returncode != 0
    assert "denied" in refused.stderr.lower(), refused.stderr
    bad = puller.run(["login", "--tls-verify=false", "-u", reader, "-p", "gldt-wrong-value-00000",
                      server.host])
    assert bad.returncode != 0
