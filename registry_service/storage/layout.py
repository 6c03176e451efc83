"""The on-disk tree of the filesystem blob store, drawn once, and the functions that name its paths.

Every path the storage layer touches is built here and nowhere else; nothing in this module does
I/O. All three subtrees live under one data directory, so every temp file and upload session is
on the same filesystem as the blob it becomes and ``os.replace`` into place is atomic.

::

    <data>/
    ├─ blobs/                        content-addressed, immutable; a file here is complete,
    │  ├─ sha256/                    verified and fsynced (written elsewhere, then renamed in)
    │  │  └─ <hex[:2]>/              fan-out directory: the first two hex digits
    │  │     └─ <hex>                the blob's bytes, named by the full hex digest
    │  └─ sha512/
    │     └─ <hex[:2]>/<hex>
    ├─ uploads/                      OCI chunked-upload sessions, one directory each
    │  └─ <session id>/
    │     ├─ session.json            {"algorithm": "sha256"}; written before ``data``
    │     ├─ data                    the bytes received so far; its size is the upload offset
    │     └─ lock                    flocked by the process appending to or closing the session
    ├─ tmp/                          single-request ingests being streamed (``<uuid>.part``)
    │                                and batches of small blobs (``<uuid>-<n>.part``); files
    │                                here are never visible as blobs and are purged at startup
    │                                (an ingest's file is flocked while written: a purge by
    │                                another process on this directory leaves it alone)
    ├─ reserve                       ``storage.reserve_bytes`` of allocated space, given up
    │                                when the disk is full (``reserve.py``)
    └─ runners/                      one file per live in-process job runner (any process
       └─ <owner>.lock               of this host), flocked while it lives: the proof of death
                                     that lets another take its lease at once
                                     (``jobs/runner_gate.py``)
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from registry_service.digests import HEX_LENGTHS, Digest
from registry_service.errors import BlobUploadUnknown, DigestInvalid

BLOBS = "blobs"
UPLOADS = "uploads"
TMP = "tmp"
RESERVE = "reserve"
SESSION_STATE = "session.json"
SESSION_DATA = "data"
SESSION_LOCK = "lock"
RUNNERS = "runners"
TEMP_SUFFIX = ".part"
FAN_OUT_CHARS = 2

# Session ids come from URLs; this grammar keeps them to one safe path component.
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_FAN_OUT_RE = re.compile(r"[0-9a-f]{2}")


def blobs_dir(root: Path) -> Path:
    """Top of the content-addressed tree."""
    return root / BLOBS


def algorithm_dir(root: Path, algorithm: str) -> Path:
    """All blobs of one digest algorithm."""
    return root / BLOBS / algorithm


def blob_path(root: Path, digest: Digest) -> Path:
    """Where the blob ``digest`` lives (whether or not it exists)."""
    # One joinpath, not four joins: this runs for every blob looked at.
    return root.joinpath(BLOBS, digest.algorithm, digest.hex[:FAN_OUT_CHARS], digest.hex)


def blob_name(digest: Digest) -> str:
    """The blob's path below its ``algorithm_dir``: ``<hex[:2]>/<hex>``."""
    return f"{digest.hex[:FAN_OUT_CHARS]}/{digest.hex}"


def digest_at(algorithm: str, fan_out: str, name: str) -> Digest | None:
    """The digest a file at ``blobs/<algorithm>/<fan_out>/<name>`` stands for, or None if the
    name does not belong to the tree (a stray file is skipped, never trusted)."""
    if algorithm not in HEX_LENGTHS or not _FAN_OUT_RE.fullmatch(fan_out):
        return None
    if not name.startswith(fan_out):
        return None
    try:
        return Digest(algorithm, name)
    except DigestInvalid:
        return None


def is_fan_out(name: str) -> bool:
    """Whether ``name`` is a fan-out directory name (two lowercase hex digits)."""
    return _FAN_OUT_RE.fullmatch(name) is not None


def uploads_dir(root: Path) -> Path:
    """Parent of every upload session directory."""
    return root / UPLOADS


def is_session_id(text: str) -> bool:
    """Whether ``text`` may name a session: one safe path component."""
    return _SESSION_ID_RE.fullmatch(text) is not None


def session_dir(root: Path, session_id: str) -> Path:
    """The directory of upload session ``session_id``; BlobUploadUnknown for a malformed id."""
    if not is_session_id(session_id):
        # A malformed id cannot name a session we made (and must never reach the filesystem).
        raise BlobUploadUnknown(detail={"session": session_id[:80]})
    return root / UPLOADS / session_id


def session_state_path(root: Path, session_id: str) -> Path:
    """The session's ``session.json`` (its digest algorithm)."""
    return session_dir(root, session_id) / SESSION_STATE


def session_lock_path(root: Path, session_id: str) -> Path:
    """The session's lock file (created on first use; its content is meaningless)."""
    return session_dir(root, session_id) / SESSION_LOCK


def runners_dir(root: Path) -> Path:
    """Where the in-process job runners of this data directory keep their lock files."""
    return root / RUNNERS


def session_data_path(root: Path, session_id: str) -> Path:
    """The session's received bytes; the file's size is the upload offset."""
    return session_dir(root, session_id) / SESSION_DATA


def tmp_dir(root: Path) -> Path:
    """Where single-request ingests are streamed before the rename."""
    return root / TMP


def new_temp_path(root: Path) -> Path:
    """A fresh, unique temp file name for one ingest."""
    return root / TMP / f"{uuid.uuid4().hex}{TEMP_SUFFIX}"


def new_temp_batch() -> str:
    """A fresh prefix for the temp files of a batch of blobs written together."""
    return f"{uuid.uuid4().hex}-"


def batch_temp_name(batch: str, position: int) -> str:
    """The name, in ``tmp_dir``, of the temp file ``position`` of ``batch``."""
    return f"{batch}{position}{TEMP_SUFFIX}"


def reserve_path(root: Path) -> Path:
    """The reserve file (space held back for a full disk)."""
    return root / RESERVE
