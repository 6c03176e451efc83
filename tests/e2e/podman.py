"""podman as a subprocess, isolated from the host: nothing global is read or written.

Every run gets its own storage (a ``storage.conf`` with graph root and run root in ``workdir``
and the ``vfs`` driver, which needs no kernel overlay support; ``--tmpdir`` there too), empty
``registries.conf`` and ``containers.conf``, a signature policy of its own, ``REGISTRY_AUTH_FILE``
pointing at a file that does not exist (credentials come only from ``--creds``) and no event
log. Run as root, podman still writes a blob-info cache to /var/lib/containers/cache and
network state under /run whatever the flags say, so each run happens in a private mount
namespace (``unshare --mount``) with empty tmpfs mounted over /var/lib and /run: those writes
land there and vanish with the process. Output is captured and returned; nothing raises on a
non-zero exit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

PODMAN = shutil.which("podman") or "/usr/bin/podman"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
TIMEOUT_S = 120.0
# Runs inside the new mount namespace: hide the host's /var/lib and /run, then become podman.
_ISOLATE = 'mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /run && exec "$@"'


class Podman:
    """Runs podman with all its state under ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        for name in ("registries.conf", "containers.conf"):
            (workdir / name).write_text("")
        (workdir / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{workdir / "root"}"\n'
            f'runroot = "{workdir / "runroot"}"\n'
        )
        (workdir / "auth.json").write_text('{"auths": {}}')
        policy = workdir / "policy.json"
        policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        self.global_args = ["--tmpdir", str(workdir / "libpod"), "--events-backend", "none"]
        self.policy = policy
        self.env = {
            **os.environ,
            "CONTAINERS_REGISTRIES_CONF": str(workdir / "registries.conf"),
            "CONTAINERS_CONF": str(workdir / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(workdir / "storage.conf"),
            "REGISTRY_AUTH_FILE": str(workdir / "auth.json"),
            "TMPDIR": str(workdir),
        }

    def run(
        self, args: Sequence[str], timeout_s: float = TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                UNSHARE, "--mount", "--propagation", "private", "sh", "-c", _ISOLATE, "podman",
                PODMAN, *self.global_args, *args,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def transfer(
        self, verb: str, *references: str, cert_dir: Path, creds: str
    ) -> subprocess.CompletedProcess[str]:
        """``podman pull``/``push`` with TLS verification on, trusting the CAs in
        ``cert_dir`` (and the system's) only."""
        return self.run(
            [
                verb, "--tls-verify=true", "--cert-dir", str(cert_dir), "--creds", creds,
                "--signature-policy", str(self.policy), "--quiet", *references,
            ]
        )
