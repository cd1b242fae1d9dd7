"""The grounded-answer guard on the chat screen, in a real browser against a real server (scripted
model, fake embedder): a question no article applies to gets an honest "I don't know" without
the model, small talk still gets the model's reply, and a looping answer is stopped and replaced
by the help article while the user watches."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from helpline.core.runtime import Runtime
from tests.chat.fakes import ScriptedProvider
from tests.conftest import bearer, make_admin, signed_in
from tests.e2e.conftest import axe_violations, sign_in_page

FAQ = {
    "question": "How do I reset my password?",
    "answer": "Open Settings, choose Security, then click Reset password and follow the email link.",
    "status": "published",
}
LOOP = ["Your parcel ", "is on its way ", "to you now. "] * 300


@pytest.fixture
def llm() -> Any:
    return ScriptedProvider(chunks=["Hello! I'm the support assistant. How can I help?"])


async def open_chat(page: Page, web: str, db: asyncpg.Connection) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web) as client:
        admin = await signed_in(client, "kb@example.com")
        await make_admin(db, "kb@example.com")
        r = await client.post("/api/v1/faqs", headers=bearer(admin), json=FAQ)
        assert r.status_code == 201, r.text
        faq: dict[str, Any] = r.json()
        user = await signed_in(client, "asker@example.com")
    await sign_in_page(page, user)
    await page.goto("/chat")
    return faq


async def say(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")


async def test_trivia_gets_i_dont_know_and_small_talk_a_reply(
    page: Page, web: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    await open_chat(page, web, db)
    provider = runtime.llm
    assert isinstance(provider, ScriptedProvider)

    await say(page, "Who won the 1998 world cup?")
    answer = page.locator(".bubble.assistant").last
    await expect(answer).to_contain_text("I'm sorry, I don't know the answer to that")
    await expect(answer).not_to_contain_text("France")
    assert provider.calls == []  # the model was never asked

    await say(page, "Thanks! Who are you?")
    reply = page.locator(".bubble.assistant").nth(1)
    await expect(reply).to_contain_text("I'm the support assistant")
    assert len(provider.calls) == 1
    assert await axe_violations(page) == []


async def test_a_looping_answer_is_stopped_and_replaced_by_the_article(
    page: Page, web: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    provider = ScriptedProvider(chunks=LOOP, delay=0.01)  # visibly streams, as the local model does
    runtime.llm = provider
    runtime.settings.guard.source_min_similarity = 0.0  # the FAQ applies and may stand in
    faq = await open_chat(page, web, db)

    await say(page, "my password reset email link never arrived, what now?")
    answer = page.locator(".bubble.assistant").last
    await expect(answer).to_contain_text(f"Here is what our help article “{FAQ['question']}” says:")
    await expect(answer).not_to_contain_text("Your parcel is on its way")
    await expect(answer.get_by_text("Answered with our help article")).to_be_visible()
    sources = answer.get_by_role("list", name="Sources")
    await expect(sources.get_by_role("link", name=FAQ["question"])).to_have_attribute("href", f"/help/{faq['slug']}")
    assert provider.yielded < 60  # stopped a few repetitions in, not at the 900th chunk
    assert provider.closed
