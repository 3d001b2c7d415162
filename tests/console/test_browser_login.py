"""Logging in to the web console and out again, in a real browser (headless Chromium)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from opensmsc import app
from opensmsc.config import HttpConfig
from tests.conftest import SmscFactory, make_config
from tests.console.browser import screenshot, wait_for

pytestmark = pytest.mark.asyncio


def log_in(driver: WebDriver, base: str, token: str) -> None:
    """Opens the console, is sent to the login, and logs in with `token`."""
    driver.get(f"{base}/console/")
    wait_for(driver, lambda d: d.current_url.endswith("/console/login"), "the login page")
    field = driver.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "login").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "logout"), "the console after login")


def _scenario(driver: WebDriver, base: str, token: str) -> None:
    driver.get(f"{base}/console/")
    wait_for(driver, lambda d: d.current_url.endswith("/console/login"), "the login page")
    screenshot(driver, "login")
    driver.find_element(By.ID, "token").send_keys("not-the-token")
    driver.find_element(By.ID, "login").click()
    error = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".error"), "the refusal")
    assert "Wrong token" in error[0].text
    screenshot(driver, "login-refused")

    log_in(driver, base, token)
    assert driver.current_url.startswith(f"{base}/console/")
    # HttpOnly: the page's script cannot read the token it runs with.
    assert "opensmsc_admin" not in str(driver.execute_script("return document.cookie"))
    assert driver.get_cookie("opensmsc_admin")["value"] == token  # type: ignore[index]
    screenshot(driver, "logged-in")

    driver.find_element(By.ID, "logout").click()
    wait_for(driver, lambda d: d.current_url.endswith("/console/login"), "the login after logout")
    assert driver.get_cookie("opensmsc_admin") is None
    driver.get(f"{base}/console/")
    wait_for(driver, lambda d: d.current_url.endswith("/console/login"), "still logged out")


async def test_log_in_and_out(smsc_factory: SmscFactory, browser: WebDriver) -> None:
    smsc = await smsc_factory()
    token = (smsc.data_dir / "admin-token").read_text().strip()
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    await asyncio.to_thread(_scenario, browser, base, token)


def _cookie_gone(driver: WebDriver, base: str, token: str) -> None:
    log_in(driver, base, token)
    # Beyond loopback the API needs the cookie: the overview's figures came with it.
    wait_for(driver, lambda d: d.find_element(By.ID, "live").text == "live", "the live stream")
    wait_for(driver, lambda d: d.find_element(By.ID, "rate-in").text == "0.00", "the rates")
    # The token changed or the cookie went: the next call is refused, the console logs in again.
    driver.delete_cookie("opensmsc_admin")
    driver.find_element(By.CSS_SELECTOR, 'nav a[data-view="messages"]').click()
    wait_for(driver, lambda d: d.current_url.endswith("/console/login"), "back to the login")


async def test_beyond_loopback_the_console_runs_on_its_cookie(
    tmp_path: Path, browser: WebDriver
) -> None:
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(config, http=HttpConfig(bind_address="0.0.0.0", port=0))
    running = await app.start(config)
    try:
        token = (config.node.data_dir / "admin-token").read_text().strip()
        base = f"http://127.0.0.1:{running.ports['http']}"
        await asyncio.to_thread(_cookie_gone, browser, base, token)
    finally:
        await running.stop()
