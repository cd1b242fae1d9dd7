"""The chat page as people expect it, in a real browser against a real server: stopped answers
(with Regenerate and edit-and-resend), following the newest message, citations, copy buttons,
code highlighting, suggested questions, search in message text, export, dark mode and the compact
phone layout with its conversation drawer. Desktop and phone, light and dark; screenshots in
test-output/screenshots; axe stays clean."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import httpx
from playwright.async_api import Browser, Page, expect

from helpline.ai.base import ChatMessage
from helpline.core.runtime import Runtime
from tests.chat.conftest import eventually
from tests.chat.fakes import ScriptedProvider
from tests.conftest import bearer, make_admin, signed_in
from tests.e2e.conftest import axe_violations, phone_page, screenshot
from tests.e2e.test_chat_ui import open_chat, user_session

# Plain words (no figures the grounded-answer guard would look for in the articles).
WORDS = [
    f"{w} "
    for w in (
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
    )
    * 4
]
TALL = ["A paragraph of the answer, long enough to wrap.\n\n"] * 12
CODE_FAQ = {
    "question": "How do I call the API from Python?",
    "answer": "Use the client:\n\n```python\nimport helpline\ndef ask():\n    return helpline.ask('hi')\n```",
    "status": "published",
}
RESET_FAQ = {
    "question": "How do I reset my password?",
    "answer": "Open Settings, choose Security, then click Reset password.",
    "status": "published",
}


class Gate:
    """Holds the model's first call until opened (the user stops before the first word)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()

    async def __call__(self, _messages: Sequence[ChatMessage]) -> None:
        await self.opened.wait()


async def clean(page: Page) -> None:
    violations = await axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1)


