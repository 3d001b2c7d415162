"""The console's live overview in a real browser: the rates move while an SMPP client submits,
the bound session shows with its window, the chart draws the traffic, without a reload."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import SmppTestClient, SmscFactory
from tests.console.browser import screenshot, wait_for
from tests.console.test_browser_login import log_in

pytestmark = pytest.mark.asyncio

# Pixels of the "in" line (#1d4ed8) above the chart's zero line: none while nothing comes in.
CHART_IN_PIXELS_ABOVE_ZERO = """
const canvas = document.getElementById("chart");
const ctx = canvas.getContext("2d");
const ratio = window.devicePixelRatio || 1;
const bottom = Math.floor((canvas.clientHeight - 22 - 4) * ratio);
const data = ctx.getImageData(0, 0, canvas.width, bottom).data;
let count = 0;
for (let i = 0; i < data.length; i += 4) {
  if (Math.abs(data[i] - 0x1d) < 40 && Math.abs(data[i + 1] - 0x4e) < 40
      && Math.abs(data[i + 2] - 0xd8) < 40 && data[i + 3] > 128) count++;
}
return count;
"""


def _rate(driver: WebDriver, element_id: str) -> float:
    text = driver.find_element(By.ID, element_id).text
    try:
        return float(text)
    except ValueError:
        return -1.0


def _before_traffic(driver: WebDriver, base: str, token: str) -> None:
    log_in(driver, base, token)
    wait_for(driver, lambda d: d.find_element(By.ID, "live").text == "live", "the live stream")
    wait_for(driver, lambda d: _rate(d, "rate-in") == 0.0, "a rate of 0 before traffic")
    assert driver.execute_script(CHART_IN_PIXELS_ABOVE_ZERO) == 0
    screenshot(driver, "overview-idle")


def _under_traffic(driver: WebDriver) -> None:
    url = driver.current_url
    wait_for(driver, lambda d: _rate(d, "rate-in") > 0, "messages/s in above 0")
    wait_for(driver, lambda d: _rate(d, "rate-out") > 0, "messages/s out above 0")
    sessions = wait_for(
        driver,
        lambda d: (
            "esme1" in d.find_element(By.ID, "sessions").text and d.find_element(By.ID, "sessions")
        ),
        "the bound session",
    )
    assert "trx" in sessions.text
    assert sessions.find_elements(By.CSS_SELECTOR, ".bar")  # its window use
    wait_for(
        driver,
        lambda d: d.execute_script(CHART_IN_PIXELS_ABOVE_ZERO) > 0,
        "the chart's in line above zero",
    )
    assert driver.current_url == url  # all of it without a reload
    screenshot(driver, "overview-traffic")

    # The session's PDUs, live: the client's submit_sm coming in, our responses going out.
    sessions.find_element(By.CSS_SELECTOR, "a.session-link").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "live").text == "live", "the session's tail")

    def both_ways(d: WebDriver) -> bool:
        # The tail starts wherever the session is: the first line may be a response whose
        # submit_sm came before the tail did, so wait for both directions.
        text = d.find_element(By.ID, "tail").text
        return "submit_sm_resp" in text and "submit_sm" in text.replace("submit_sm_resp", "")

    wait_for(driver, both_ways, "submit_sm and its response in the tail")
    screenshot(driver, "session-tail")


async def _submit_forever(client: SmppTestClient) -> None:
    number = 0
    while True:
        number += 1
        resp = await client.submit(destination_addr=f"447700900{number % 1000:03d}")
        assert resp.status == 0
        await asyncio.sleep(0.05)


async def test_the_rates_move_under_traffic(smsc_factory: SmscFactory, browser: WebDriver) -> None:
    smsc = await smsc_factory()
    token = (smsc.data_dir / "admin-token").read_text().strip()
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    await asyncio.to_thread(_before_traffic, browser, base, token)
    client = await smsc.bound("trx", "esme1")
    traffic = asyncio.create_task(_submit_forever(client))
    try:
        await asyncio.to_thread(_under_traffic, browser)
    finally:
        traffic.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await traffic
