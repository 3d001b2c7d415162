"""A headless Chromium for the console's tests: Debian's `chromium` driven through its
`chromidriver` by Selenium (tests/install-system-deps.sh installs both), and the screenshots
the tests leave under artifacts/screenshots/ for CI to keep.

Selenium's calls block: a test whose node runs on its own event loop drives the browser from a
thread (`await asyncio.to_thread(scenario, ...)`), so the node goes on answering meanwhile.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WAIT_S = 30.0  # generous: two cores shared by several test runs
T = TypeVar("T")


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    # Never a skip: CI installs these, and a console test that does not run proves nothing.
    pytest.fail(f"{names[0]} is not installed: run `bash tests/install-system-deps.sh`")


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium", "chromium-browser")
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1100",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    service = Service(executable_path=_binary("chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], T], what: str) -> T:
    """`condition`'s first truthy answer, or a failure naming `what` (with a screenshot)."""
    try:
        # The console re-renders a view after each change: an element read a moment ago may
        # be gone, and the next poll finds its successor.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.2, ignored_exceptions=ignored)
        return wait.until(condition, what)
    except Exception:
        screenshot(driver, "failed-" + "".join(c if c.isalnum() else "-" for c in what)[:60])
        raise


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
