"""The config-date cache: bounded, least recently used out first, owned by one ``Storage``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from registry_service.digests import digest_of
from registry_service.services.blobs import Storage
from registry_service.services.config_dates import ConfigDates
from registry_service.storage.filesystem import FilesystemBlobStore

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
A, B, C = (digest_of(text) for text in (b"a", b"b", b"c"))


def test_the_least_recently_used_date_goes_first_when_full() -> None:
    dates = ConfigDates(max_entries=2)
    dates.remember(A, WHEN)
    dates.remember(B, None)
    assert dates.get(A) == WHEN  # A is now the most recent
    dates.remember(C, WHEN)
    assert (A in dates, B in dates, C in dates) == (True, False, True)


def test_a_config_without_a_date_is_remembered_as_such() -> None:
    dates = ConfigDates()
    dates.remember(A, None)
    assert A in dates
    assert dates.get(A) is None


def test_each_storage_has_its_own_cache(tmp_path: Path) -> None:
    """Owned by the app's Storage, not by the process: two apps never share what they read."""
    store = FilesystemBlobStore(tmp_path)
    first, second = Storage.on(store), Storage.on(store)
    first.config_dates.remember(A, WHEN)
    assert A not in second.config_dates
