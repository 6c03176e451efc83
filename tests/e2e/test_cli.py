"""The ``registry-service`` command as an operator meets it: subprocesses, exit codes, output.

Bad configuration stops start-up with exit code 2 before anything is bound or created; the first
start prints a generated administrator token once; ``admin`` changes what a running server
sees; ``seed`` is idempotent and all-or-nothing; ``gc`` reports what it frees.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.server import (
    REPO_ROOT,
    StartServer,
    free_port,
    port_is_free,
    read_catalog,
    run_cli,
)

pytestmark = pytest.mark.e2e

EXAMPLE_SEED = REPO_ROOT / "config" / "seed.example.toml"
TOKEN_PATTERN = re.compile(r"glpat-[A-Za-z0-9_-]{20,}")
HTTP_TIMEOUT_S = 30


def data_env(data_dir: Path) -> dict[str, str]:
    return {"REGISTRY_SERVICE_DATA_DIR": str(data_dir)}


def counts(rows: dict[str, list[tuple[object, ...]]]) -> dict[str, int]:
    return {table: len(found) for table, found in rows.items()}


def api_get(url: str, token: str, path: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{url}/api/v4{path}",
        headers={"PRIVATE-TOKEN": token},
        params=params,
        timeout=HTTP_TIMEOUT_S,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must have succeeded."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


# --- configuration errors -------------------------------------------------------------------

BAD_CONFIGURATIONS = [
    pytest.param(
        {"REGISTRY_SERVICE_CLEANUP_BULK_DELETE_INTERVAL_SECONDS": "abc"},
        None,
        [],
        "cleanup.bulk_delete_interval_seconds",
        id="env-not-a-number",
    ),
    pytest.param(
        {"REGISTRY_SERVICE_LISTEN": "nonsense"}, None, [], "server.listen", id="env-listen"
    ),
    pytest.param({}, None, ["--listen", "nonsense"], "server.listen", id="flag-listen"),
    pytest.param(
        {"REGISTRY_SERVICE_SERVER_ACCESS_LOG": "maybe"},
        None,
        [],
        "server.access_log",
        id="env-not-a-bool",
    ),
    pytest.param(
        {"REGISTRY_SERVICE_ADMIN_TOKEN": "short"}, None, [], "auth.admin_token", id="short-token"
    ),
    pytest.param({"REGISTRY_SERVICE_FOO": "1"}, None, [], "REGISTRY_SERVICE_FOO", id="env-unknown"),
    pytest.param({}, '[server]\ncolour = "blue"\n', [], "server.colour", id="file-unknown-key"),
    pytest.param({}, "[frontend]\nx = 1\n", [], "[frontend]", id="file-unknown-section"),
    pytest.param(
        {}, "[server]\nshutdown_timeout_s = -1\n", [], "server.shutdown_timeout_s", id="negative"
    ),
]


@pytest.mark.parametrize(("env", "config", "flags", "named"), BAD_CONFIGURATIONS)
def test_bad_configuration_exits_2_naming_the_key_before_binding(
    tmp_path: Path, env: dict[str, str], config: str | None, flags: list[str], named: str
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    args: list[str] = []
    if config is not None:
        (tmp_path / "registry.toml").write_text(config)
        args = ["--config", str(tmp_path / "registry.toml")]
    settings = {
        "REGISTRY_SERVICE_DATA_DIR": str(data_dir),
        "REGISTRY_SERVICE_LISTEN": f"127.0.0.1:{port}",
        **env,
    }

    result = run_cli([*args, "serve", *flags], settings)

    assert result.returncode == 2, result.stderr
    assert "configuration error" in result.stderr
    assert named in result.stderr
    assert result.stdout == ""
    assert port_is_free(port)
    assert not data_dir.exists(), "nothing may be created before the configuration is valid"


# --- start-up failures ----------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["tmp-is-a-file", "port-in-use"])
def test_a_failed_start_exits_1_having_closed_what_it_opened(
    tmp_path: Path, failure: str
) -> None:
    """The catalog, the store and the job runner are open when the app starts up (and then
    binds); a failure there must close them, not leave them to the garbage collector."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    with socket.socket() as taken:
        if failure == "tmp-is-a-file":
            (data_dir / "tmp").write_text("a file where the temp directory belongs")
            expected = "Not a directory"
        else:
            taken.bind(("127.0.0.1", port))
            taken.listen()
            expected = "address already in use"
        result = run_cli(
            ["serve"],
            {
                **data_env(data_dir),
                "REGISTRY_SERVICE_LISTEN": f"127.0.0.1:{port}",
                "REGISTRY_SERVICE_ADMIN_TOKEN": "glpat-failed-start-token-0001",
                "PYTHONWARNINGS": "always::ResourceWarning",
            },
        )

    assert result.returncode == 1, result.stderr
    assert expected in result.stderr
    assert "ResourceWarning" not in result.stderr
    assert "Traceback" not in result.stderr


