"""A real headless Chromium for the web interface's end-to-end tests, through Selenium.

Debian's ``chromium`` and ``chromium-driver`` packages (``/usr/bin/chromium``,
``/usr/bin/chromedriver``) are used as installed: the driver path is given explicitly and
``SE_OFFLINE`` is set, so Selenium Manager never looks for (or downloads) a browser or driver.
``Page`` wraps the driver with what the tests do: open a path, fill and submit, screenshot
(into the test's temp dir), and run the vendored axe-core accessibility check.

Pages replace themselves (a submit loads the next one) or a fragment of themselves (the cleanup
preview follows the form, a running job's progress panel refreshes every second), so an element
found a moment ago may belong to a document that is gone. Waits are for conditions, and reads of
such pages go through ``fresh``, which reads again, up to a deadline, only in that one case.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE_JS = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
# Set to a directory (e.g. docs/screenshots) to keep a copy of each page's screenshot there.
KEEP_SCREENSHOTS_ENV = "REGISTRY_WEB_SCREENSHOTS"
WINDOW = (1100, 820)
MAX_HEIGHT = 2400
FRESH_TIMEOUT_S = 10.0
# ChromeDriver reports touching an element of a replaced document as "stale element reference",
# except when its DevTools lookup races the replacement: then it is this "unknown error"
# (SeleniumHQ/selenium#15401), which Selenium's own ``staleness_of`` does not expect.
DETACHED_NODE_ERROR = "Node with given id does not belong to the document"

T = TypeVar("T")


def is_stale(exc: WebDriverException) -> bool:
    """True if the error says only that the element's document was replaced."""
    if isinstance(exc, StaleElementReferenceException):
        return True
    return type(exc) is WebDriverException and DETACHED_NODE_ERROR in (exc.msg or "")


def is_detached(element: WebElement) -> bool:
    """True once ``element`` belongs to a document that is no longer shown."""
    try:
        element.is_enabled()
    except WebDriverException as exc:
        if is_stale(exc):
            return True
        raise
    return False


def fresh(read: Callable[[], T], timeout_s: float = FRESH_TIMEOUT_S) -> T:
    """``read()``, which finds its elements itself; run again if an element it found was
    replaced before it was read (the replacement is there to find at once), and only then."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return read()
        except WebDriverException as exc:
            if not is_stale(exc) or time.monotonic() >= deadline:
                raise


def new_driver(*, javascript: bool = True) -> Any:
    """Chromium under chromedriver, both from the system; the caller sets ``SE_OFFLINE``."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail(
            "install Debian's chromium and chromium-driver"
            " (apt-get install -y chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        # Root in a container has no user namespace for Chromium's sandbox.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


class Page:
    def __init__(self, driver: Any, base_url: str, shots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        url: str = self.driver.current_url
        return url.removeprefix(self.base_url)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self) -> str:
        return fresh(lambda: str(self.find("body").text))

    def texts(self, css: str) -> list[str]:
        """The text of every element ``css`` matches, all from one version of the page."""
        return fresh(lambda: [str(e.text) for e in self.find_all(css)])

    def rows(self, css: str) -> list[list[str]]:
        """The cells' texts of the table rows ``css`` matches, all from one version."""
        return fresh(lambda: [
            [str(td.text) for td in row.find_elements(By.CSS_SELECTOR, "td")]
            for row in self.find_all(css)
        ])

    def fill(self, fields: dict[str, str]) -> None:
        for element_id, value in fields.items():
            field = self.find(f"#{element_id}")
            field.clear()
            field.send_keys(value)

    def click(self, css: str) -> None:
        self.find(css).click()

    def follow(self, link_text: str) -> None:
        """Follow a link by its text and wait for the page it opens."""
        self._navigate(self.driver.find_element(By.LINK_TEXT, link_text))

    def submit(self, css: str) -> None:
        """Click a button that loads a new page, and wait until the new page is there."""
        self._navigate(self.find(css))

    def _navigate(self, element: WebElement, timeout_s: float = 30.0) -> None:
        old = self.find("html")
        element.click()
        WebDriverWait(self.driver, timeout_s).until(lambda _: is_detached(old))
        WebDriverWait(self.driver, timeout_s).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def wait_for(self, css: str, timeout_s: float = 20.0) -> WebElement:
        return WebDriverWait(self.driver, timeout_s).until(
            lambda d: d.find_element(By.CSS_SELECTOR, css)
        )

    def wait_text(self, css: str, text: str, timeout_s: float = 30.0) -> None:
        def shown(_: Any) -> bool:
            # A page being replaced by the next one, or a fragment by its refresh, leaves the
            # element just found stale: look again at the next poll.
            try:
                return text in self.find(css).text
            except WebDriverException as exc:
                if is_stale(exc):
                    return False
                raise

        WebDriverWait(self.driver, timeout_s).until(shown)

    def screenshot(self, name: str, width: int = WINDOW[0]) -> Path:
        target = self.shots / f"{name}.png"
        # The whole page, not only the window: grow the window to the page's height.
        self.driver.set_window_size(width, WINDOW[1])
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width, min(max(int(height), WINDOW[1]), MAX_HEIGHT))
        self.driver.save_screenshot(str(target))
        self.driver.set_window_size(*WINDOW)
        keep = os.environ.get(KEEP_SCREENSHOTS_ENV)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, Path(keep) / target.name)
        return target

    def has_alert(self) -> bool:
        try:
            self.driver.switch_to.alert  # noqa: B018
        except NoAlertPresentException:
            return False
        return True

    def axe_violations(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the current page."""
        self.driver.execute_script(AXE_JS.read_text())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations), e => done([{id: 'axe-error', impact: 'critical',"
            " help: String(e), nodes: []}]));"
        )
        return [v for v in result if v.get("impact") in ("serious", "critical")]

