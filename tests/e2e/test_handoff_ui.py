"""Human handoff in two browsers at once against a real server: the user asks for a person on the
chat screen, an agent claims the conversation in the admin inbox, keeps an internal note and
replies; the user sees the status change and the reply arrive live (no reload), never the note;
the agent resolves it and the user is told."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import signed_in
from tests.e2e.conftest import axe_violations, screenshot, sign_in_page
from tests.e2e.test_moderation_ui import staff_tokens


async def _context_page(browser: Browser, web: str, errors: list[str]) -> Page:
    context = await browser.new_context(base_url=web, service_workers="block", viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


async def test_user_and_agent_talk_live(browser: Browser, web: str, db: asyncpg.Connection) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        user_tokens: dict[str, Any] = await signed_in(client, "customer@example.com")
    agent_tokens = await staff_tokens(web, db, "ana@example.com", "moderator")
    await db.execute("UPDATE users SET first_name = 'Ana' WHERE email = 'ana@example.com'")
    errors: list[str] = []
    user = await _context_page(browser, web, errors)
    agent = await _context_page(browser, web, errors)
    try:
        # The user asks the assistant first, then for a person (the button).
        await sign_in_page(user, user_tokens)
        await user.goto("/chat")
        box = user.get_by_role("textbox", name="Message")
        await box.fill("My parcel arrived damaged")
        await user.get_by_role("button", name="Send").click()
        await expect(user.locator(".bubble.assistant").last).to_contain_text("You said:")
        await user.get_by_role("button", name="Talk to a person").click()
        status = user.locator(".handoff-bar")
        await expect(status).to_contain_text("Waiting for a person.")
        await expect(status).to_contain_text("A person usually replies within 60 minutes.")
        await expect(status).to_contain_text("We'll email you the reply if you are not here.")
        await expect(user.locator(".handoff-notice")).to_contain_text("The conversation was handed to a person.")
        # While waiting, a message goes to the person: the assistant does not answer it.
        await box.fill("The box was crushed")
        await user.get_by_role("button", name="Send").click()
        await expect(user.locator(".bubble.user .user-text").last).to_have_text("The box was crushed")
        await expect(user.locator(".bubble.assistant:not(.agent)")).to_have_count(1)

        # The agent: the inbox, claim, an internal note, a canned reply search, a reply.
        await sign_in_page(agent, agent_tokens)
        await agent.goto("/admin")
        await agent.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Inbox").click()
        await expect(agent).to_have_url(f"{web}/admin/inbox")
        item = agent.locator(".inbox-item").first
        await expect(item).to_contain_text("My parcel arrived damaged")
        await expect(item).to_contain_text("asked for a person")
        await item.get_by_role("button").click()
        panel = agent.locator(".inbox-panel")
        await expect(panel.locator(".inbox-message.user").last).to_contain_text("The box was crushed")
        await panel.get_by_role("button", name="Claim").click()
        await expect(panel).to_contain_text("handled by Ana")

        # The user sees a person joined, live.
        await expect(status).to_contain_text("Ana from our team is answering you.")
        await expect(user.locator(".handoff-notice").last).to_contain_text("Ana joined the conversation.")

        await panel.get_by_role("textbox", name="Add a note").fill("Offer a replacement, VIP customer")
        await panel.get_by_role("button", name="Save note").click()
        await expect(panel.locator(".inbox-notes")).to_contain_text("Offer a replacement, VIP customer")
        await panel.get_by_role("textbox", name="Your reply").fill("Sorry about that! A replacement is on its way.")
        await panel.get_by_role("button", name="Send reply").click()
        await expect(panel.locator(".inbox-message.agent").last).to_contain_text("A replacement is on its way.")
        await screenshot(agent, "handoff-inbox")
        assert await axe_violations(agent) == []

        # The reply arrives live in the user's chat, marked as a person's; the note never does.
        reply = user.locator(".bubble.agent").last
        await expect(reply).to_contain_text("Sorry about that! A replacement is on its way.")
        await expect(reply.locator(".agent-name")).to_have_text("Ana · support team")
        await expect(reply.get_by_role("button", name="Not helpful")).to_have_count(0)
        assert "VIP customer" not in await user.content()
        await screenshot(user, "handoff-chat")
        assert await axe_violations(user) == []

        # Resolved: the user is told, and can ask for a person again.
        await panel.get_by_role("button", name="Resolve").click()
        await expect(user.locator(".handoff-notice").last).to_contain_text("Ana marked the conversation resolved.")
        await expect(status).to_contain_text("Our team marked this resolved.")
        await expect(user.get_by_role("button", name="Talk to a person")).to_be_visible()
    finally:
        await user.context.close()
        await agent.context.close()
    assert not errors, f"a page threw: {errors}"
