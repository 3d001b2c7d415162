"""Finding a message in the console and reading its timeline, in a real browser: submitted over
SMPP, searched by destination, opened, its trail from acceptance to its final state."""

from __future__ import annotations

import asyncio

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import SmscFactory
from tests.console.browser import screenshot, wait_for
from tests.console.test_browser_login import log_in

pytestmark = pytest.mark.asyncio

WANTED = "447700900777"


def _scenario(driver: WebDriver, base: str, token: str, message_id: str) -> None:
    log_in(driver, base, token)
    driver.find_element(By.CSS_SELECTOR, 'nav a[data-view="messages"]').click()
    field = wait_for(driver, lambda d: d.find_element(By.ID, "filter-destination"), "the filters")
    # A state the node does not know: its answer stands next to the field.
    driver.find_element(By.ID, "filter-state").send_keys("lost")
    driver.find_element(By.ID, "search").click()
    error = wait_for(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, '.field-error[data-key="state"]'),
        "the unknown state refused",
    )
    assert "lost" in error[0].text
    driver.find_element(By.ID, "filter-state").clear()

    field = driver.find_element(By.ID, "filter-destination")
    field.send_keys(WANTED)
    driver.find_element(By.ID, "search").click()
    links = wait_for(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#results a.message-link"),
        "the search's results",
    )
    # The other destinations are filtered out: one message, the one submitted to WANTED.
    assert [link.text for link in links] == [message_id]
    assert WANTED in driver.find_element(By.ID, "results").text
    screenshot(driver, "messages-search")

    links[0].click()
    timeline = wait_for(driver, lambda d: d.find_element(By.ID, "timeline"), "the timeline")
    wait_for(
        driver,
        lambda d: "accepted" in d.find_element(By.ID, "timeline").text,
        "the acceptance in the timeline",
    )
    assert message_id in driver.find_element(By.ID, "view").text
    assert timeline.find_elements(By.TAG_NAME, "li")
    screenshot(driver, "message-timeline")

    # Delivered is final: the node refuses to cancel it, and the console says why.
    driver.find_element(By.ID, "message-cancel").click()
    notice = wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "notice").is_displayed() and d.find_element(By.ID, "notice")
        ),
        "the refusal to cancel",
    )
    assert notice.text
    assert driver.find_element(By.ID, "message-state").text == "delivered"
    screenshot(driver, "message-cancel-refused")


async def test_find_a_message_and_its_timeline(
    smsc_factory: SmscFactory, browser: WebDriver
) -> None:
    smsc = await smsc_factory()
    token = (smsc.data_dir / "admin-token").read_text().strip()
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    client = await smsc.bound("trx", "esme1")
    for other in ("447700900001", "447700900002"):
        assert (await client.submit(destination_addr=other)).status == 0
    resp = await client.submit(destination_addr=WANTED, short_message=b"find me")
    assert resp.status == 0
    message_id = resp.pdu.message_id  # type: ignore[attr-defined]
    await asyncio.to_thread(_scenario, browser, base, token, message_id)
