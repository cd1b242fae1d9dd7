"""Alternative phrasings in a real browser: a user rates a FAQ-cited answer helpful, staff find
the suggested phrasing in the admin queue, approve it after an edit, see it in the FAQ editor's
phrasings list (and add one there), and a new question worded like the phrasing retrieves the FAQ
(fake embedder; a scripted model that cites its source)."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from helpline.core.runtime import Runtime
from tests.chat.fakes import ScriptedProvider
from tests.conftest import bearer, login, make_admin, signed_in
from tests.e2e.conftest import axe_violations, screenshot, sign_in_page

FAQ = {
    "question": "How do I reset my password?",
    "answer": "Open Settings, choose Security, then click Reset password and follow the email link.",
    "status": "published",
}
ASKED = "my password reset email link never arrived, what now?"
EDITED = "The password reset email never arrived"


@pytest.fixture
def llm() -> Any:
    return ScriptedProvider(chunks=["Follow the email link [1]."])


async def test_a_helpful_answer_becomes_a_phrasing_that_finds_the_faq(
    page: Page, browser: Browser, web: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    # The FAQ applies to ASKED, so the guard asks the model (the bag-of-words embedder's
    # similarities are not on MiniLM's scale, which the guard's bar is measured on).
    runtime.settings.guard.source_min_similarity = 0.0
    async with httpx.AsyncClient(base_url=web) as client:
        await signed_in(client, "kb@example.com")
        await make_admin(db, "kb@example.com")
        admin: dict[str, Any] = (await login(client, "kb@example.com")).json()
        r = await client.post("/api/v1/faqs", headers=bearer(admin), json=FAQ)
        assert r.status_code == 201, r.text
        faq = r.json()
        user = await signed_in(client, "asker@example.com")

    # The user asks in their own words; the answer cites the FAQ; they rate it helpful.
    await sign_in_page(page, user)
    await page.goto("/chat")
    box = page.get_by_role("textbox", name="Message")
    await box.fill(ASKED)
    await box.press("Enter")
    answer = page.locator(".bubble.assistant").last
    await expect(answer.get_by_role("list", name="Sources").get_by_role("link", name=FAQ["question"])).to_be_visible()
    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    await helpful.click()
    await expect(helpful).to_have_attribute("aria-pressed", "true")

    # Staff see it in the queue, edit it and approve it.
    context = await browser.new_context(base_url=web, service_workers="block", viewport={"width": 1280, "height": 860})
    try:
        staff = await context.new_page()
        await sign_in_page(staff, admin)
        await staff.goto("/admin")
        await staff.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Suggested phrasings").click()
        item = staff.locator(".suggestion-list li").filter(has_text=ASKED)
        await expect(item).to_be_visible()
        await expect(item.get_by_role("link", name=FAQ["question"])).to_be_visible()
        assert await axe_violations(staff) == []
        await screenshot(staff, "admin-phrasings")
        await item.get_by_label("Phrasing to add").fill(EDITED)
        await item.get_by_role("button", name=re.compile("^Approve")).click()
        await expect(staff.locator(".admin-success")).to_have_text(f"Added to “{FAQ['question']}”.")
        await expect(staff.get_by_text("Nothing waiting")).to_be_visible()

        # The FAQ editor lists it; staff add another one there.
        await staff.goto(f"/admin/faqs/{faq['id']}")
        phrasings = staff.get_by_role("group", name="Other ways customers ask")

        def phrasing(n: int) -> Locator:
            return phrasings.get_by_role("textbox", name=f"Phrasing {n}", exact=True)

        await expect(phrasing(1)).to_have_value(EDITED)
        await phrasings.get_by_label("New phrasing").fill("  Reset mail not received ")
        await phrasings.get_by_label("New phrasing").press("Enter")
        await expect(phrasing(2)).to_have_value("Reset mail not received")
        await staff.get_by_role("button", name="Save changes").click()
        await expect(staff.get_by_role("status")).to_have_text("Saved.")
        await staff.evaluate("window.scrollTo(0, 0)")  # the sticky header stays at the top of the picture
        await screenshot(staff, "admin-faq-phrasings")
        assert await axe_violations(staff) == []
        await phrasings.get_by_role("button", name="Remove phrasing 2").click()
        await expect(phrasing(2)).to_have_count(0)
        await staff.get_by_role("button", name="Save changes").click()
        await expect(staff.get_by_role("status")).to_have_text("Saved.")
    finally:
        await context.close()
    stored = await db.fetch("SELECT text FROM faq_phrasings WHERE faq_id = $1 ORDER BY position", faq["id"])
    assert [r["text"] for r in stored] == [EDITED]

    # A new question worded like the phrasing finds the FAQ through it.
    async with httpx.AsyncClient(base_url=web) as client:
        r = await client.get("/api/v1/faqs/search", params={"q": "reset email never arrived"})
    top = r.json()["items"][0]
    assert top["id"] == faq["id"]
    assert "vector_phrasing" in top["signals"]
    await page.goto("/chat")  # a new conversation
    await box.fill("reset email never arrived")
    await box.press("Enter")
    answer = page.locator(".bubble.assistant").last
    await expect(answer.get_by_role("list", name="Sources").get_by_role("link", name=FAQ["question"])).to_be_visible()
