"""Shared pieces of the GitLab container-registry API acceptance tests (issue 5).

* ``BASE_SEED``: who exists — ``maint`` (Maintainer of group ``grp``), ``dev`` (Developer there),
  each with one token valid for both the REST API and the registry — and the projects the tests
  push to: ``grp/proj``, ``grp/sub/tool`` (a subgroup's project) and ``grp/my.app`` (a ``.`` in
  its path, for client-go's ``%2E``). ``images_entry`` adds ``[[images]]`` seed entries (bulk
  fixtures: hundreds of repositories or tags without hundreds of pushes).
* ``dated_image``: a real, pullable OCI image (gzipped tar layers) whose config has the given
  ``created`` (or none at all) — the date GitLab's tag cleanup and tag details use.
* ``push_tags``: push ``{tag: image}`` with skopeo (one ``skopeo copy`` per tag).
* ``Api``: raw HTTP to /api/v4 with http.client, so the request target goes out byte for byte as
  written (``%2E``, ``%2F``) and every response header can be read.
* ``wait_for``: poll until a value is what the test expects (asynchronous jobs), with a timeout.
* ``age``: an RFC 3339 date some time before now, in the form image builders write.

Nothing here knows how the server computes anything: expected values are stated by the tests.
"""

from __future__ import annotations

import http.client
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from tests.e2e.accounts import Credentials
from tests.e2e.oci_layout import tar_layer, write_layout
from tests.e2e.server import RegistryServer
from tests.e2e.skopeo import Skopeo, ok
from tests.oci_content import OCI_CONFIG, OCI_MANIFEST, Blob, Image

MAINT = Credentials("maint", "glpat-e2e-maint-api-token-0001")
DEV_API = Credentials("dev", "glpat-e2e-dev-api-token-000001")
READ_API = Credentials("maint", "glpat-e2e-maint-readapi-tok-01")

PROJECT = "grp/proj"
SUB_PROJECT = "grp/sub/tool"
DOT_PROJECT = "grp/my.app"

ALL_SCOPES = '["api", "read_registry", "write_registry"]'

BASE_SEED = f"""
[[users]]
username = "maint"
tokens = [
    {{ name = "all", value = "{MAINT.token}", scopes = {ALL_SCOPES} }},
    {{ name = "ro", value = "{READ_API.token}", scopes = ["read_api"] }},
]

[[users]]
username = "dev"
tokens = [
    {{ name = "all", value = "{DEV_API.token}", scopes = {ALL_SCOPES} }},
]

[[groups]]
path = "grp"
visibility = "private"
members = [
    {{ user = "maint", access_level = "maintainer" }},
    {{ user = "dev", access_level = "developer" }},
]

[[groups]]
path = "grp/sub"
visibility = "private"

[[projects]]
path = "{PROJECT}"
visibility = "private"

[[projects]]
path = "{SUB_PROJECT}"
visibility = "private"

[[projects]]
path = "{DOT_PROJECT}"
visibility = "private"
"""


def images_entry(repository: str, **fields: Any) -> str:
    """One ``[[images]]`` table; values are written as TOML (strings quoted, dates bare)."""
    lines = ["", "[[images]]", f'repository = "{repository}"']
    for key, value in fields.items():
        if isinstance(value, str) and not value.startswith("@"):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, str):  # "@..." = a bare TOML value such as a date-time
            lines.append(f"{key} = {value[1:]}")
        elif isinstance(value, list):
            lines.append(f"{key} = {json.dumps(value)}")
        else:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def write_seed(path: Path, *extra: str) -> Path:
    path.write_text(BASE_SEED + "".join(extra))
    return path


# --- images ---------------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    """``2019-01-06T16:49:51.272000Z``: UTC, microseconds, as image builders write dates."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def age(**delta: float) -> str:
    """The RFC 3339 date ``timedelta(**delta)`` before now."""
    return rfc3339(datetime.now(UTC) - timedelta(**delta))


