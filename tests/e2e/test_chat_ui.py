"""The chat screen in a real browser against a real server (fake model, fake embedder): a streamed
answer, FAQ citations, feedback, the conversation sidebar, drafts, offline sending, phone layout."""

from __future__ import annotations

import json
import re
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from helpline.core.runtime import Runtime
from tests.conftest import PASSWORD, bearer, make_admin, signed_in
from tests.e2e.conftest import axe_violations, phone_page, screenshot, sign_in_page

FAQ = {
    "question": "How do I reset my password?",
    "answer": (
        "Open **Settings**, choose Security, then click *Reset password*.\n\n```\nSettings > Security > Reset\n```"
    ),
    "status": "published",
}


@pytest.fixture
def llm() -> Any:
    from tests.chat.fakes import FakeProvider

    return FakeProvider(delay=0.05)  # slow enough that the answer visibly arrives in pieces


async def user_session(web: str, email: str = "chatter@example.com") -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web) as client:
        return await signed_in(client, email)


async def open_chat(page: Page, tokens: dict[str, Any], path: str = "/chat") -> None:
    await sign_in_page(page, tokens)
    await page.goto(path)
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()


async def test_a_streamed_answer_with_citations_and_feedback(page: Page, web: str, db: asyncpg.Connection) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        admin = await signed_in(client, "kb@example.com")
        await make_admin(db, "kb@example.com")
        r = await client.post("/api/v1/faqs", headers=bearer(admin), json=FAQ)
        assert r.status_code == 201, r.text
        faq = r.json()
    await open_chat(page, await user_session(web))
    assert await axe_violations(page) == []

    box = page.get_by_role("textbox", name="Message")
    await box.fill("Hello there, robot")
    await box.press("Enter")
    await expect(box).to_have_value("")
    # The typing notice, then the answer growing token by token, then the whole stored answer.
    answer = page.locator(".bubble.assistant").last
    await expect(answer).to_contain_text("You said:")
    await expect(answer).to_contain_text("You said: Hello there, robot (I saw 1 messages of this conversation.)")
    await expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    sidebar = page.get_by_role("complementary", name="Conversations")
    await expect(sidebar.get_by_role("link", name="Hello there, robot")).to_be_visible()

    await box.fill(FAQ["question"])
    await page.get_by_role("button", name="Send").click()
    sources = page.get_by_role("list", name="Sources")
    await expect(sources).to_have_count(1)
    link = sources.get_by_role("link", name=FAQ["question"])
    await expect(link).to_have_attribute("href", f"/help/{faq['slug']}")
    faq_answer = page.locator(".bubble.assistant").last
    await expect(faq_answer.locator("pre")).to_contain_text("Settings > Security > Reset")
    await expect(faq_answer.locator("strong")).to_have_text("Settings")

    helpful = faq_answer.get_by_role("button", name="Helpful", exact=True)
    await helpful.click()
    await expect(helpful).to_have_attribute("aria-pressed", "true")
    stored = await db.fetchval(
        "SELECT f.helpful FROM message_feedback f JOIN messages m ON m.id = f.message_id WHERE m.content = $1",
        FAQ["answer"],
    )
    assert stored is True
    # A changed mind changes the stored verdict.
    not_helpful = faq_answer.get_by_role("button", name="Not helpful")
    await not_helpful.click()
    await expect(not_helpful).to_have_attribute("aria-pressed", "true")
    await expect(helpful).to_have_attribute("aria-pressed", "false")
    assert await db.fetchval("SELECT helpful FROM message_feedback") is False

    await screenshot(page, "chat")
    assert await axe_violations(page) == []

    # A reload (here in a fresh browser context: another device) shows the stored conversation,
    # citations and the verdict included.
    url = page.url
    other = await page.context.browser.new_context(base_url=web)  # type: ignore[union-attr]
    try:
        again = await other.new_page()
        await sign_in_page(again, json.loads(await page.evaluate("localStorage.getItem('helpline.session')")))
        await again.goto(url)
        await expect(again.get_by_role("list", name="Sources")).to_have_count(1)
        await expect(again.locator(".bubble")).to_have_count(4)
        await expect(again.get_by_role("button", name="Not helpful").last).to_have_attribute("aria-pressed", "true")
    finally:
        await other.close()


