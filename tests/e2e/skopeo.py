"""skopeo as a subprocess, isolated from the host's credentials.

Every run gets ``--insecure-policy`` (no dependence on /etc/containers/policy.json) and
``REGISTRY_AUTH_FILE`` pointing at a file that does not exist, so credentials come only from
``--src-creds``/``--dest-creds`` and anonymous means anonymous (``--src-no-creds``). skopeo's
blob-info cache (which blobs it saw in which repository; it turns later pushes into cross-repository
mounts) is kept in the workdir too, so runs do not depend on each other: as root it would live in
/var/lib/containers/cache, so skopeo is told it is rootless (``_CONTAINERS_ROOTLESS_UID``, read by
containers/image) and given ``XDG_DATA_HOME``. Output is captured and returned; nothing raises on
a non-zero exit (tests assert on it). Plain HTTP to the loopback registry is asked for with
``--src-tls-verify=false``/``--dest-tls-verify=false``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.e2e.accounts import Credentials

SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
TIMEOUT_S = 120.0


class Skopeo:
    """Runs skopeo with its scratch files (the absent auth file, temp blobs) under ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "REGISTRY_AUTH_FILE": str(workdir / "no-auth.json"),
            "TMPDIR": str(workdir),
            "XDG_DATA_HOME": str(workdir / "data"),
        }
        if os.geteuid() == 0:
            self.env["_CONTAINERS_ROOTLESS_UID"] = "65534"

    def run(
        self, args: Sequence[str], timeout_s: float = TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SKOPEO, "--insecure-policy", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def push(
        self,
        layout: Path,
        tag: str,
        reference: str,
        creds: Credentials | None,
        *,
        all_images: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``skopeo copy oci:<layout>:<tag> docker://<reference>``, keeping every digest."""
        return self.run(
            [
                "copy", "--preserve-digests", "--dest-tls-verify=false",
                *_creds("dest", creds), *(["--all"] if all_images else []),
                f"oci:{layout}:{tag}", f"docker://{reference}",
            ]
        )

    def pull(
        self,
        reference: str,
        layout: Path,
        tag: str,
        creds: Credentials | None,
        *,
        all_images: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``skopeo copy docker://<reference> oci:<layout>:<tag>``, keeping every digest."""
        return self.run(
            [
                "copy", "--preserve-digests", "--src-tls-verify=false",
                *_creds("src", creds), *(["--all"] if all_images else []),
                f"docker://{reference}", f"oci:{layout}:{tag}",
            ]
        )

    def inspect_raw(self, reference: str, creds: Credentials | None) -> bytes:
        """``skopeo inspect --raw``: the manifest exactly as the registry serves it."""
        result = subprocess.run(
            [
                SKOPEO, "--insecure-policy", "inspect", "--raw", "--tls-verify=false",
                *_creds("", creds), f"docker://{reference}",
            ],
            env=self.env,
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, f"inspect {reference}: {result.stderr.decode()}"
        return result.stdout


def _creds(side: str, creds: Credentials | None) -> list[str]:
    prefix = f"--{side}-" if side else "--"
    if creds is None:
        return [f"{prefix}no-creds"]
    return [f"{prefix}creds", creds.userpass]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a run that must have succeeded."""
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout
