"""Human handoff in the embeddable widget, on a shop page of another origin: a guest asks for a
person, leaves an email address for the reply, and sees the agent join and reply live."""

from __future__ import annotations

import asyncpg
import httpx
from playwright.async_api import Page, expect

from tests.conftest import bearer
from tests.e2e.conftest import axe_violations, screenshot
from tests.e2e.test_moderation_ui import staff_tokens
from tests.e2e.test_widget import (  # noqa: F401 (fixtures)
    ask,
    console_errors,
    cors_allowed,
    llm,
    open_widget,
    settings,
    shop,
    shop_server,
    widget_settings,
)


async def test_a_guest_talks_to_a_person_in_the_widget(page: Page, shop: str, web: str, db: asyncpg.Connection) -> None:  # noqa: F811
    errors = console_errors(page)
    await page.goto(shop)
    await open_widget(page)
    dialog = page.get_by_role("dialog", name="Northwind help")
    await ask(page, "Where is my order?")
    await expect(dialog.locator(".msg.bot").last).to_contain_text("Where is my order?")
    await dialog.get_by_role("button", name="Talk to a person").click()
    await expect(dialog.locator(".handoff-text")).to_contain_text("Waiting for a person.")
    await expect(dialog.locator(".handoff-text")).to_contain_text("A person usually replies within 60 minutes.")
    # A guest has no address of their own: the widget asks for one.
    await dialog.get_by_label("Leave your email to get the reply if you leave:").fill("visitor@example.org")
    await dialog.get_by_role("button", name="Notify me").click()
    await expect(dialog.locator(".handoff-text")).to_contain_text("We'll email you the reply if you leave.")
    conversation_id = await db.fetchval("SELECT id FROM conversations WHERE contact_email = 'visitor@example.org'")
    assert conversation_id is not None

    agent = await staff_tokens(web, db, "ana@example.com", "moderator")
    await db.execute("UPDATE users SET first_name = 'Ana' WHERE email = 'ana@example.com'")
    async with httpx.AsyncClient(base_url=web, headers=bearer(agent)) as client:
        r = await client.post(f"/api/v1/support/conversations/{conversation_id}/claim")
        assert r.status_code == 200, r.text
        await expect(dialog.locator(".handoff-text")).to_contain_text("Ana from our team is answering.")
        r = await client.post(
            f"/api/v1/support/conversations/{conversation_id}/reply", json={"content": "Your order ships today."}
        )
        assert r.status_code == 201, r.text
    reply = dialog.locator(".msg.agent").last
    await expect(reply).to_contain_text("Ana (support team):")
    await expect(reply).to_contain_text("Your order ships today.")
    await expect(dialog.locator(".handoff-notice").last).to_contain_text("Ana joined the conversation.")
    await screenshot(page, "widget-handoff")
    assert await axe_violations(page) == []
    assert errors == []