async def test_stop_regenerate_and_edit_the_last_question(
    page: Page, web: str, runtime: Runtime, db: asyncpg.Connection
) -> None:
    gate = Gate()
    runtime.llm = ScriptedProvider(chunks=WORDS, delay=0.05, before=gate)
    runtime.settings.guard.enabled = False  # the scripted words repeat themselves
    await open_chat(page, await user_session(web))
    box = page.get_by_role("textbox", name="Message")
    await box.fill("Tell me about my parcel")
    await box.press("Enter")
    answer = page.locator(".bubble.assistant").last
    await expect(page.get_by_role("button", name="Stop")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/chat/\d+$"))  # accepted: the answer has its id
    # Stopped before the first word: a note and Regenerate, no empty bubble with only "Sources".
    await box.press("Escape")
    await expect(answer).to_contain_text("Stopped before the answer began.")
    await expect(answer.get_by_text("Sources")).to_have_count(0)
    await expect(answer.get_by_role("button", name="Copy answer")).to_have_count(0)
    # Stored so: no words, no sources, marked stopped.
    query = "SELECT content, metadata FROM messages WHERE message_type = 'assistant' AND metadata IS NOT NULL"

    async def stored() -> bool:
        return await db.fetchrow(query) is not None

    await eventually(stored)
    row = await db.fetchrow(query)
    assert row is not None
    assert row["content"] == ""
    meta = json.loads(row["metadata"])
    assert meta["stopped"] is True
    assert "sources" not in meta
    await screenshot(page, "chat-stopped-empty")
    await clean(page)

    gate.opened.set()
    await answer.get_by_role("button", name="Regenerate").click()
    await expect(answer).to_contain_text("lima", timeout=15_000)
    await expect(answer.get_by_role("button", name="Regenerate")).to_have_count(0)
    await expect(answer).not_to_contain_text("Stopped")

    # Stopped mid-answer (the Stop button): the words so far, marked stopped, with Regenerate.
    await box.fill("And my invoice?")
    await box.press("Enter")
    second = page.locator(".bubble.assistant").last
    await expect(second).to_contain_text("charlie")
    await page.get_by_role("button", name="Stop").click()
    await expect(second.locator(".bubble-note")).to_have_text("Stopped.")
    await expect(second.get_by_role("button", name="Regenerate")).to_be_visible()
    await page.reload()  # the stored answer says so too
    second = page.locator(".bubble.assistant").last
    await expect(second.locator(".bubble-note")).to_have_text("Stopped.")
    await expect(second.get_by_role("button", name="Regenerate")).to_be_visible()

    # Edit the last question and send it again.
    edit = page.get_by_role("button", name="Edit your last question")
    await expect(edit).to_have_count(1)
    await edit.click()
    await expect(box).to_have_value("And my invoice?")
    await expect(box).to_be_focused()
    await box.press("End")
    await box.type(" It was sent twice.")
    await box.press("Enter")
    await expect(page.locator(".user-text").last).to_have_text("And my invoice? It was sent twice.")
    await expect(page.locator(".bubble.assistant").last).to_contain_text("lima", timeout=15_000)
    await screenshot(page, "chat-stopped-regenerated")
    await clean(page)


IN_VIEW = """() => {
  const el = [...document.querySelectorAll('.bubble.assistant')].pop();
  const dock = document.querySelector('.composer-dock');
  if (!el || !dock) return false;
  const r = el.getBoundingClientRect();
  return r.bottom <= dock.getBoundingClientRect().top + 1 && r.bottom > 0;
}"""


async def newest_in_view(page: Page) -> None:
    """Wait until the newest answer's end is on screen, above the composer (not hidden under it)."""
    await page.wait_for_function(IN_VIEW, timeout=10_000)


async def test_a_reopened_conversation_opens_at_the_newest_message_and_follows_it(
    browser: Browser, page: Page, web: str, runtime: Runtime
) -> None:
    provider = ScriptedProvider(chunks=TALL)
    runtime.llm = provider
    runtime.settings.guard.enabled = False  # the tall answers repeat themselves on purpose
    tokens = await user_session(web)
    async with httpx.AsyncClient(base_url=web, headers=bearer(tokens), timeout=30) as client:
        conv = (await client.post("/api/v1/chat/send", json={"message": "First question"})).json()["conversation_id"]
        for i in ("Second", "Third", "Fourth"):
            r = await client.post("/api/v1/chat/send", json={"message": f"{i} question", "conversation_id": conv})
            assert r.status_code == 200
    await open_chat(page, tokens, f"/chat/{conv}")
    await expect(page.locator(".bubble.assistant")).to_have_count(4)
    jump = page.get_by_role("button", name="Jump to latest")
    await newest_in_view(page)
    await expect(jump).to_have_count(0)

    await page.evaluate("window.scrollTo(0, 0)")
    await expect(jump).to_be_visible()
    await screenshot(page, "chat-jump-to-latest")
    await clean(page)
    await jump.click()
    await newest_in_view(page)
    await expect(jump).to_have_count(0)

    # A follow-up: the answer streams into view, above the composer, not under it.
    provider.delay = 0.05
    box = page.get_by_role("textbox", name="Message")
    await box.fill("Fifth question")
    await box.press("Enter")
    await expect(page.locator(".bubble.assistant")).to_have_count(5)
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible(timeout=15_000)
    await newest_in_view(page)

    # On a phone, in the dark (the system's preference): a compact header and composer, and the
    # conversation drawer holds the focus until Escape gives it back.
    phone = await phone_page(browser, web)
    await phone.emulate_media(color_scheme="dark", reduced_motion="reduce")
    try:
        await open_chat(phone, tokens, f"/chat/{conv}")
        await expect(phone.locator("html")).to_have_attribute("data-theme", "dark")
        await newest_in_view(phone)
        await screenshot(phone, "chat-phone-dark")
        header = await phone.locator(".app-header").bounding_box()
        topbar = await phone.locator(".chat-topbar").bounding_box()
        dock = await phone.locator(".composer-dock").bounding_box()
        assert header
        assert topbar
        assert dock
        assert header["height"] <= 60, header
        assert topbar["height"] <= 48, topbar
        assert dock["height"] <= 96, dock  # the composer and a slim Talk to a person line (was ~130)
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
        await clean(phone)

        toggle = phone.get_by_role("button", name="Conversations", exact=True)
        await toggle.click()
        sidebar = phone.get_by_role("complementary", name="Conversations")
        await expect(sidebar.get_by_role("button", name="New conversation")).to_be_focused()
        for _ in range(12):  # Tab never leaves the drawer
            await phone.keyboard.press("Tab")
            assert await phone.evaluate("document.getElementById('chat-sidebar').contains(document.activeElement)")
        await sidebar.get_by_role("button", name="New conversation").focus()
        await phone.keyboard.press("Shift+Tab")
        assert await phone.evaluate("document.getElementById('chat-sidebar').contains(document.activeElement)")
        await screenshot(phone, "chat-phone-dark-drawer")
        await clean(phone)
        await phone.keyboard.press("Escape")
        await expect(sidebar).to_be_hidden()
        await expect(toggle).to_be_focused()
    finally:
        await phone.context.close()


async def test_suggestions_code_copy_citations_search_export_and_dark_mode(
    browser: Browser, web: str, runtime: Runtime, db: asyncpg.Connection, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        admin = await signed_in(client, "kb@example.com")
        await make_admin(db, "kb@example.com")
        faqs = {}
        for faq in (CODE_FAQ, RESET_FAQ):
            r = await client.post("/api/v1/faqs", headers=bearer(admin), json=faq)
            assert r.status_code == 201, r.text
            faqs[faq["question"]] = r.json()
    await db.execute("UPDATE faqs SET view_count = 5 WHERE id = $1", faqs[CODE_FAQ["question"]]["id"])
    tokens = await user_session(web)
    context = await browser.new_context(base_url=web, service_workers="block", viewport={"width": 1280, "height": 860})
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await open_chat(page, tokens)
        suggestions = page.get_by_role("region", name="Popular questions")
        await expect(suggestions.get_by_role("button")).to_have_text([CODE_FAQ["question"], RESET_FAQ["question"]])
        await screenshot(page, "chat-suggestions")
        await clean(page)

        # A suggestion asks it; the answer's code is highlighted and both copy buttons work.
        await suggestions.get_by_role("button", name=CODE_FAQ["question"]).click()
        answer = page.locator(".bubble.assistant").last
        await expect(answer.locator("pre code.hljs")).to_contain_text("import helpline")
        await expect(answer.locator(".hljs-keyword").first).to_be_visible(timeout=10_000)
        await answer.get_by_role("button", name="Copy code").click()
        await expect(answer.get_by_role("button", name="Copy code")).to_have_text("Copied")
        copied = await page.evaluate("navigator.clipboard.readText()")
        assert copied.strip() == "import helpline\ndef ask():\n    return helpline.ask('hi')"
        await answer.get_by_role("button", name="Copy answer").click()
        assert await page.evaluate("navigator.clipboard.readText()") == CODE_FAQ["answer"]

        # The model cites the article as [1]: the marker links to it, and it is listed as a source.
        runtime.settings.retrieval.direct_threshold = 1.0  # the model answers, with the article
        runtime.settings.retrieval.min_similarity = 0.0
        runtime.settings.guard.source_min_similarity = 0.0
        runtime.llm = ScriptedProvider(chunks=["Open Settings and choose Security ", "[1]."])
        sidebar = page.get_by_role("complementary", name="Conversations")
        await sidebar.get_by_role("button", name="New conversation").click()  # the article is then [1]
        await expect(page.locator(".bubble")).to_have_count(0)
        box = page.get_by_role("textbox", name="Message")
        await box.fill("I forgot my password, how to reset it?")
        await box.press("Enter")
        cited = page.locator(".bubble.assistant").last
        slug = faqs[RESET_FAQ["question"]]["slug"]
        marker = cited.get_by_role("link", name=f"Source 1: {RESET_FAQ['question']}")
        await expect(cited).to_contain_text("choose Security")
        await expect(marker).to_have_attribute("href", f"/help/{slug}")
        await expect(marker).to_have_text("[1]")
        await expect(cited.get_by_role("list", name="Sources").get_by_role("link")).to_have_text(
            [RESET_FAQ["question"]]
        )
        stored = await db.fetchval(
            "SELECT metadata FROM messages WHERE content = 'Open Settings and choose Security [1].'"
        )
        assert [(s["id"], s["n"]) for s in json.loads(stored)["sources"]] == [(faqs[RESET_FAQ["question"]]["id"], 1)]
        # An answer that used no article lists none.
        runtime.llm = ScriptedProvider(chunks=["You are welcome, happy to assist."])
        await box.fill("Thanks a lot!")
        await box.press("Enter")
        thanks = page.locator(".bubble.assistant").last
        await expect(thanks).to_contain_text("You are welcome")
        await expect(thanks.get_by_role("list", name="Sources")).to_have_count(0)
        await screenshot(page, "chat-citations-code")
        await clean(page)

        # Search finds the conversation by words only its messages have (not its title).
        await sidebar.get_by_role("searchbox").fill("helpline.ask")
        links = sidebar.locator(".conversation-link")
        await expect(links).to_have_count(1)
        await expect(links).to_contain_text(CODE_FAQ["question"])
        await sidebar.get_by_role("searchbox").fill("nowhere-to-be-found")
        await expect(sidebar.get_by_text("No conversation matches your search.")).to_be_visible()

        # Export: a Markdown file, and a print stylesheet for PDF.
        await page.get_by_role("button", name="Export").click()
        async with page.expect_download() as download_info:
            await page.get_by_role("button", name="Download as Markdown").click()
        download = await download_info.value
        target = tmp_path / download.suggested_filename
        await download.save_as(target)
        text = target.read_text(encoding="utf-8")
        assert text.startswith("# I forgot my password, how to reset it?\n")
        assert "Open Settings and choose Security [1]." in text
        assert f"- [1] [{RESET_FAQ['question']}]({web}/help/{slug})" in text
        await page.emulate_media(media="print")
        await expect(page.locator(".app-header")).to_be_hidden()
        await expect(page.locator(".composer-dock")).to_be_hidden()
        await screenshot(page, "chat-print")
        await page.emulate_media(media="screen")

        # Dark mode: the header's toggle, remembered after a reload.
        toggle = page.get_by_role("button", name="Dark mode")
        await expect(toggle).to_have_attribute("aria-pressed", "false")
        await toggle.click()
        await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        await page.reload()
        await expect(page.get_by_role("button", name="Dark mode")).to_have_attribute("aria-pressed", "true")
        await expect(page.locator(".bubble.assistant").first).to_be_visible()
        await screenshot(page, "chat-dark")
        await clean(page)
        await page.goto("/help")  # the help center takes the theme too
        await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        bg = await page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        assert bg == "rgb(15, 17, 21)"  # --bg of the dark theme
    finally:
        await context.close()
    assert not errors, errors
