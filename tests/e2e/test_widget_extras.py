"""The widget's conveniences in a real browser, on Helpline's own landing page (same origin):
an unread badge when an answer arrives while it is closed, thumbs up/down, Stop, a new
conversation, sources kept in view, on a desktop and a phone (390x844)."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from helpline.ai.providers.fake import FakeProvider
from tests.conftest import bearer, login, make_admin, register
from tests.e2e.conftest import axe_violations, phone_page, screenshot


@pytest.fixture
def llm() -> Any:
    # Slow and in many pieces: long enough to close the panel or press Stop while it is written.
    return FakeProvider(chunks=30, delay=0.1)


async def open_guest_chat(p: Page) -> None:
    await p.goto("/")
    await p.get_by_role("button", name="Chat now, no account needed").click()
    await expect(p.get_by_role("dialog", name="Help")).to_be_visible()


async def ask(p: Page, text: str) -> None:
    await p.get_by_label("Message").fill(text)
    await p.keyboard.press("Enter")


async def test_unread_badge_thumbs_and_new_conversation(
    browser: Browser, page: Page, web: str, db: asyncpg.Connection
) -> None:
    for name, p in [("desktop", page), ("phone", await phone_page(browser, web))]:
        await open_guest_chat(p)
        dialog = p.get_by_role("dialog", name="Help")
        await ask(p, "Where is my parcel?")
        await expect(dialog.locator(".msg.bot").last).to_contain_text("You said")
        # Closed while the answer is still being written: the bubble counts it when it is done.
        await p.get_by_role("button", name="Close chat").click()
        bubble = p.get_by_role("button", name="Open chat, 1 new")
        await expect(bubble).to_be_visible(timeout=30_000)
        await screenshot(p, f"widget-unread-{name}")
        assert await axe_violations(p) == [], name
        await bubble.click()
        await expect(p.get_by_role("button", name="Close chat")).to_be_visible()
        await expect(p.get_by_role("button", name="Open chat, 1 new")).to_have_count(0)

        # Thumbs down on the answer: pressed, thanked, stored as the guest's feedback.
        answer = dialog.locator(".msg.bot").last
        await expect(answer).to_contain_text("(I saw 1 messages of this conversation.)", timeout=30_000)
        down = answer.get_by_role("button", name="Not helpful")
        await down.click()
        await expect(down).to_have_attribute("aria-pressed", "true")
        await expect(answer.get_by_role("status")).to_have_text("Thanks for your feedback.")
        assert await axe_violations(p) == [], name
        await screenshot(p, f"widget-thumbs-{name}")

        # New conversation: an empty log, and the next message starts another conversation.
        await p.get_by_role("button", name="New conversation").click()
        await expect(dialog.locator(".msg.user")).to_have_count(0)
        await expect(p.get_by_label("Message")).to_be_focused()
        await ask(p, "A second question")
        await expect(dialog.locator(".msg.bot").last).to_contain_text(
            "(I saw 1 messages of this conversation.)", timeout=30_000
        )
        if p is not page:
            await p.context.close()
    assert await db.fetchval("SELECT count(*) FROM message_feedback WHERE helpful = false") == 2
    assert await db.fetchval("SELECT count(*) FROM conversations") == 4


async def test_stop_keeps_what_was_written_and_offers_a_retry(browser: Browser, page: Page, web: str) -> None:
    for name, p in [("desktop", page), ("phone", await phone_page(browser, web))]:
        await open_guest_chat(p)
        dialog = p.get_by_role("dialog", name="Help")
        await ask(p, "Tell me a long story about parcels and where they go")
        await expect(dialog.locator(".msg.bot").last).to_contain_text("You said")
        stop = p.get_by_role("button", name="Stop")
        await expect(stop).to_be_visible()
        await stop.click()
        answer = dialog.locator(".msg.bot").last
        await expect(answer).to_contain_text("Stopped. The answer may be incomplete.")
        await expect(answer).not_to_contain_text("(I saw 1 messages")
        await expect(p.get_by_role("button", name="Send")).to_be_visible()
        assert await axe_violations(p) == [], name
        await screenshot(p, f"widget-stopped-{name}")
        # Try again writes it whole.
        await answer.get_by_role("button", name="Try again").click()
        await expect(answer).to_contain_text("(I saw 1 messages of this conversation.)", timeout=30_000)
        await expect(answer).not_to_contain_text("Stopped.")
        if p is not page:
            await p.context.close()


class TestSources:
    @pytest.fixture
    def llm(self) -> Any:
        return FakeProvider()

    async def test_sources_stay_in_view_after_the_answer(
        self, browser: Browser, page: Page, web: str, db: asyncpg.Connection
    ) -> None:
        async with httpx.AsyncClient(base_url=web) as client:
            assert (await register(client, "boss@example.com")).status_code == 202
            await make_admin(db, "boss@example.com")
            auth = bearer((await login(client, "boss@example.com")).json())
            long_answer = "\n\n".join(f"Step {i}: do the thing number {i}." for i in range(1, 15))
            r = await client.post(
                "/api/v1/faqs",
                headers=auth,
                json={"question": "How do I return a parcel?", "answer": long_answer, "status": "published"},
            )
            assert r.status_code == 201, r.text
        for name, p in [("desktop", page), ("phone", await phone_page(browser, web))]:
            await open_guest_chat(p)
            await ask(p, "How do I return a parcel?")
            dialog = p.get_by_role("dialog", name="Help")
            sources = dialog.locator(".msg.bot").last.locator(".sources")
            await expect(sources).to_be_visible()
            await expect(sources).to_be_in_viewport()
            # The log is scrolled to its end: the sources and the thumbs under them show.
            log = dialog.get_by_role("log")
            gap = await log.evaluate("l => l.scrollHeight - l.scrollTop - l.clientHeight")
            assert gap < 2, f"{name}: {gap}px of the answer below the fold"
            await screenshot(p, f"widget-sources-in-view-{name}")
            if p is not page:
                await p.context.close()
