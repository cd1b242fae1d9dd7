"""The mobile app's web build against a real server: register with the consents, sign in, send a
message and watch the answer stream in; sent through the outbox with its client_id."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.chat.conftest import eventually
from tests.conftest import PASSWORD, bearer, make_admin, signed_in
from tests.e2e.conftest import screenshot


async def stored(db: asyncpg.Connection, query: str, expected: Any, *args: Any) -> None:
    """Wait until the app has stored what the screen shows (bounded for a loaded machine)."""

    async def landed() -> bool:
        return bool(await db.fetchval(query, *args) == expected)

    await eventually(landed, timeout=30)


@pytest.fixture
def llm() -> Any:
    from tests.chat.fakes import FakeProvider

    return FakeProvider(delay=0.05)  # slow enough that the answer arrives in pieces


async def phone(browser: Browser, origin: str) -> tuple[Page, list[str]]:
    context = await browser.new_context(
        base_url=origin, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


async def test_register_sign_in_and_chat_with_a_streamed_answer(
    browser: Browser, mobile_origin: str, live_server: str, db: asyncpg.Connection
) -> None:
    api = f"http://{live_server}"
    page, errors = await phone(browser, mobile_origin)
    await page.goto("/")

    await page.get_by_role("button", name="Create an account").click()
    await page.get_by_label("Server", exact=True).fill(api)
    await page.get_by_label("Email", exact=True).fill("phone@example.com")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    register = page.get_by_role("button", name="Register")
    # The processing consent is required: without it the app says so and sends nothing.
    await register.click()
    await expect(page.get_by_role("alert")).to_contain_text("Agree to the processing of your data")
    await page.get_by_role("switch", name="I agree to the processing of my data").click()
    await page.get_by_role("switch", name="I have read the privacy policy").click()
    await register.click()

    await expect(page.get_by_text("Account created.")).to_be_visible()
    row = await db.fetchrow(
        "SELECT data_processing_consent, gdpr_consent, marketing_consent FROM users WHERE email = $1",
        "phone@example.com",
    )
    assert row is not None
    assert dict(row) == {
        "data_processing_consent": True,
        "gdpr_consent": True,
        "marketing_consent": False,
    }

    await expect(page.get_by_label("Server", exact=True)).to_have_value(api)
    await page.get_by_label("Email or username").fill("phone@example.com")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text("No conversations yet")).to_be_visible()
    # The tokens are kept (the web build's fallback for the secure store).
    assert await page.evaluate("() => !!localStorage.getItem('helpline.session')")

    await page.get_by_role("button", name="New chat").click()
    box = page.get_by_label("Message")
    await box.fill("Hello from the phone")
    await page.get_by_role("button", name="Send").click()
    answer = page.get_by_test_id("assistant-message").last
    await expect(answer).to_contain_text("You said:")
    await expect(answer).to_contain_text("You said: Hello from the phone")
    # The stored answer (feedback buttons appear once it is final), and a thumbs-up recorded.
    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    await helpful.click()
    await screenshot(page, "mobile-chat")
    message_id = await db.fetchval("SELECT id FROM messages WHERE message_type = 'assistant' ORDER BY id DESC LIMIT 1")
    await stored(db, "SELECT helpful FROM message_feedback WHERE message_id = $1", True, message_id)

    # Sent through the outbox with its idempotency key.
    client_id = await db.fetchval("SELECT client_id FROM messages WHERE content = 'Hello from the phone'")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", client_id or "")

    # Offline: the message waits in the outbox (kept on the device); back online it goes, once.
    await page.context.set_offline(True)
    await box.fill("Written in the tunnel")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_text("Waiting for the network")).to_be_visible()
    await expect(page.get_by_text("You are offline.")).to_be_visible()
    outbox = await page.evaluate("() => localStorage.getItem('helpline.outbox')")
    assert "Written in the tunnel" in outbox
    assert await db.fetchval("SELECT count(*) FROM messages WHERE content = 'Written in the tunnel'") == 0
    await page.context.set_offline(False)
    await expect(answer).to_contain_text("You said: Written in the tunnel")
    await expect(page.get_by_text("Waiting for the network")).to_have_count(0)
    assert await db.fetchval("SELECT count(*) FROM messages WHERE content = 'Written in the tunnel'") == 1

    # Back to the list: the conversation is there, titled by its first message.
    await page.get_by_role("button", name="Back").click()
    await expect(page.get_by_role("button", name="Hello from the phone")).to_be_visible()
    assert errors == []
    await page.context.close()


async def sign_in(page: Page, api: str, email: str) -> None:
    await page.goto("/")
    await page.get_by_label("Server", exact=True).fill(api)
    await page.get_by_label("Email or username").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("tab", name="Help")).to_be_visible()


async def test_help_center_language_and_erasure(
    browser: Browser, mobile_origin: str, live_server: str, db: asyncpg.Connection
) -> None:
    api = f"http://{live_server}"
    async with httpx.AsyncClient(base_url=api) as client:
        admin = await signed_in(client, "kb@example.com")
        await make_admin(db, "kb@example.com")
        r = await client.post(
            "/api/v1/faqs",
            headers=bearer(admin),
            json={
                "question": "How can I track my parcel?",
                "answer": "Enter the tracking number on the Track page.",
                "status": "published",
            },
        )
        assert r.status_code == 201, r.text
        await signed_in(client, "leaving@example.com")
    page, errors = await phone(browser, mobile_origin)
    await sign_in(page, api, "leaving@example.com")

    await page.get_by_role("tab", name="Help").click()
    await page.get_by_label("Search the help center").fill("track parcel")
    await page.get_by_role("button", name="Search", exact=True).click()
    await page.get_by_role("button", name="How can I track my parcel?").click()
    await expect(page.get_by_text("Enter the tracking number on the Track page.")).to_be_visible()

    await page.get_by_role("tab", name="Account").click()
    await page.get_by_role("radio", name="Deutsch").click()
    await expect(page.get_by_role("tab", name="Konto")).to_be_visible()
    await expect(page.get_by_role("radio", name="Deutsch")).to_have_attribute("aria-checked", "true")
    await stored(db, "SELECT language FROM users WHERE email = 'leaving@example.com'", "de")
    await screenshot(page, "mobile-account")

    await page.get_by_role("button", name="Mein Konto löschen").click()
    await page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Mein Konto löschen").click()
    await expect(page.get_by_role("button", name="Anmelden")).to_be_visible()
    assert await page.evaluate("() => localStorage.getItem('helpline.session')") is None
    await stored(db, "SELECT count(*) FROM users WHERE email = 'leaving@example.com'", 0)
    assert errors == []
    await page.context.close()
