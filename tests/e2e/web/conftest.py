"""The browser for the web interface's end-to-end tests (see ``chromium.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.web.chromium import new_driver


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Selenium Manager must never look for, let alone download, a browser or a driver.
    monkeypatch.setenv("SE_OFFLINE", "true")
    driver = new_driver()
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
