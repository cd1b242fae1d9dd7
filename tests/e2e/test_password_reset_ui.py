"""Password recovery in a real browser: "Forgot your password?" on the sign-in page, the mail in the
admin panel's outbox (no mail server configured), the link, a new password, signing in with it."""

from __future__ import annotations

import re

import asyncpg
import httpx
from playwright.async_api import Browser, Page, expect

from helpline.core.runtime import Runtime
from tests.conftest import register
from tests.e2e.conftest import axe_violations
from tests.e2e.test_admin_ui import admin_tokens, open_admin
from tests.notifications.outbox import mailed

NEW_PASSWORD = "Fresh-passphrase-2026"


async def test_a_forgotten_password_is_reset_from_the_mailed_link(
    page: Page, browser: Browser, web: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await register(client, "forgetful@example.com")).status_code == 202

    await page.goto("/login")
    await page.get_by_label("Email or username").fill("forgetful@example.com")
    await page.get_by_role("link", name="Forgot your password?").click()
    await expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    await expect(page.get_by_label("Email")).to_have_value("forgetful@example.com")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Send me a link").click()
    await expect(page.get_by_role("status")).to_contain_text("If an account uses forgetful@example.com")
    await mailed(
        runtime.settings.outbox_dir, to="forgetful@example.com", kind="password_reset"
    )  # a job writes it, just after

    # No mail server here: an admin finds the mail in the outbox.
    admin_context = await browser.new_context(base_url=web, service_workers="block")
    admin = await admin_context.new_page()
    await open_admin(admin, await admin_tokens(web, db), "/admin")
    await admin.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Outbox").click()
    await expect(admin.get_by_role("heading", name="Outbox", level=1)).to_be_visible()
    row = admin.get_by_role("row").filter(has_text="forgetful@example.com")
    await row.get_by_role("link", name="Reset your Helpline password").click()
    await expect(admin.get_by_role("heading", name="Reset your Helpline password")).to_be_visible()
    text = await admin.locator("pre").inner_text()
    assert await axe_violations(admin) == []
    await admin_context.close()
    found = re.search(r"http://\S+(/reset-password#token=[\w-]+)", text)
    assert found, text
    link = found.group(1)  # the link's host is HELPLINE_PUBLIC_URL's, not this test server's

    await page.goto(link)
    await expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    await expect(page).to_have_url(f"{web}/reset-password")  # the token left the address bar
    await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("New password, again").fill(NEW_PASSWORD + "x")
    await page.get_by_role("button", name="Save the new password").click()
    await expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    await page.get_by_label("New password, again").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Save the new password").click()
    await expect(page).to_have_url(f"{web}/login")
    await expect(page.get_by_role("status")).to_contain_text("Your password was changed")

    await page.get_by_label("Email or username").fill("forgetful@example.com")
    await page.get_by_label("Password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/chat"))

    # The link worked once.
    await page.goto(link)
    await page.get_by_label("New password", exact=True).fill("Yet-another-passphrase-1")
    await page.get_by_label("New password, again").fill("Yet-another-passphrase-1")
    await page.get_by_role("button", name="Save the new password").click()
    await expect(page.get_by_role("alert")).to_contain_text("This link has expired or was already used.")
    await page.get_by_role("link", name="Ask for a new one.").click()
    await expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
