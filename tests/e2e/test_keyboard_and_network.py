"""Keyboard-only use, and an answer that survives the network dropping while it streams."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import PASSWORD, register
from tests.e2e.conftest import sign_in_page

ANSWER = "You said: Tell me about parcels (I saw 1 messages of this conversation.)"


@pytest.fixture
def llm() -> Any:
    from tests.chat.fakes import FakeProvider

    # About 4 s per answer: long enough to drop the network in the middle of it.
    return FakeProvider(chunks=8, delay=0.5)


async def tab_to(page: Page, label: str, presses: int = 80) -> None:
    """Press Tab until the focused element is the one labelled ``label`` (keyboard only)."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        # The focused control's accessible name: its aria-label, its <label>, or a link's or
        # button's text. The page body (focus between controls) has none.
        focused = await page.evaluate(
            """() => {
                const e = document.activeElement;
                if (!e || e === document.body) return "";
                if (e.getAttribute("aria-label")) return e.getAttribute("aria-label");
                if (e.labels && e.labels[0]) return e.labels[0].textContent;
                return ["A", "BUTTON"].includes(e.tagName) ? e.textContent : "";
            }"""
        )
        if str(focused).strip().lower() == label.lower():
            return
    raise AssertionError(f"Tab never reached {label!r}")


async def test_sign_in_and_chat_with_the_keyboard_only(page: Page, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await register(client, "keys@example.com")).status_code == 202
    await page.goto("/login")
    await tab_to(page, "Email or username")
    await page.keyboard.type("keys@example.com")
    await tab_to(page, "Password")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{web}/chat")
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()  # the page has loaded
    await tab_to(page, "Message")
    await page.keyboard.type("Tell me about parcels")
    await page.keyboard.press("Enter")
    await expect(page.locator(".bubble.assistant .markdown").last).to_have_text(ANSWER, timeout=20_000)


async def test_an_answer_streaming_through_a_network_drop_arrives_whole(page: Page, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await register(client, "drop@example.com")).status_code == 202
        tokens = (
            await client.post("/api/v1/auth/login", json={"login": "drop@example.com", "password": PASSWORD})
        ).json()

    await sign_in_page(page, tokens)
    await page.goto("/chat")
    box = page.get_by_role("textbox", name="Message")
    await box.fill("Tell me about parcels")
    await box.press("Enter")
    answer = page.locator(".bubble.assistant .markdown").last
    await expect(answer).to_contain_text("You said:")  # the first tokens are in
    await page.context.set_offline(True)
    # The server keeps generating while the browser is cut off; the stream breaks.
    await page.wait_for_timeout(1500)
    await page.context.set_offline(False)
    await expect(answer).to_contain_text("conversation.)", timeout=20_000)
    await expect(answer).to_have_text(ANSWER)  # nothing lost, nothing repeated
