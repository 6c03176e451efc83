"""Named locks held until the end of a write transaction: for what no single row stands for.

On PostgreSQL, write transactions run side by side (``catalog/postgres.py``); most of them
order themselves by locking the rows their checks read. Two things have no row to lock: a blob
*file* (it exists before and after its row) and "the next garbage collection job" (not inserted
yet). Both are named here and locked with ``pg_advisory_xact_lock`` on a 64-bit key derived from
the name, released at COMMIT or ROLLBACK. On SQLite every write already holds the one write
lock, so taking a name is a no-op there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from registry_service.catalog.db import fetch_all
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import Writer

# Distinct prefixes keep the two kinds of name apart however a digest is spelled.
_BLOB_FILE = "blob-file:"
SCHEDULE_COLLECTION = "schedule:collect_garbage"


def lock_key(name: str) -> int:
    """The signed 64-bit key of ``name``, the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def lock_names(tx: Writer, names: Iterable[str]) -> None:
    """Hold ``names`` until ``tx`` ends, waiting for any other transaction holding one.

    Keys are taken in ascending order, whoever asks, so two transactions that want several
    of the same names queue one behind the other instead of each holding what the other waits
    for."""
    statement = dialect_of(tx).lock_keys
    keys = sorted({lock_key(name) for name in names})
    if statement is None or not keys:
        return
    await fetch_all(tx, statement, (json.dumps(keys),))


async def lock_blob_files(tx: Writer, digests: Iterable[str]) -> None:
    """Hold the files of ``digests``: placing one (ingest) and unlinking one (garbage
    collection) never interleave for one digest, whichever process does them."""
    await lock_names(tx, (_BLOB_FILE + digest for digest in digests))
