"""The help center's "contact us" for a signed-in user: they reach a person as themselves, in a
conversation of their own that the chat page shows with its handoff bar, not as a guest through
the widget. Desktop (light) and phone 390x844 (dark), with axe checks and screenshots."""

from __future__ import annotations

import asyncpg
import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import signed_in
from tests.e2e.conftest import axe_violations, phone_page, screenshot, sign_in_page
from tests.e2e.test_landing_help_ui import seed


async def test_signed_in_contact_us_hands_their_own_conversation_to_a_person(
    browser: Browser, page: Page, web: str, db: asyncpg.Connection
) -> None:
    faqs = await seed(web, db)
    async with httpx.AsyncClient(base_url=web) as client:
        tokens = await signed_in(client, "reader@example.com")
    phone = await phone_page(browser, web)
    await phone.emulate_media(color_scheme="dark", reduced_motion="reduce")
    try:
        for name, p in (("desktop", page), ("phone-dark", phone)):
            await sign_in_page(p, tokens)
            await p.goto(f"/help/{faqs['track']['slug']}")
            await p.get_by_role("button", name="No").click()
            contact = p.get_by_role("button", name="Contact us")
            await expect(contact).to_be_enabled()
            await contact.click()

            # The chat page, on the user's own conversation, waiting for a person; no widget.
            await p.wait_for_url(f"{web}/chat/*")
            await expect(p.get_by_role("status").filter(has_text="Waiting for a person.")).to_be_visible()
            await expect(p.locator(".bubble.user").first).to_contain_text(
                f"I would like to talk to a person about: {faqs['track']['question']}"
            )
            await expect(p.get_by_role("dialog", name="Help")).to_have_count(0)
            assert await p.evaluate("window.HelplineWidget === undefined")
            if name == "phone-dark":
                await expect(p.locator("html")).to_have_attribute("data-theme", "dark")
            assert await axe_violations(p) == [], name
            await screenshot(p, f"help-contact-signed-in-{name}")

            # From a search's results as well, about what was searched for.
            await p.goto("/help?q=where%20is%20my%20parcel")
            await p.get_by_role("button", name="Contact us").click()
            await p.wait_for_url(f"{web}/chat/*")
            await expect(p.locator(".bubble.user").first).to_contain_text(
                "I would like to talk to a person about: where is my parcel"
            )
    finally:
        await phone.context.close()

    rows = await db.fetch("SELECT c.handoff_status, u.email FROM conversations c JOIN users u ON u.id = c.user_id")
    assert [(r["handoff_status"], r["email"]) for r in rows] == [("waiting_for_agent", "reader@example.com")] * 4
