"""Routes in the console, in a real browser: one added to the running node, first refused by
the configuration's own rules (the message next to its field), then taken and disabled."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import SmscFactory
from tests.console.browser import screenshot, wait_for
from tests.console.test_browser_login import log_in

pytestmark = pytest.mark.asyncio


def _add(driver: WebDriver, prefix: str, route: str) -> None:
    form = driver.find_element(By.ID, "add-form")
    for name, value in (("prefix", prefix), ("route", route)):
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def _scenario(driver: WebDriver, base: str, token: str) -> None:
    log_in(driver, base, token)
    driver.find_element(By.CSS_SELECTOR, 'nav a[data-view="routes"]').click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "add-form"), "the routes page")
    assert "no routes" in driver.find_element(By.ID, "view").text

    _add(driver, "4477", "no-such-connector")
    errors = wait_for(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#add-form .field-error"),
        "the refusal",
    )
    beside = [e for e in errors if e.find_elements(By.XPATH, "../input[@name='route']")]
    assert beside, [e.text for e in errors]
    assert "no-such-connector" in beside[0].text
    screenshot(driver, "route-refused")

    _add(driver, "4477", "network")
    wait_for(driver, lambda d: d.find_elements(By.ID, "disable-4477"), "the route listed")
    driver.find_element(By.ID, "disable-4477").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "enable-4477"), "the route disabled")
    screenshot(driver, "routes")


async def test_add_and_disable_a_route(smsc_factory: SmscFactory, browser: WebDriver) -> None:
    smsc = await smsc_factory()
    token = (smsc.data_dir / "admin-token").read_text().strip()
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    await asyncio.to_thread(_scenario, browser, base, token)
    async with httpx.AsyncClient(base_url=base) as client:
        items = (await client.get("/v1/admin/routes")).json()["items"]
    assert [(i["prefix"], i["route"], i["enabled"]) for i in items] == [("4477", "network", False)]
