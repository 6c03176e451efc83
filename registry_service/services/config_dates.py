"""The ``created`` dates of image configs already read, kept by the app's ``Storage``.

A config's bytes never change, so neither does its date: tagging one image many times (CI
pipelines do) need not read its config from disk each time (a manifest PUT is some 10 % slower
when it does). The cache lives and dies with the ``Storage`` that owns it — one per app or job
context, never shared between processes' apps or tests — and is bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from registry_service.digests import Digest

CONFIG_CACHE_ENTRIES = 4096


class ConfigDates:
    """Config digest → its ``created`` date (None: the config has none), least recent first."""

    def __init__(self, max_entries: int = CONFIG_CACHE_ENTRIES) -> None:
        self._dates: OrderedDict[Digest, datetime | None] = OrderedDict()
        self._max_entries = max_entries

    def __contains__(self, digest: Digest) -> bool:
        return digest in self._dates

    def get(self, digest: Digest) -> datetime | None:
        self._dates.move_to_end(digest)
        return self._dates[digest]

    def remember(self, digest: Digest, created: datetime | None) -> None:
        self._dates[digest] = created
        self._dates.move_to_end(digest)
        if len(self._dates) > self._max_entries:
            self._dates.popitem(last=False)
