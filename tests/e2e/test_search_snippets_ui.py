"""Conversation search in the chat sidebar shows where it matched: a snippet of the matching
message under the title, the match marked. Desktop (light) and phone 390x844 (dark, in the
drawer), with axe checks and screenshots."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, Page, expect

from tests.chat.conftest import send
from tests.conftest import bearer
from tests.e2e.conftest import axe_violations, phone_page, screenshot
from tests.e2e.test_chat_ui import open_chat, user_session


async def test_search_results_show_a_snippet_of_the_matching_text(browser: Browser, page: Page, web: str) -> None:
    tokens = await user_session(web)
    async with httpx.AsyncClient(base_url=web) as client:
        auth = bearer(tokens)
        first = (await send(client, auth, "Billing address change")).json()["conversation_id"]
        await send(client, auth, "Also my invoice total is wrong since March", conversation_id=first)
        await send(client, auth, "Where is my parcel?")

    phone = await phone_page(browser, web)
    await phone.emulate_media(color_scheme="dark", reduced_motion="reduce")
    try:
        for name, p in (("desktop", page), ("phone-dark", phone)):
            await open_chat(p, tokens)
            sidebar = p.get_by_role("complementary", name="Conversations")
            if name == "phone-dark":
                await p.get_by_role("button", name="Conversations", exact=True).click()
                await expect(sidebar.get_by_role("searchbox")).to_be_visible()
            links = sidebar.locator(".conversation-link")
            await expect(links).to_have_count(2)
            await expect(sidebar.locator(".conversation-snippet")).to_have_count(0)  # no search, no snippet

            await sidebar.get_by_role("searchbox").fill("INVOICE total")
            await expect(links).to_have_count(1)
            link = links.first
            await expect(link).to_contain_text("Billing address change")  # the title
            snippet = link.locator(".conversation-snippet")
            await expect(snippet).to_contain_text("Also my invoice total is wrong since March")
            await expect(snippet.locator("mark")).to_have_text("invoice total")
            if name == "phone-dark":
                await expect(p.locator("html")).to_have_attribute("data-theme", "dark")
            violations = await axe_violations(p)
            assert violations == [], (name, violations)
            await screenshot(p, f"chat-search-snippet-{name}")

            # The snippet leads to the conversation.
            await link.click()
            await expect(p).to_have_url(f"{web}/chat/{first}")
            await expect(p.get_by_role("heading", level=1, name="Billing address change")).to_be_visible()
    finally:
        await phone.context.close()