# --- first start ----------------------------------------------------------------------------


def test_first_start_prints_a_generated_admin_token_once(start_server: StartServer) -> None:
    server = start_server(admin_token=None)
    printed = TOKEN_PATTERN.findall(server.stdout)
    assert len(printed) == 1, server.stdout
    token = printed[0]
    me = api_get(server.url, token, "/user")
    assert me.status_code == 200, me.text
    assert (me.json()["username"], me.json()["is_admin"]) == ("root", True)

    assert server.stop() == 0
    server.start()
    assert TOKEN_PATTERN.findall(server.stdout) == []
    assert api_get(server.url, token, "/user").status_code == 200


# --- admin ----------------------------------------------------------------------------------


def test_admin_commands_change_what_a_running_server_serves(start_server: StartServer) -> None:
    server = start_server()
    assert server.admin_token is not None

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(["admin", *args], data_env(server.data_dir))

    created = admin("users", "create", "alice", "--name", "Alice", "--email", "a@example.com")
    assert "created user alice" in ok(created)
    again = admin("users", "create", "alice")
    assert again.returncode == 1 and "already exists" in again.stderr
    users = json.loads(ok(admin("users", "list", "--json")))
    assert [u["username"] for u in users] == ["root", "alice"]
    assert "alice" in ok(admin("users", "list"))

    token = ok(admin("tokens", "create", "alice", "--name", "laptop")).strip()
    assert TOKEN_PATTERN.fullmatch(token), token
    listed = json.loads(ok(admin("tokens", "list", "alice", "--json")))
    assert [(t["name"], t["revoked"]) for t in listed] == [("laptop", False)]
    assert token not in ok(admin("tokens", "list"))
    assert api_get(server.url, token, "/user").json()["username"] == "alice"

    assert "created group acme" in ok(admin("groups", "create", "acme"))
    assert "created group acme/platform" in ok(admin("groups", "create", "acme/platform"))
    assert "created project acme/platform/web" in ok(
        admin("projects", "create", "acme/platform/web", "--name", "Web")
    )
    groups = json.loads(ok(admin("groups", "list", "--json")))
    assert [g["full_path"] for g in groups] == ["acme", "acme/platform"]
    projects = json.loads(ok(admin("projects", "list", "--json")))
    assert [p["full_path"] for p in projects] == ["acme/platform/web"]

    # Private, and alice is not a member yet.
    assert api_get(server.url, token, "/projects/acme%2Fplatform%2Fweb").status_code == 404
    ok(admin("members", "add", "alice", "--project", "acme/platform/web", "--access-level", "30"))
    seen = api_get(server.url, token, "/projects/acme%2Fplatform%2Fweb")
    assert seen.status_code == 200, seen.text
    mine = api_get(server.url, token, "/projects", membership="true").json()
    assert [p["path_with_namespace"] for p in mine] == ["acme/platform/web"]

    ok(admin("members", "add", "alice", "--group", "acme", "--access-level", "reporter"))
    assert api_get(server.url, token, "/groups/acme%2Fplatform").status_code == 200
    missing = admin("members", "add", "alice", "--group", "nope", "--access-level", "guest")
    assert missing.returncode == 1 and "no group 'nope'" in missing.stderr

    assert "revoked" in ok(admin("tokens", "revoke", str(listed[0]["id"])))
    revoked = api_get(server.url, token, "/user")
    assert revoked.status_code == 401, revoked.text
    assert json.loads(ok(admin("tokens", "list", "alice", "--json")))[0]["revoked"] is True
    assert api_get(server.url, server.admin_token, "/user").status_code == 200


