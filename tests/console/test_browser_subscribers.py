"""The simulated network's subscribers in the console, in a real browser: listed, added,
refused with the API's validation error shown next to its field, and changed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.conftest import SmscFactory
from tests.console.browser import screenshot, wait_for
from tests.console.test_browser_login import log_in

pytestmark = pytest.mark.asyncio


def _add(driver: WebDriver, **fields: str) -> None:
    form = driver.find_element(By.ID, "add-form")
    for name, value in fields.items():
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


_STATE = 'select[data-msisdn="+447700900555"]'


def _state_shown(driver: WebDriver) -> str:
    return str(Select(driver.find_element(By.CSS_SELECTOR, _STATE)).first_selected_option.text)


def _scenario(driver: WebDriver, base: str, token: str) -> None:
    log_in(driver, base, token)
    driver.get(f"{base}/console/#/subscribers")
    wait_for(driver, lambda d: d.find_elements(By.ID, "add-form"), "the subscribers page")

    # Refused by the API's own rules: the message stands next to the field it names.
    _add(driver, msisdn="+447700900555", failure_probability="2")
    error = wait_for(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, '.field-error[data-key="failure_probability"]'),
        "the validation error next to failure_probability",
    )
    assert "1" in error[0].text  # "less than or equal to 1"
    label = error[0].find_element(By.XPATH, "..")
    assert label.find_element(By.NAME, "failure_probability")
    screenshot(driver, "subscribers-refused")

    _add(driver, msisdn="+447700900555", failure_probability="0", state="absent")
    wait_for(driver, lambda d: _state_shown(d) == "absent", "the new subscriber's row")
    Select(driver.find_element(By.CSS_SELECTOR, _STATE)).select_by_value("attached")
    wait_for(driver, lambda d: _state_shown(d) == "attached", "the subscriber attached")
    screenshot(driver, "subscribers")


async def test_subscribers_added_refused_and_changed(
    smsc_factory: SmscFactory, browser: WebDriver
) -> None:
    smsc = await smsc_factory()
    token = (smsc.data_dir / "admin-token").read_text().strip()
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    await asyncio.to_thread(_scenario, browser, base, token)
    async with httpx.AsyncClient(base_url=base) as client:
        found = (await client.get("/v1/network/subscribers/+447700900555")).json()
    assert found["state"] == "attached"
    assert found["failure_probability"] == 0
