"""The registry the web interface's end-to-end tests browse: who exists (a seed file), what
was pushed (real images through skopeo), and payloads that must render inert.

``maria`` is a Maintainer of the public group ``web`` (projects ``web/app`` and the private
``web/private``), ``rita`` a Reporter there; both have ``api`` tokens for signing in.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.e2e.accounts import Credentials
from tests.e2e.oci_layout import build_image, build_index, write_layout
from tests.e2e.skopeo import Skopeo, ok
from tests.oci_content import OCI_CONFIG, Blob, Image, canonical, image

MARIA = Credentials("maria", "glpat-e2e-web-maria-token-0001")
RITA = Credentials("rita", "glpat-e2e-web-rita-token-00001")
PUBLIC_PROJECT = "web/app"
PRIVATE_PROJECT = "web/private"
IMAGE = f"{PUBLIC_PROJECT}/service"
# Would set window.__pwned (or raise an alert) if a page ever rendered it as markup.
XSS = '"><img src=x onerror="window.__pwned=1;alert(1)"><script>window.__pwned=2</script>'
XSS_TAG = "<svg onload=window.__pwned=3>"
XSS_REPOSITORY = '"><svg onload=window.__pwned=4>'

SEED = f"""
[[users]]
username = "maria"
tokens = [
    {{ name = "web", value = "{MARIA.token}", scopes = ["api", "write_registry"] }},
]

[[users]]
username = "rita"
tokens = [{{ name = "web", value = "{RITA.token}", scopes = ["api", "read_registry"] }}]

[[groups]]
path = "web"
visibility = "public"
members = [
    {{ user = "maria", access_level = "maintainer" }},
    {{ user = "rita", access_level = "reporter" }},
]

[[projects]]
path = "{PUBLIC_PROJECT}"
visibility = "public"

[[projects]]
path = "{PRIVATE_PROJECT}"
visibility = "private"
"""


def write_seed(path: Path) -> Path:
    path.write_text(SEED)
    return path


def labelled_image() -> Image:
    """An image whose config labels and manifest annotations carry script payloads."""
    config = Blob(
        canonical({
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-03-04T05:06:07Z",
            "config": {"Labels": {"org.example.note": XSS}, "Cmd": ["/bin/sh", "-c", XSS]},
            "rootfs": {"type": "layers", "diff_ids": []},
        }),
        OCI_CONFIG,
    )
    return image(layers=1, config=config, annotations={"org.example.title": XSS})


def push_images(skopeo: Skopeo, host: str, workdir: Path) -> None:
    """v1..v3 and an index ``multi`` to ``web/app/service``, ``evil`` with the payloads, and a
    private image."""
    layout = write_layout(workdir / "layout", {
        "v1": build_image(1, layers=2, layer_size_bytes=32 * 1024, created="2026-01-01T00:00:00Z"),
        "v2": build_image(2, layers=2, layer_size_bytes=32 * 1024, created="2026-02-01T00:00:00Z"),
        "v3": build_image(3, layers=2, layer_size_bytes=32 * 1024, created="2026-03-01T00:00:00Z"),
        "multi": build_index(4, platforms=2, layer_size_bytes=16 * 1024),
        "evil": labelled_image(),
    })
    for tag in ("v1", "v2", "v3", "evil"):
        ok(skopeo.push(layout, tag, f"{host}/{IMAGE}:{tag}", MARIA))
    ok(skopeo.push(layout, "multi", f"{host}/{IMAGE}:multi", MARIA, all_images=True))
    ok(skopeo.push(layout, "v1", f"{host}/{PRIVATE_PROJECT}/hidden:v1", MARIA))


def plant_unvalidated_names(data_dir: Path) -> None:
    """A tag and a repository whose names no client could push (the registry refuses them):
    written straight into the catalog, to show the pages would render them inert anyway."""
    db = sqlite3.connect(data_dir / "registry.sqlite3", timeout=30)
    try:
        with db:
            project_id, repository_id, manifest_id = db.execute(
                "SELECT r.project_id, r.id, t.manifest_id FROM repositories r"
                " JOIN tags t ON t.repository_id = r.id WHERE t.name = 'v1' AND r.name = ?",
                ("service",),
            ).fetchone()
            db.execute(
                "INSERT INTO tags (repository_id, name, manifest_id, pushed_at)"
                " VALUES (?, ?, ?, '2026-03-05T00:00:00.000000Z')",
                (repository_id, XSS_TAG, manifest_id),
            )
            db.execute(
                "INSERT INTO repositories (project_id, name, created_at)"
                " VALUES (?, ?, '2026-03-05T00:00:00.000000Z')",
                (project_id, XSS_REPOSITORY),
            )
    finally:
        db.close()

