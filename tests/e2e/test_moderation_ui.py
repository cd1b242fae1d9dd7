"""The moderation screen in a real browser against a real server: flagged chat messages (the
test moderator flags "forbidden-topic") and a staff flag in the queue, their text shown as plain
text, the category filter, pending and reviewed tabs, decisions with notes, suspending an author
after a confirmation, and "Load more"."""

from __future__ import annotations

import json
import re
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Page, expect

from tests.conftest import bearer, login, signed_in
from tests.e2e.conftest import axe_violations, screenshot, sign_in_page

HOSTILE = 'forbidden-topic <b>bold</b> <img src=x onerror="window.pwned=1">'


async def staff_tokens(web: str, db: asyncpg.Connection, email: str, role: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web) as client:
        await signed_in(client, email)
        await db.execute("UPDATE users SET role = $2 WHERE email = $1", email, role)
        tokens: dict[str, Any] = (await login(client, email)).json()  # a token with the new role
        return tokens


async def chat(web: str, db: asyncpg.Connection, tokens: dict[str, Any], message: str) -> int:
    """A chat turn; the id of the stored question."""
    async with httpx.AsyncClient(base_url=web) as client:
        r = await client.post("/api/v1/chat/send", headers=bearer(tokens), json={"message": message})
        assert r.status_code == 200, r.text
    question: int = await db.fetchval(
        "SELECT max(id) FROM messages WHERE conversation_id = $1 AND message_type = 'user'", r.json()["conversation_id"]
    )
    return question


async def test_a_moderator_reviews_the_queue(page: Page, web: str, db: asyncpg.Connection) -> None:
    moderator = await staff_tokens(web, db, "mod@example.com", "moderator")
    async with httpx.AsyncClient(base_url=web) as client:
        rude = await signed_in(client, "rude@example.com")
        spammer = await signed_in(client, "spammer@example.com")
    hostile = await chat(web, db, rude, HOSTILE)
    await chat(web, db, rude, "forbidden-topic again")
    advert = await chat(web, db, spammer, "buy cheap watches")
    async with httpx.AsyncClient(base_url=web) as client:
        r = await client.post(
            f"/api/v1/admin/moderation/messages/{advert}/flag",
            headers=bearer(moderator),
            json={"category": "spam", "note": "an advert"},
        )
        assert r.status_code == 200, r.text

    await sign_in_page(page, moderator)
    await page.goto("/admin")
    await page.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Moderation").click()
    await expect(page).to_have_url(f"{web}/admin/moderation")
    await expect(page.get_by_role("heading", name="Moderation")).to_be_visible()
    await expect(page.get_by_role("tab", name="Pending (3)")).to_have_attribute("aria-selected", "true")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(3)

    # The user's text is shown as they wrote it: the markup is text, nothing runs.
    row = rows.filter(has_text="forbidden-topic <b>bold</b>")
    await expect(row.locator(".moderation-message")).to_have_text(HOSTILE)
    assert await page.locator("tbody b, tbody img").count() == 0
    assert await page.evaluate("window.pwned") is None
    await expect(row).to_contain_text("rude@example.com")
    await expect(row).to_contain_text("harassment")
    await screenshot(page, "admin-moderation")
    assert await axe_violations(page) == []

    # The category filter.
    await page.get_by_label("Category").select_option(label="spam (1 pending)")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("buy cheap watches")
    await expect(rows.first).to_contain_text("Flag note: an advert")
    await page.get_by_label("Category").select_option(label="All categories")
    await expect(rows).to_have_count(3)

    # Dismissed with a note: it leaves the pending tab for the reviewed one.
    await row.get_by_label(f"Review note for message {hostile}").fill("quoting a spam mail")
    await row.get_by_role("button", name="Dismiss").click()
    await expect(page.get_by_text("Flag dismissed.")).to_be_visible()
    await expect(rows).to_have_count(2)
    await expect(page.get_by_role("tab", name="Pending (2)")).to_be_visible()
    review = await db.fetchrow("SELECT decision::text, note FROM moderation_reviews WHERE message_id = $1", hostile)
    assert review is not None
    assert (review["decision"], review["note"]) == ("dismiss", "quoting a spam mail")

    # Suspending the author asks first; Cancel changes nothing.
    spam_row = rows.filter(has_text="buy cheap watches")
    await spam_row.get_by_role("button", name="Suspend user").click()
    dialog = page.get_by_role("dialog", name="Suspend the author?")
    await expect(dialog).to_contain_text("spammer@example.com will be signed out everywhere")
    await dialog.get_by_role("button", name="Cancel").click()
    assert await db.fetchval("SELECT status::text FROM users WHERE email = 'spammer@example.com'") == "active"
    await spam_row.get_by_role("button", name="Suspend user").click()
    await dialog.get_by_role("button", name="Suspend user").click()
    await expect(page.get_by_text("Confirmed, and spammer@example.com is suspended.")).to_be_visible()
    assert await db.fetchval("SELECT status::text FROM users WHERE email = 'spammer@example.com'") == "suspended"
    await expect(rows).to_have_count(1)

    # The reviewed tab: decisions, who took them, notes; a moderator cannot decide again.
    await page.get_by_role("tab", name="Reviewed").click()
    await expect(rows).to_have_count(2)
    dismissed = rows.filter(has_text="forbidden-topic <b>bold</b>")
    await expect(dismissed).to_contain_text("Dismissed")
    await expect(dismissed).to_contain_text("quoting a spam mail")
    await expect(dismissed).to_contain_text("by mod")
    await expect(rows.filter(has_text="buy cheap watches")).to_contain_text("Author suspended")
    await expect(page.locator("tbody").get_by_role("button")).to_have_count(0)
    assert await axe_violations(page) == []