# --- seed -----------------------------------------------------------------------------------


def test_seed_twice_creates_once_and_changes_nothing_the_second_time(tmp_path: Path) -> None:
    env = data_env(tmp_path / "data")
    first = ok(run_cli(["seed", str(EXAMPLE_SEED)], env))
    assert "created 2 users, 4 tokens, 2 groups, 2 projects, 3 members" in first
    before = read_catalog(tmp_path / "data")
    # Each user also gets a personal namespace that they own: 2 namespaces, 2 members more.
    assert counts(before) == {
        "users": 2, "personal_access_tokens": 3, "namespaces": 4, "projects": 2, "members": 5,
    }

    second = ok(run_cli(["seed", str(EXAMPLE_SEED)], env))
    assert "created 0 users, 0 tokens, 0 groups, 0 projects, 0 members" in second
    assert read_catalog(tmp_path / "data") == before


# Valid up to the last entry: a user with a token, a group, a project, then one bad thing.
VALID_START = """
[[users]]
username = "carol"
tokens = [{ name = "ci", value = "glpat-carol-token-0000001" }]

[[groups]]
path = "zeta"

[[projects]]
path = "zeta/app"
"""


@pytest.mark.parametrize(
    ("last_entry", "named"),
    [
        (
            'members = [{ user = "nobody", access_level = "developer" }]',
            "unknown user 'nobody'",
        ),
        ('\n[[projects]]\npath = "nowhere/app"', "namespace 'nowhere' is missing"),
        ('\n[[groups]]\npath = "zeta/inner"\nvisibility = "public"', "zeta/inner"),
    ],
    ids=["unknown-member", "missing-namespace", "wider-than-parent"],
)
def test_a_bad_seed_entry_exits_2_and_changes_nothing(
    tmp_path: Path, last_entry: str, named: str
) -> None:
    env = data_env(tmp_path / "data")
    ok(run_cli(["seed", str(EXAMPLE_SEED)], env))
    before = read_catalog(tmp_path / "data")
    bad = tmp_path / "bad.toml"
    bad.write_text(VALID_START + last_entry + "\n")

    result = run_cli(["seed", str(bad)], env)

    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert read_catalog(tmp_path / "data") == before


def test_serve_with_a_bad_seed_exits_2_without_binding(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[groups]]\npath = "acme"\nmembers = [{ user = "nobody", access_level = 30 }]')
    port = free_port()

    result = run_cli(
        ["serve", "--seed", str(bad)],
        {**data_env(tmp_path / "data"), "REGISTRY_SERVICE_LISTEN": f"127.0.0.1:{port}"},
    )

    assert result.returncode == 2, result.stderr
    assert "unknown user 'nobody'" in result.stderr
    assert port_is_free(port)
    # The administrator is created (and its token printed) before the seed is read; the seed
    # itself left nothing behind.
    assert TOKEN_PATTERN.search(result.stdout)
    db = sqlite3.connect(tmp_path / "data" / "registry.sqlite3")
    try:
        assert db.execute("SELECT full_path FROM namespaces").fetchall() == [("root",)]
    finally:
        db.close()


def test_serve_with_seed_serves_the_fixture(start_server: StartServer) -> None:
    server = start_server(args=["--seed", str(EXAMPLE_SEED)])
    alice = api_get(server.url, "glpat-alice-fixture-token-0001", "/user")
    assert alice.status_code == 200 and alice.json()["username"] == "alice"
    bob = "glpat-bob-fixture-token-000001"
    bob_sees = api_get(server.url, bob, "/projects/acme%2Fplatform%2Fweb")
    assert bob_sees.status_code == 200, bob_sees.text
    # The pull token only has read_registry: not enough for the API.
    assert api_get(server.url, "glpat-alice-pull-token-00001", "/user").status_code == 403
    before = read_catalog(server.data_dir)

    assert server.stop() == 0
    server.start()  # the same --seed again: nothing new
    assert read_catalog(server.data_dir) == before
    assert "created 0 users, 0 tokens, 0 groups, 0 projects, 0 members" in server.stderr


# --- the rest -------------------------------------------------------------------------------