async def test_rename_archive_and_delete_a_conversation(page: Page, web: str) -> None:
    tokens = await user_session(web)
    async with httpx.AsyncClient(base_url=web, headers=bearer(tokens)) as client:
        r = await client.post("/api/v1/chat/send", json={"message": "Where is my parcel?"})
        conv_id = r.json()["conversation_id"]
        await open_chat(page, tokens, f"/chat/{conv_id}")
        sidebar = page.get_by_role("complementary", name="Conversations")
        await expect(page.locator(".bubble.assistant")).to_contain_text("You said: Where is my parcel?")

        await sidebar.get_by_role("button", name="Actions for “Where is my parcel?”").click()
        await sidebar.get_by_role("button", name="Rename").click()
        title = sidebar.get_by_role("textbox", name="Conversation title")
        await title.fill("Lost parcel")
        await title.press("Escape")  # cancels
        await expect(sidebar.get_by_role("link", name="Where is my parcel?")).to_be_visible()
        await sidebar.get_by_role("button", name="Actions for “Where is my parcel?”").click()
        await sidebar.get_by_role("button", name="Rename").click()
        await title.fill("Lost parcel")
        await title.press("Enter")
        await expect(sidebar.get_by_role("link", name="Lost parcel")).to_be_visible()
        await expect(page.get_by_role("heading", name="Lost parcel", level=1)).to_be_visible()
        assert (await client.get(f"/api/v1/conversations/{conv_id}")).json()["title"] == "Lost parcel"

        await sidebar.get_by_role("button", name="Actions for “Lost parcel”").click()
        await sidebar.get_by_role("button", name="Delete").click()
        dialog = page.get_by_role("dialog", name="Delete this conversation?")
        await expect(dialog).to_be_visible()
        await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        assert await axe_violations(page) == []
        await dialog.get_by_role("button", name="Delete").click()
        await expect(dialog).to_be_hidden()
        await expect(sidebar.get_by_role("link", name="Lost parcel")).to_have_count(0)
        await expect(page).to_have_url(f"{web}/chat")
        assert (await client.get(f"/api/v1/conversations/{conv_id}")).status_code == 404

        # Archive moves a conversation to the archived list.
        r = await client.post("/api/v1/chat/send", json={"message": "Keep this for later"})
        await page.reload()
        await sidebar.get_by_role("button", name="Actions for “Keep this for later”").click()
        await sidebar.get_by_role("button", name="Archive").click()
        await expect(sidebar.get_by_role("link", name="Keep this for later")).to_have_count(0)
        await sidebar.get_by_label("Show").select_option("archived")
        await expect(sidebar.get_by_role("link", name="Keep this for later")).to_be_visible()


async def test_search_finds_conversations_by_title(page: Page, web: str) -> None:
    tokens = await user_session(web)
    async with httpx.AsyncClient(base_url=web, headers=bearer(tokens)) as client:
        for text in ("Refund for order 12", "Change delivery address", "Refund for order 34"):
            await client.post("/api/v1/chat/send", json={"message": text})
    await open_chat(page, tokens)
    sidebar = page.get_by_role("complementary", name="Conversations")
    await expect(sidebar.get_by_role("link")).to_have_count(3)
    await sidebar.get_by_role("searchbox", name="Search conversations").fill("refund")
    await expect(sidebar.get_by_role("link")).to_have_count(2)
    await sidebar.get_by_role("searchbox", name="Search conversations").fill("nothing like this")
    await expect(sidebar).to_contain_text("No conversation matches your search.")


async def test_the_draft_survives_a_reload_and_a_network_failure(page: Page, web: str) -> None:
    await open_chat(page, await user_session(web))
    box = page.get_by_role("textbox", name="Message")
    await box.fill("A long question I typed")
    await page.reload()
    await expect(box).to_have_value("A long question I typed")

    await page.context.set_offline(True)
    await box.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("Cannot reach the server")
    await expect(box).to_have_value("A long question I typed")
    await page.context.set_offline(False)
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".bubble.assistant")).to_contain_text("You said: A long question I typed")
    await expect(box).to_have_value("")
    await page.reload()
    await expect(box).to_have_value("")


