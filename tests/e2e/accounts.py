"""Who exists on a registry under end-to-end test: one seed file and the credentials it creates.

``write_seed`` writes the fixture for ``registry-service serve --seed``: user ``dev``, a
Developer in the private project ``group/app`` and the public project ``open/app``, with a
read-write registry token (``DEV``) and a read-only one (``DEV_READ_ONLY``). Tests push to
their own image paths below those projects (``group/app/<test>``), so they can share a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PRIVATE_PROJECT = "group/app"
PUBLIC_PROJECT = "open/app"


@dataclass(frozen=True)
class Credentials:
    username: str
    token: str

    @property
    def userpass(self) -> str:
        """``user:token``, as skopeo's ``--src-creds``/``--dest-creds`` take it."""
        return f"{self.username}:{self.token}"


DEV = Credentials("dev", "glpat-e2e-dev-write-token-0001")
DEV_READ_ONLY = Credentials("dev", "glpat-e2e-dev-read-token-00001")

SEED = f"""
[[users]]
username = "dev"
tokens = [
    {{ name = "push", value = "{DEV.token}", scopes = ["read_registry", "write_registry"] }},
    {{ name = "pull", value = "{DEV_READ_ONLY.token}", scopes = ["read_registry"] }},
]

[[groups]]
path = "group"
visibility = "private"
members = [{{ user = "dev", access_level = "developer" }}]

[[groups]]
path = "open"
visibility = "public"
members = [{{ user = "dev", access_level = "developer" }}]

[[projects]]
path = "{PRIVATE_PROJECT}"
visibility = "private"

[[projects]]
path = "{PUBLIC_PROJECT}"
visibility = "public"
"""


def write_seed(path: Path) -> Path:
    """Write the seed file at ``path``; return it (for ``serve --seed``)."""
    path.write_text(SEED)
    return path