def dated_image(
    seed: int,
    created: str | None,
    *,
    layers: int = 1,
    layer_size_bytes: int = 1024,
    annotation_created: str | None = None,
) -> Image:
    """An OCI image of gzipped tar layers whose config says ``created`` (nothing if None).

    ``annotation_created`` puts a (possibly different) ``org.opencontainers.image.created``
    annotation on the manifest; GitLab's date is the config's, never the annotation's."""
    rng = random.Random(seed)
    built = [tar_layer(rng, layer_size_bytes, f"file-{n}.bin") for n in range(layers)]
    config_doc: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in built]},
    }
    if created is not None:
        config_doc["created"] = created
    config = Blob(json.dumps(config_doc, indent=2).encode(), OCI_CONFIG)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [blob.descriptor() for blob, _ in built],
    }
    if annotation_created is not None:
        manifest["annotations"] = {"org.opencontainers.image.created": annotation_created}
    document = json.dumps(manifest, indent=2).encode()
    return Image(document, OCI_MANIFEST, (config, *(blob for blob, _ in built)))


def layer_sizes(image: Image) -> int:
    """Sum of the manifest's ``layers[].size`` (the config blob excluded): GitLab's total_size."""
    return sum(layer["size"] for layer in json.loads(image.manifest)["layers"])


def config_digest(image: Image) -> str:
    return str(json.loads(image.manifest)["config"]["digest"])


def push_tags(
    skopeo: Skopeo,
    server: RegistryServer,
    workdir: Path,
    image_path: str,
    tags: Mapping[str, Image],
    creds: Credentials,
) -> Path:
    """Push every ``tag: image`` to ``<server>/<image_path>`` with skopeo, in the mapping's
    order (so the last one is the newest push); return the layout they came from."""
    layout = write_layout(workdir, dict(tags))
    for tag, image in tags.items():
        ok(skopeo.push(layout, tag, f"{server.host}/{image_path}:{tag}", creds,
                       all_images=bool(image.children)))
    return layout


# --- raw HTTP -------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class Api:
    """/api/v4 over http.client: the target is sent exactly as given (no re-quoting)."""

    def __init__(self, server: RegistryServer, token: str | None) -> None:
        self.server = server
        self.token = token

    def request(
        self,
        method: str,
        target: str,
        *,
        query: Mapping[str, Any] | str | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """``target`` is below /api/v4 and already encoded; ``query`` a dict or a raw string."""
        path = "/api/v4" + target
        if query:
            path += "?" + (query if isinstance(query, str) else urlencode(query))
        sent = {"Accept": "application/json"}
        if self.token is not None:
            sent["PRIVATE-TOKEN"] = self.token
        sent.update(headers or {})
        parts = urlsplit(self.server.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()

    def get(self, target: str, **kwargs: Any) -> Response:
        return self.request("GET", target, **kwargs)

    def delete(self, target: str, **kwargs: Any) -> Response:
        return self.request("DELETE", target, **kwargs)

    def all_pages(self, target: str, **query: Any) -> list[Any]:
        """Every item of an offset-paginated list, following X-Next-Page (per_page=100)."""
        found: list[Any] = []
        page: str | None = "1"
        while page:
            response = self.get(target, query={**query, "per_page": 100, "page": page})
            assert response.status == 200, (target, response.status, response.body)
            found.extend(response.json)
            page = response.header("X-Next-Page")
        return found


T = TypeVar("T")


def wait_for(
    read: Callable[[], T], expected: T, *, timeout_s: float = 30.0, interval_s: float = 0.2
) -> T:
    """Call ``read`` until it returns ``expected``; fail with the last value after the timeout."""
    deadline = time.monotonic() + timeout_s
    last = read()
    while last != expected:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"still not as expected after {timeout_s}s:\n  got      {last!r}\n"
                f"  expected {expected!r}"
            )
        time.sleep(interval_s)
        last = read()
    return last
