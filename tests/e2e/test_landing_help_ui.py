"""`/` for a visitor (what this is, the help center, guest chat through the widget) and the help
center's "did you mean", votes without an account and "contact us" (a person through the widget's
handoff), on a desktop and a phone (390x844), with axe checks and screenshots."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from helpline.core.config import Settings, WidgetSettings
from tests.conftest import bearer, login, make_admin, make_settings, register
from tests.e2e.conftest import axe_violations, phone_page, screenshot

LANDING = "Answers from our support team, any time"


async def seed(web: str, db: asyncpg.Connection) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await register(client, "boss@example.com")).status_code == 202
        await make_admin(db, "boss@example.com")
        auth = bearer((await login(client, "boss@example.com")).json())
        faqs: dict[str, Any] = {}
        for key, question, answer in [
            (
                "lost",
                "My parcel is lost or damaged. How do I file a claim?",
                "Open a **claim** from the shipment page.",
            ),
            ("track", "How do I track a parcel?", "Use the tracking page."),
        ]:
            r = await client.post(
                "/api/v1/faqs", headers=auth, json={"question": question, "answer": answer, "status": "published"}
            )
            assert r.status_code == 201, r.text
            faqs[key] = r.json()
    return faqs


async def both(browser: Browser, page: Page, web: str) -> list[tuple[str, Page]]:
    return [("desktop", page), ("phone", await phone_page(browser, web))]


async def test_landing_explains_and_lets_a_visitor_chat_as_a_guest(browser: Browser, page: Page, web: str) -> None:
    for name, p in await both(browser, page, web):
        await p.goto("/")
        await expect(p.get_by_role("heading", level=1, name=LANDING)).to_be_visible()
        await expect(p.get_by_role("link", name="Browse the help center")).to_have_attribute("href", "/help")
        await expect(p.get_by_role("link", name="Create an account")).to_be_visible()
        chat = p.get_by_role("button", name="Chat now, no account needed")
        await expect(chat).to_be_visible()
        width = await p.evaluate("document.documentElement.scrollWidth")
        assert width <= p.viewport_size["width"] if p.viewport_size else True, f"{name}: {width}px wide"
        assert await axe_violations(p) == [], name
        await screenshot(p, f"landing-{name}")

        # The widget's guest flow: a guest identity, a streamed answer.
        await chat.click()
        dialog = p.get_by_role("dialog", name="Help")
        await expect(dialog).to_be_visible()
        await p.get_by_label("Message").fill("Hello from the landing page")
        await p.get_by_role("button", name="Send").click()
        # Patient: the machine's other work may slow the first answer (no timing is asserted).
        answer = dialog.locator(".msg.bot").last
        await expect(answer).to_contain_text("You said: Hello from the landing page", timeout=20_000)
        assert await axe_violations(p) == [], name
        await screenshot(p, f"landing-guest-chat-{name}")
        if p is not page:
            await p.context.close()


class TestGuestsOff:
    @pytest.fixture
    def settings(self, database_url: str, tmp_path: Any) -> Settings:
        return make_settings(database_url, tmp_path, widget=WidgetSettings(allow_guests=False))

    async def test_landing_without_guest_chat_points_to_sign_in(self, page: Page) -> None:
        await page.goto("/")
        await expect(page.get_by_role("heading", level=1, name=LANDING)).to_be_visible()
        await expect(page.get_by_text("To chat, sign in or create an account.")).to_be_visible()
        await expect(page.get_by_role("button", name="Chat now, no account needed")).to_have_count(0)


async def test_signed_in_users_still_land_in_the_chat(page: Page, web: str) -> None:
    from tests.conftest import signed_in
    from tests.e2e.conftest import sign_in_page

    async with httpx.AsyncClient(base_url=web) as client:
        tokens = await signed_in(client, "reader@example.com")
    await sign_in_page(page, tokens)
    await page.goto("/")
    await expect(page).to_have_url(f"{web}/chat")


async def test_help_search_did_you_mean_votes_and_contact(
    browser: Browser, page: Page, web: str, db: asyncpg.Connection
) -> None:
    faqs = await seed(web, db)
    for name, p in await both(browser, page, web):
        await p.goto("/help?q=my%20parcle%20is%20lost")
        await expect(p.get_by_role("heading", name="Results for “my parcle is lost”")).to_be_visible()
        suggestion = p.get_by_role("link", name="my parcel is lost", exact=True)
        await expect(suggestion).to_be_visible()
        await expect(p.get_by_text("Did you mean")).to_be_visible()
        await expect(p.get_by_role("heading", name="Still need help?")).to_be_visible()
        assert await axe_violations(p) == [], name
        await screenshot(p, f"help-did-you-mean-{name}")
        await suggestion.click()
        await expect(p.get_by_role("link", name=faqs["lost"]["question"])).to_be_visible()

        # A vote without an account: counted once per device, changeable.
        await p.goto(f"/help/{faqs['track']['slug']}")
        yes, no = p.get_by_role("button", name="Yes"), p.get_by_role("button", name="No")
        await yes.click()
        await expect(p.get_by_role("status").filter(has_text="Glad it helped")).to_be_visible()
        await expect(yes).to_have_attribute("aria-pressed", "true")
        await no.click()
        await expect(p.get_by_role("status").filter(has_text="We will work on this answer")).to_be_visible()
        # "No": a way to a person, right there.
        contact = p.get_by_role("button", name="Contact us")
        await expect(contact).to_be_visible()
        assert await axe_violations(p) == [], name
        await screenshot(p, f"help-vote-contact-{name}")
        await p.reload()
        await expect(p.get_by_role("button", name="No")).to_have_attribute("aria-pressed", "true")

        # Contact us: the widget opens and asks for a person (the handoff), about this question.
        await p.get_by_role("button", name="Contact us").click()
        dialog = p.get_by_role("dialog", name="Help")
        await expect(dialog).to_be_visible()
        await expect(dialog.get_by_text("Waiting for a person.")).to_be_visible()
        await expect(dialog.locator(".msg.user").first).to_contain_text(
            f"I would like to talk to a person about: {faqs['track']['question']}"
        )
        assert await axe_violations(p) == [], name
        await screenshot(p, f"help-contact-handoff-{name}")
        if p is not page:
            await p.context.close()

    votes = await db.fetch(
        "SELECT helpful, device_id IS NOT NULL AS device FROM faq_votes WHERE faq_id = $1", faqs["track"]["id"]
    )
    assert [(v["helpful"], v["device"]) for v in votes] == [(False, True), (False, True)]  # one per device
    waiting = await db.fetchval("SELECT count(*) FROM conversations WHERE handoff_status = 'waiting_for_agent'")
    assert waiting == 2