def test_worker_without_redis_says_what_to_set(tmp_path: Path) -> None:
    result = run_cli(["worker"], data_env(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 2
    assert "jobs.redis_url" in result.stderr


def test_gc_dry_run_counts_then_gc_deletes_the_same_and_records_a_job(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ok(run_cli(["seed", str(EXAMPLE_SEED)], data_env(data), cwd=tmp_path))
    with sqlite3.connect(data / "registry.sqlite3") as db:
        db.execute("DELETE FROM tags")
        manifests = db.execute("SELECT COUNT(*) FROM manifests").fetchone()[0]
        blobs, blob_bytes = db.execute("SELECT COUNT(*), SUM(size_bytes) FROM blobs").fetchone()
    assert manifests > 0 and blobs > 0
    # A file no row owns, as a crash between rename and row would leave.
    orphan = b"left behind"
    digest = hashlib.sha256(orphan).hexdigest()
    path = data / "blobs" / "sha256" / digest[:2] / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orphan)
    now_env = {
        **data_env(data),
        "REGISTRY_SERVICE_GC_MANIFEST_GRACE_SECONDS": "0",
        "REGISTRY_SERVICE_GC_BLOB_GRACE_SECONDS": "0",
    }
    preview = json.loads(ok(run_cli(["gc", "--dry-run", "--json"], now_env, cwd=tmp_path)))
    assert preview["dry_run"] is True and preview["job_id"] is None
    assert (preview["orphan_files"], preview["orphan_bytes"]) == (1, len(orphan))
    assert 0 < preview["manifests"] <= manifests
    assert path.exists()
    assert _stored(data) == {"manifests": manifests, "blobs": blobs}

    text = ok(run_cli(["gc"], now_env, cwd=tmp_path))
    first = {k: v for k, v in preview.items() if k not in {"dry_run", "job_id"}}
    assert f"deleted {first['manifests']} manifest(s), {first['blobs']} blob(s)" in text
    assert f"freed {_mib(first['bytes_freed'])} ({first['bytes_freed']} bytes)" in text
    assert not path.exists()
    with sqlite3.connect(data / "registry.sqlite3") as db:
        jobs = db.execute("SELECT kind, state, counts FROM jobs").fetchall()
    assert [(kind, state) for kind, state, _ in jobs] == [("collect_garbage", "done")]
    assert json.loads(jobs[0][2]) == first

    # Index children were kept by their index until it went: they are unreferenced from that
    # moment, so it is the next run that takes them (and the blobs only they used).
    second = json.loads(ok(run_cli(["gc", "--json"], now_env, cwd=tmp_path)))
    assert second["job_id"] == 2
    assert first["manifests"] + second["manifests"] == manifests
    assert first["blobs"] + second["blobs"] == blobs
    assert first["blob_bytes"] + second["blob_bytes"] == blob_bytes
    assert _stored(data) == {"manifests": 0, "blobs": 0}


def test_gc_with_the_default_grace_keeps_what_was_just_untagged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ok(run_cli(["seed", str(EXAMPLE_SEED)], data_env(data), cwd=tmp_path))
    with sqlite3.connect(data / "registry.sqlite3") as db:
        db.execute("DELETE FROM tags")
    before = _stored(data)

    result = json.loads(ok(run_cli(["gc", "--json"], data_env(data), cwd=tmp_path)))

    assert result["manifests"] == result["blobs"] == result["bytes_freed"] == 0
    assert _stored(data) == before
    # A run that removed nothing says why, as the scheduled ones do.
    with sqlite3.connect(data / "registry.sqlite3") as db:
        (recorded,) = db.execute("SELECT result FROM jobs WHERE id = ?", (result["job_id"],))
    assert "nothing was garbage" in json.loads(recorded[0])["nothing_deleted_because"]


def _stored(data: Path) -> dict[str, int]:
    with sqlite3.connect(data / "registry.sqlite3") as db:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("manifests", "blobs")}


def _mib(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError


@pytest.mark.parametrize("command", [[], ["serve"], ["admin"], ["seed"]])
def test_help_works_without_the_console_script(tmp_path: Path, command: list[str]) -> None:
    result = run_cli([*command, "--help"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: registry-service")
