"""The reserve: disk space held back in ``<data>/reserve`` and given up when the disk is full.

SQLite cannot even delete a row once its filesystem is full: the write-ahead log must grow
first, and a COMMIT that cannot grow it rolls the whole transaction back (SQLITE_FULL). Yet
deleting tags and collecting garbage is the only way out of a full disk. So the data directory
holds a file of allocated space, ``storage.reserve_bytes`` long. Uploads never take the disk
that far (``space.py`` stops them with the reserve's size still free), so when free space
drops to a quarter of the reserve, someone else filled the disk: ``keep_room`` (one
``statvfs``) then deletes the file and its space is there for the catalog; once there is room
for it twice over, the file is allocated again. The catalog calls it before each write
transaction, the space floor before each upload and each MiB written; while the reserve is
given up new uploads are refused, so it is the catalog that gets the room.

Every process on the data directory (server, worker, CLI) shares the one file. Nothing here
knows about SQL or HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import threading
from pathlib import Path

from registry_service.storage import layout

log = logging.getLogger("registry_service.storage")

# Given up below a quarter of its size free; restored only with twice its size free (after
# which uploads still leave its size free), so a disk hovering near full does not allocate and
# release it over and over.
RELEASE_DIVISOR = 4
RESTORE_FACTOR = 2


class Reserve:
    """The reserve file of data directory ``root``; ``size_bytes`` 0 keeps none."""

    def __init__(self, root: Path, size_bytes: int) -> None:
        self.path = layout.reserve_path(root)
        self.size_bytes = size_bytes
        # Whether the file is in place, as far as this process knows (another process may
        # give it up; this one then notices the disk is full itself).
        self.held = False
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.size_bytes > 0

    @property
    def release_below(self) -> int:
        """Free bytes under which the disk counts as full and the reserve is given up."""
        return self.size_bytes // RELEASE_DIVISOR

    async def keep_room(self) -> None:
        """Give the reserve up on a (nearly) full disk, restore it when there is room.

        One ``statvfs`` on the loop in the usual case; an allocation runs on a thread.
        """
        if not self.enabled:
            return
        free = _free_bytes(self.path.parent)
        if free is None:
            return
        if free < self.release_below or (
            not self.held and (free >= RESTORE_FACTOR * self.size_bytes or self._in_place())
        ):
            await asyncio.to_thread(self.keep_room_now)

    def keep_room_now(self) -> bool:
        """``keep_room``, blocking (for IO threads); whether the reserve is in place after."""
        if not self.enabled:
            return True
        with self._lock:
            free = _free_bytes(self.path.parent)
            if free is None:
                return True  # no data directory yet: nothing written, nothing to hold
            if free < self.release_below:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                    log.warning(
                        "disk nearly full (%d bytes free): gave up the %d-byte reserve %s",
                        free,
                        self.size_bytes,
                        self.path,
                    )
                self.held = False
            elif not self.held and self._in_place():
                self.held = True  # left by an earlier run, or restored by another process
            elif not self.held and free >= RESTORE_FACTOR * self.size_bytes:
                try:
                    self._allocate()
                except OSError as exc:
                    # Never a reason to refuse a write: this process goes on without one.
                    log.warning("reserve %s not allocated, going on without: %s", self.path, exc)
                    self.size_bytes = 0
                    return True
                self.held = True
            return self.held

    def _in_place(self) -> bool:
        try:
            return self.path.stat().st_size >= self.size_bytes
        except FileNotFoundError:
            return False

    def _allocate(self) -> None:
        # Allocated under a temp name and renamed: a crash never leaves a short reserve.
        temp = self.path.with_name(self.path.name + layout.TEMP_SUFFIX)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            try:
                os.posix_fallocate(fd, 0, self.size_bytes)
            except OSError as exc:
                if exc.errno not in {errno.EOPNOTSUPP, errno.EINVAL}:
                    raise
                _write_zeros(fd, self.size_bytes)  # a filesystem without fallocate
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        os.close(fd)
        os.replace(temp, self.path)


def _free_bytes(directory: Path) -> int | None:
    try:
        st = os.statvfs(directory)
    except FileNotFoundError:
        return None
    return st.f_bavail * st.f_frsize


def _write_zeros(fd: int, size_bytes: int) -> None:
    block = bytes(1 << 20)
    written = 0
    while written < size_bytes:
        written += os.write(fd, block[: min(len(block), size_bytes - written)])
