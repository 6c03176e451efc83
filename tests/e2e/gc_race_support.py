"""Helpers for ``test_gc_race``: images that share layers, and a watch on the store invariant.

``build_targets`` makes the images (gzipped tar layers as ``tests.e2e.oci_layout`` builds them,
config ``diff_ids`` to match): three base layers every image has, a layer each shares with one
other image, and two of its own.

``MissingFileWatch`` checks, from outside and while everything runs, the invariant the race
design of ``jobs/gc.py`` exists for: a committed ``blobs`` row always has its file. (A push
places the file before its row commits; a collection unlinks a file only inside a write
transaction that found no row.) One look at the catalog and then at the files is not enough
while a collection runs — the row may be deleted and its file unlinked in between — so a
digest is reported only when the *same* row (same ``created_at``) is read before and after
seeing the file missing: the row existed all along, and its file did not.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.oci_layout import tar_layer
from tests.oci_content import OCI_CONFIG, OCI_MANIFEST, Blob, Image, canonical

KIB = 1 << 10
MIB = 1 << 20
BASE_LAYER_SIZES = (768 * KIB, 384 * KIB, 192 * KIB)
PAIR_LAYER_SIZE = 64 * KIB
OWN_LAYER_SIZES = (32 * KIB, 16 * KIB)


@dataclass(frozen=True)
class Target:
    """One image and where it goes: ``<repository>:<tag>``."""

    image: Image
    repository: str
    tag: str
    base: frozenset[str]  # digests of the base layers (every image has them)

    @property
    def reference_path(self) -> str:
        return f"{self.repository}:{self.tag}"


def _image(layers: list[tuple[Blob, str]], name: str) -> Image:
    config = Blob(
        canonical(
            {
                "created": "2026-01-02T03:04:05Z",
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["/bin/sh"], "Labels": {"image": name}},
                "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
            }
        ),
        OCI_CONFIG,
    )
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [blob.descriptor() for blob, _ in layers],
        }
    )
    return Image(manifest, OCI_MANIFEST, (config, *(blob for blob, _ in layers)))


def build_targets(count: int, repositories: list[str], seed: int = 4) -> list[Target]:
    """``count`` images: the same three base layers, a layer shared with one other image
    (``i`` and ``i + count/2``: other repositories, other moments of the run), and two layers
    of their own; tagged ``v<i>``, round-robin over ``repositories``."""
    rng = random.Random(seed)
    base = [tar_layer(rng, size, f"base-{n}.bin") for n, size in enumerate(BASE_LAYER_SIZES)]
    base_digests = frozenset(blob.digest for blob, _ in base)
    half = max(count // 2, 1)
    pairs = [tar_layer(rng, PAIR_LAYER_SIZE, f"pair-{n}.bin") for n in range(half)]
    targets = []
    for i in range(count):
        own = [tar_layer(rng, size, f"own-{i}-{n}.bin") for n, size in enumerate(OWN_LAYER_SIZES)]
        image = _image([*base, pairs[i % half], *own], f"image-{i}")
        targets.append(Target(image, repositories[i % len(repositories)], f"v{i}", base_digests))
    return targets


class MissingFileWatch:
    """Looks for committed blob rows without their file, over and over, until stopped."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.found: dict[str, str] = {}
        self.rounds = 0
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _file(self, digest: str) -> Path:
        algorithm, hex_digest = digest.split(":", 1)
        return self.data_dir / "blobs" / algorithm / hex_digest[:2] / hex_digest

    def check_once(self) -> list[tuple[str, str]]:
        """The digests whose row is committed now and whose file is missing."""
        # Autocommit, and every statement run to its end (fetchall): each SELECT reads the
        # catalog as committed at that moment, not an older snapshot held open.
        db = sqlite3.connect(
            f"file:{self.data_dir / 'registry.sqlite3'}?mode=ro", uri=True, isolation_level=None
        )
        try:
            rows = db.execute("SELECT digest, created_at FROM blobs").fetchall()
            missing = []
            for digest, _ in rows:
                if self._file(digest).exists():
                    continue
                before = self._row(db, digest)
                if before is None or self._file(digest).exists():
                    continue
                if self._row(db, digest) == before:
                    missing.append((digest, f"{digest} (row created {before})"))
            return missing
        finally:
            db.close()

    @staticmethod
    def _row(db: sqlite3.Connection, digest: str) -> str | None:
        rows = db.execute("SELECT created_at FROM blobs WHERE digest = ?", (digest,)).fetchall()
        assert not db.in_transaction
        return rows[0][0] if rows else None

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            try:
                self.found.update(self.check_once())
            except sqlite3.OperationalError:
                continue  # busy for a moment (a checkpoint): look again
            self.rounds += 1

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> list[str]:
        """Stop watching; what was found, one line per digest."""
        self.stop.set()
        self._thread.join(30)
        return sorted(self.found.values())
