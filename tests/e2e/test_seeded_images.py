"""``serve --seed`` with ``[[images]]``: skopeo pulls the seeded images (checking every digest),
sees their ``created`` dates, and a restart with the same seed creates nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.e2e.accounts import DEV_READ_ONLY, SEED
from tests.e2e.conftest import StartServer
from tests.e2e.skopeo import Skopeo, ok

pytestmark = pytest.mark.e2e

IMAGES = """
[[images]]
repository = "group/app/seeded"
tags = ["v1", "latest"]
layers = 2
layer_size = "1.5MiB"
created = 2026-01-01T00:00:00Z

[[images]]
repository = "group/app/seeded/multi"
tags = ["v2"]
platforms = ["linux/amd64", "linux/arm64"]
format = "docker"
created = 2026-02-01T00:00:00Z

[[images]]
repository = "group/app/seeded/builds"
tag_pattern = "build-{n}"
count = 100
created = 2026-03-01T00:00:00Z
created_every = "1h"
"""


def blobs_are_their_digests(layout: Path) -> int:
    """Check every blob of an OCI layout against its name; return how many there are."""
    files = [p for p in (layout / "blobs" / "sha256").iterdir() if p.is_file()]
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    return len(files)


def test_seeded_images_pull_with_skopeo_and_reseeding_adds_nothing(
    start_server: StartServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    seed = tmp_path / "seed.toml"
    seed.write_text(SEED + IMAGES)
    server = start_server(args=["--seed", str(seed)])
    assert "created 1 users, 2 tokens, 2 groups, 2 projects, 2 members, 3 repositories" in (
        server.stderr
    )

    image = f"{server.host}/group/app/seeded:v1"
    ok(skopeo.pull(image, tmp_path / "image", "v1", DEV_READ_ONLY))
    assert blobs_are_their_digests(tmp_path / "image") == 4  # manifest, config, 2 layers
    info = json.loads(ok(skopeo.run(
        ["inspect", "--tls-verify=false", "--creds", DEV_READ_ONLY.userpass, f"docker://{image}"]
    )))
    assert info["Created"] == "2026-01-01T00:00:00Z"
    assert (info["Architecture"], info["Os"]) == ("amd64", "linux")
    assert len(info["Layers"]) == 2

    # A Docker manifest list cannot go into an OCI layout unchanged: a dir: copy keeps it.
    index = f"{server.host}/group/app/seeded/multi:v2"
    copied = tmp_path / "index"
    ok(skopeo.run([
        "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
        "--src-creds", DEV_READ_ONLY.userpass, f"docker://{index}", f"dir:{copied}",
    ]))
    listed = json.loads(skopeo.inspect_raw(index, DEV_READ_ONLY))
    assert (copied / "manifest.json").read_bytes() == skopeo.inspect_raw(index, DEV_READ_ONLY)
    for child in listed["manifests"]:
        child_manifest = (copied / f"{child['digest'].split(':')[1]}.manifest.json").read_bytes()
        assert f"sha256:{hashlib.sha256(child_manifest).hexdigest()}" == child["digest"]
        for blob in [json.loads(child_manifest)["config"], *json.loads(child_manifest)["layers"]]:
            data = (copied / blob["digest"].split(":")[1]).read_bytes()
            assert f"sha256:{hashlib.sha256(data).hexdigest()}" == blob["digest"]
    assert [m["platform"]["architecture"] for m in listed["manifests"]] == ["amd64", "arm64"]

    build = f"{server.host}/group/app/seeded/builds:build-99"
    info = json.loads(ok(skopeo.run(
        ["inspect", "--tls-verify=false", "--creds", DEV_READ_ONLY.userpass, f"docker://{build}"]
    )))
    assert info["Created"] == "2026-02-28T23:00:00Z"

    assert server.stop() == 0
    server.start()
    assert "0 repositories, 0 manifests, 0 tags, 0 blobs" in server.stderr
    ok(skopeo.pull(image, tmp_path / "again", "v1", DEV_READ_ONLY))
