"""The mobile app's web build against a real server: register with the consents, sign in, send a
message and watch the answer stream in; sent through the outbox with its client_id."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot


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
    for _ in range(50):
        if await db.fetchval("SELECT helpful FROM message_feedback WHERE message_id = $1", message_id):
            break
        await page.wait_for_timeout(100)
    assert await db.fetchval("SELECT helpful FROM message_feedback WHERE message_id = $1", message_id) is True

    # Back to the list: the conversation is there, titled by its first message.
    await page.get_by_role("button", name="Back").click()
    await expect(page.get_by_role("button", name="Hello from the phone")).to_be_visible()
    assert errors == []
    await page.context.close()