async def test_a_refused_message_shows_the_api_message(page: Page, web: str) -> None:
    await open_chat(page, await user_session(web))
    box = page.get_by_role("textbox", name="Message")
    await box.fill("tell me about the forbidden-topic")
    await box.press("Enter")
    await expect(page.locator(".bubble.assistant.refusal")).to_be_visible()


async def test_the_chat_on_a_phone(browser: Browser, web: str) -> None:
    tokens = await user_session(web)
    async with httpx.AsyncClient(base_url=web, headers=bearer(tokens)) as client:
        r = await client.post("/api/v1/chat/send", json={"message": "Hello from my phone"})
        conv_id = r.json()["conversation_id"]
    phone = await phone_page(browser, web)
    await phone.emulate_media(reduced_motion="reduce")  # no slide-in animation in the screenshots
    try:
        await open_chat(phone, tokens, f"/chat/{conv_id}")
        await expect(phone.locator(".bubble.assistant")).to_contain_text("You said: Hello from my phone")
        sidebar = phone.get_by_role("complementary", name="Conversations")
        await expect(sidebar).to_be_hidden()
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        await screenshot(phone, "chat-phone")
        assert await axe_violations(phone) == []
        await phone.get_by_role("button", name="Conversations", exact=True).click()
        await expect(sidebar.get_by_role("link", name="Hello from my phone")).to_be_visible()
        await screenshot(phone, "chat-phone-sidebar")
        await sidebar.get_by_role("button", name="Close conversations").click()
        await expect(sidebar).to_be_hidden()
    finally:
        await phone.context.close()


async def test_stop_keeps_the_partial_answer_and_retry_regenerates_a_failed_one(
    page: Page, web: str, runtime: Runtime
) -> None:
    from tests.chat.fakes import FakeProvider, ScriptedProvider

    runtime.llm = FakeProvider(chunks=8, delay=0.4)
    await open_chat(page, await user_session(web))
    box = page.get_by_role("textbox", name="Message")
    await box.fill("Please write slowly")
    await box.press("Enter")
    answer = page.locator(".bubble.assistant").last
    await expect(answer).to_contain_text("You said:")
    await page.get_by_role("button", name="Stop").click()
    await expect(answer).to_contain_text("Stopped.")
    await expect(page.get_by_role("button", name="Send")).to_be_visible()
    assert "(I saw" not in await answer.inner_text()

    runtime.llm = ScriptedProvider(chunks=["Half an ", "answer"], fail_after=1)
    await box.fill("This one breaks")
    await box.press("Enter")
    failed = page.locator(".bubble.assistant").last
    await expect(failed.get_by_role("button", name="Retry")).to_be_visible()
    await expect(failed).to_contain_text("The assistant is unavailable right now")
    runtime.llm = FakeProvider()
    await failed.get_by_role("button", name="Retry").click()
    await expect(failed).to_contain_text("You said: This one breaks")
    await expect(failed.get_by_role("button", name="Retry")).to_have_count(0)


async def test_an_ended_session_sends_to_login_and_keeps_the_unsent_message(page: Page, web: str) -> None:
    tokens = await user_session(web, "ended@example.com")
    await open_chat(page, tokens)
    # The session ends elsewhere (logout on another device revokes this refresh token too).
    async with httpx.AsyncClient(base_url=web) as client:
        r = await client.post(
            "/api/v1/auth/logout", headers=bearer(tokens), json={"refresh_token": tokens["refresh_token"]}
        )
        assert r.status_code == 204
    box = page.get_by_role("textbox", name="Message")
    await box.fill("Where is my parcel 123?")
    await box.press("Enter")
    # The 401, a refused refresh, then the login page saying why; nothing typed is lost.
    await expect(page).to_have_url(f"{web}/login")
    await expect(page.get_by_role("status").filter(has_text="session has ended")).to_be_visible()
    await page.get_by_label("Email or username").fill("ended@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(f"{re.escape(web)}/chat"))
    await expect(page.get_by_role("textbox", name="Message")).to_have_value("Where is my parcel 123?")
