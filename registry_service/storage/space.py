"""Room on the data directory's filesystem: the ``storage.min_free_bytes`` floor for uploads,
and the one translation of "no space left" ``OSError``s into the domain's ``InsufficientStorage``.

Uploads stop at the floor so that the catalog (SQLite needs pages for its write-ahead log even to
delete rows) and the deletes and garbage collection that make room still have some. The floor is
checked with one ``statvfs`` per request and per written batch (~1 MiB), never per network read.
Nothing here writes a file; no HTTP and no catalog here.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

from registry_service.errors import InsufficientStorage
from registry_service.storage.reserve import Reserve

# ENOSPC: the filesystem is full; EDQUOT: the service's user is over its disk quota.
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

P = ParamSpec("P")
T = TypeVar("T")


def is_no_space(exc: OSError) -> bool:
    return exc.errno in NO_SPACE_ERRNOS


def translating_no_space(fn: Callable[P, T]) -> Callable[P, T]:
    """``fn``, with a "no space left" ``OSError`` raised as ``InsufficientStorage`` instead
    (the original chained as its cause); every other error unchanged."""

    @wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except OSError as exc:
            if not is_no_space(exc):
                raise
            raise InsufficientStorage(
                detail={"reason": os.strerror(exc.errno or errno.ENOSPC)}
            ) from exc

    return call


def free_bytes(root: Path) -> int:
    """Bytes an unprivileged writer may still use on the filesystem holding ``root``."""
    st = os.statvfs(root)
    return st.f_bavail * st.f_frsize


class SpaceFloor:
    """Refuses a write that would leave less than ``min_free_bytes`` (or the reserve's size)
    free under ``root``, and every upload while ``reserve`` is given up (the disk was full:
    the room is the catalog's).

    0 and no reserve switch the check off (no ``statvfs`` at all). A missing ``root`` (nothing
    written yet) is checked at its nearest existing parent, on the same filesystem in practice.
    """

    def __init__(self, root: Path, min_free_bytes: int = 0, reserve: Reserve | None = None) -> None:
        self.root = root
        self.min_free_bytes = min_free_bytes
        self.reserve = reserve

    def check(self, incoming_bytes: int = 0) -> None:
        """Raise InsufficientStorage unless ``incoming_bytes`` more leave the floor free.

        Blocking (one or two ``statvfs``): call it on an IO thread.
        """
        floor = self.min_free_bytes
        if self.reserve is not None and self.reserve.enabled:
            if not self.reserve.keep_room_now():
                raise InsufficientStorage(detail={"reason": "the disk is full"})
            # Uploads leave the reserve's size free as well: only another program can then
            # fill the disk to where the reserve is given up.
            floor = max(floor, self.reserve.size_bytes)
        if floor <= 0:
            return
        path = self.root
        while not path.exists() and path.parent != path:
            path = path.parent
        if free_bytes(path) - incoming_bytes < floor:
            # The numbers stay out of the answer: clients need not learn the server's disk.
            raise InsufficientStorage(detail={"reason": "free space below storage.min_free_bytes"})
