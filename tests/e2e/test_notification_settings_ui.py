"""The account page's notification settings in a real browser: a box per kind and channel,
saved at once and still there after a reload."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.conftest import signed_in
from tests.e2e.conftest import axe_violations, sign_in_page


async def test_a_user_turns_a_notification_off_and_it_stays_off(page: Page, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        tokens = await signed_in(client, "quiet@example.com")
    await sign_in_page(page, tokens)
    await page.goto("/account")
    section = page.get_by_role("region", name="Notifications")
    box = section.get_by_role("checkbox", name="A person answered my conversation: Email")
    await expect(box).to_be_checked()
    # Push boxes are about this browser, which is not subscribed (tests/e2e/test_push_ui.py).
    await expect(section.get_by_role("checkbox", name="My data export is ready: App (push)")).not_to_be_checked()
    await expect(section.get_by_text("Alerts for staff")).to_have_count(0)  # not staff
    assert await axe_violations(page) == []
    await box.click()
    await expect(box).not_to_be_checked()
    await expect(section.get_by_role("status")).to_have_text("Saved")
    await page.reload()
    await expect(
        page.get_by_role("region", name="Notifications").get_by_role(
            "checkbox", name="A person answered my conversation: Email"
        )
    ).not_to_be_checked()
