"""The grounded-answer guard on the chat screen, in a real browser against a real server (scripted
model, fake embedder): a streamed answer with an invented phone number is replaced, before the
user's eyes, by the help article's own answer with a note saying why; an answer with no article
close enough becomes an honest "I don't know" with the closest articles; the history shows the
same after a reload; and "Not helpful" offers the next step."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from playwright.async_api import Page, expect

from helpline.core.runtime import Runtime
from tests.chat.fakes import ScriptedProvider
from tests.chat.test_grounding import FAQ, PARTIAL, publish
from tests.e2e.conftest import axe_violations, screenshot
from tests.e2e.test_chat_ui import open_chat, user_session

PHONE = "1-800-463-3339"
NOTE = "Answered with our help article, because the assistant's own answer could not be checked against it."


async def test_a_rejected_answer_is_replaced_on_screen_and_in_the_history(
    page: Page, web: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        faq = await publish(client, db)
    help_link = f"/help/{faq['slug']}"
    await open_chat(page, await user_session(web))
    box = page.get_by_role("textbox", name="Message")

    # The model invents a phone number; it is held after its first words, so they are seen.
    gate = asyncio.Event()
    runtime.llm = ScriptedProvider(chunks=[f"For a damaged parcel call the carrier at {PHONE}", " [1]."], gate=gate)
    runtime.settings.guard.source_min_similarity = 0.0  # the FAQ is close enough to stand in
    await box.fill(PARTIAL)
    await box.press("Enter")
    answer = page.locator(".bubble.assistant").last
    await expect(answer).to_contain_text(PHONE)
    gate.set()
    await expect(answer).to_contain_text(FAQ["answer"])
    await expect(answer).not_to_contain_text(PHONE)
    await expect(answer).to_contain_text(f"Here is what our help article “{FAQ['question']}” says:")
    await expect(answer.get_by_text(NOTE)).to_be_visible()
    source = answer.get_by_role("list", name="Sources").get_by_role("link", name=FAQ["question"])
    await expect(source).to_have_attribute("href", help_link)

    # No article close enough: an honest "I don't know", with the closest articles to look at.
    runtime.llm = ScriptedProvider(chunks=["Write to refunds@parcelo.example [1]."])
    runtime.settings.guard.source_min_similarity = 1.0
    await box.fill(PARTIAL)
    await box.press("Enter")
    honest = page.locator(".bubble.assistant").nth(1)
    await expect(honest).to_contain_text("I'm sorry, I don't know the answer to that")
    await expect(honest).not_to_contain_text("refunds@parcelo.example")
    closest = honest.get_by_role("list", name="Closest articles")
    await expect(closest.get_by_role("link", name=FAQ["question"])).to_have_attribute("href", help_link)
    await expect(honest.get_by_role("list", name="Sources")).to_have_count(0)
    await expect(honest.get_by_text(NOTE)).to_have_count(0)
    await screenshot(page, "chat-guarded")
    assert await axe_violations(page) == []

    # The stored history tells the same.
    await page.reload()
    answers = page.locator(".bubble.assistant")
    await expect(answers).to_have_count(2)
    await expect(answers.nth(0).get_by_text(NOTE)).to_be_visible()
    await expect(answers.nth(0)).not_to_contain_text(PHONE)
    await expect(answers.nth(0).get_by_role("list", name="Sources").get_by_role("link")).to_have_attribute(
        "href", help_link
    )
    honest = answers.nth(1)
    await expect(honest).to_contain_text("I'm sorry, I don't know the answer to that")
    await expect(honest.get_by_role("list", name="Closest articles").get_by_role("link")).to_have_attribute(
        "href", help_link
    )

    # Not helpful: the next step is the closest articles, or asking in other words.
    await honest.get_by_role("button", name="Not helpful").click()
    await expect(honest.get_by_text("Sorry this did not help.")).to_be_visible()
    offered = honest.get_by_role("list", name="These articles may have what you need")
    await expect(offered.get_by_role("link", name=FAQ["question"])).to_have_attribute("href", help_link)
    await honest.get_by_role("button", name="Ask in other words").click()
    await expect(box).to_be_focused()
    assert await db.fetchval("SELECT helpful FROM message_feedback") is False
    await screenshot(page, "chat-not-helpful")
    assert await axe_violations(page) == []