async def test_an_admin_pages_through_and_overrules(page: Page, web: str, db: asyncpg.Connection) -> None:
    admin = await staff_tokens(web, db, "boss@example.com", "admin")
    async with httpx.AsyncClient(base_url=web) as client:
        user = await signed_in(client, "chatty@example.com")
    # More flagged messages than a page holds (25), written straight into the database.
    conversation = await db.fetchval("INSERT INTO conversations (user_id) VALUES ($1) RETURNING id", user["user"]["id"])
    flag = {"flagged": True, "categories": ["profanity"], "source": "local"}
    meta = json.dumps({"flagged": True, "moderation": flag})
    await db.executemany(
        "INSERT INTO messages (conversation_id, user_id, content, message_type, metadata) "
        "VALUES ($1, $2, $3, 'user', $4::jsonb)",
        [(conversation, user["user"]["id"], f"rude message number {n}", meta) for n in range(27)],
    )
    first = await db.fetchval("SELECT min(id) FROM messages")
    await db.execute(
        "INSERT INTO moderation_reviews (message_id, decision, note) VALUES ($1, 'confirm', 'old decision')", first
    )

    await sign_in_page(page, admin)
    await page.goto("/admin/moderation")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(25)
    await expect(rows.first).to_contain_text("rude message number 26")  # newest first
    await page.get_by_role("button", name="Load more").click()
    await expect(rows).to_have_count(26)
    await expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    await expect(rows.last).to_contain_text("rude message number 1")

    # An administrator may change a decision (to a different one only).
    await page.get_by_role("tab", name="Reviewed").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("by a former member of staff")
    await expect(rows.first.get_by_role("button", name="Confirm")).to_have_count(0)
    await rows.first.get_by_role("button", name="Dismiss").click()
    await expect(page.get_by_text("Flag dismissed.")).to_be_visible()
    await expect(rows.first).to_contain_text(re.compile("Dismissed.*by boss"))
    assert await db.fetchval("SELECT count(*) FROM moderation_reviews WHERE message_id = $1", first) == 2
