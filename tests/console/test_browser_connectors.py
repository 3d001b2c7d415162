"""Connectors in the console, in a real browser: listed from the live configuration, a bad value
refused with the configuration's own error next to its field, and one disabled."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from opensmsc import app
from opensmsc.config import SmppClientConfig
from tests.conftest import PASSWORDS, SmscFactory, make_config
from tests.console.browser import screenshot, wait_for
from tests.console.test_browser_login import log_in

pytestmark = pytest.mark.asyncio


def _enabled_shown(driver: WebDriver) -> str:
    row = driver.find_element(By.XPATH, '//tr[td[normalize-space()="carrier"]]')
    return str(row.find_element(By.CSS_SELECTOR, "[data-enabled]").get_attribute("data-enabled"))


def _scenario(driver: WebDriver, base: str, token: str) -> None:
    log_in(driver, base, token)
    driver.get(f"{base}/console/#/config/connectors?edit=carrier")
    form = wait_for(driver, lambda d: d.find_element(By.ID, "edit-form"), "the connector's form")
    assert _enabled_shown(driver) == "true"
    port = form.find_element(By.NAME, "port")
    port.clear()
    port.send_keys("70000")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = wait_for(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#edit-form label .field-error"),
        "the refusal next to the port",
    )
    assert error[0].find_element(By.XPATH, "..").find_element(By.NAME, "port")
    screenshot(driver, "connector-refused")

    driver.find_element(By.ID, "disable-carrier").click()
    wait_for(driver, lambda d: _enabled_shown(d) == "false", "the connector disabled")
    screenshot(driver, "connector-disabled")

    # Its health on the overview: still listed, no longer bound upstream.
    driver.find_element(By.CSS_SELECTOR, 'nav a[data-view="overview"]').click()
    connectors = wait_for(
        driver,
        lambda d: (
            "carrier" in d.find_element(By.ID, "connectors").text
            and d.find_element(By.ID, "connectors")
        ),
        "the connector on the overview",
    )
    screenshot(driver, "overview-connector")
    assert "bound" not in connectors.text.split()


async def test_disable_a_connector(
    smsc_factory: SmscFactory, tmp_path: Path, browser: WebDriver
) -> None:
    carrier = await smsc_factory()
    connector = SmppClientConfig(
        name="carrier",
        host="127.0.0.1",
        port=carrier.port,
        system_id="esme1",
        password=PASSWORDS["esme1"],
    )
    config = make_config(tmp_path / "node")
    config = dataclasses.replace(config, smpp=dataclasses.replace(config.smpp, client=(connector,)))
    running = await app.start(config)
    try:
        token = (config.node.data_dir / "admin-token").read_text().strip()
        base = f"http://127.0.0.1:{running.ports['http']}"
        await asyncio.to_thread(_scenario, browser, base, token)
        async with httpx.AsyncClient(base_url=base) as client:
            items = (await client.get("/v1/admin/connectors")).json()["items"]
        assert [(item["name"], item["enabled"]) for item in items] == [("carrier", False)]
    finally:
        await running.stop()
