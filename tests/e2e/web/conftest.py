"""The browser for the web interface's end-to-end tests (see ``chromium.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.web.chromium import new_driver


@pytest.fixture(params=[True], ids=["javascript"])
def chromium(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless Chromium; a test parametrized indirectly with False gets one whose pages
    run no script."""
    # Selenium Manager must never look for, let alone download, a browser or a driver.
    monkeypatch.setenv("SE_OFFLINE", "true")
    driver = new_driver(javascript=request.param)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
