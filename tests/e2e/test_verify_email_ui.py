"""Email verification in a real browser, with HELPLINE_AUTH_EMAIL_VERIFICATION=required: sign-up
says to check the inbox, sign-in waits and offers a new link, the mailed link confirms the
address, then signing in works; a changed email shows the account page's reminder."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from helpline.core.config import AuthSettings, Settings
from helpline.core.runtime import Runtime
from tests.conftest import PASSWORD, TEST_SECRET, bearer, make_settings
from tests.e2e.conftest import axe_violations, sign_in_page
from tests.notifications.outbox import mailed


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    auth = AuthSettings(secret_key=TEST_SECRET, bcrypt_rounds=4, email_verification="required")
    return make_settings(database_url, tmp_path, auth=auth)


async def confirmation_link(runtime: Runtime, email: str, count: int = 1) -> str:
    """The path of the newest confirmation link mailed to ``email`` (outbox: no mail server),
    once ``count`` of them were written by their jobs."""
    [newest, *_] = await mailed(runtime.settings.outbox_dir, to=email, kind="verify_email", count=count)
    link = re.search(r"(/verify-email#token=[\w-]+)", newest.text)
    assert link, newest.text
    return link.group(1)


async def test_sign_up_waits_for_the_mailed_link_then_signs_in(page: Page, web: str, runtime: Runtime) -> None:
    await page.goto("/register")
    await page.get_by_label("Email").fill("careful@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("I agree to the processing").check()
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("We sent a link to careful@example.com")
    assert await axe_violations(page) == []

    # Signing in before opening the link: refused, with a way to get a new link.
    await page.goto("/login")
    await page.get_by_label("Email or username").fill("careful@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Confirm your email address first")
    await page.get_by_role("button", name="Send the link again").click()
    await expect(page.get_by_role("status")).to_contain_text("a new link is on its way")

    await page.goto(await confirmation_link(runtime, "careful@example.com", count=2))
    await expect(page.get_by_role("status")).to_have_text(
        "Your email address careful@example.com is confirmed. Thank you!"
    )
    await expect(page).to_have_url(f"{web}/verify-email")  # the token left the address bar
    await page.get_by_role("main").get_by_role("link", name="Sign in").click()
    await page.get_by_label("Email or username").fill("careful@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/chat"))


async def test_a_changed_email_is_confirmed_again_from_the_account_page(page: Page, web: str, runtime: Runtime) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        body = {"email": "moving@example.com", "password": PASSWORD, "data_processing_consent": True}
        assert (await client.post("/api/v1/auth/register", json=body)).status_code == 202
        link = await confirmation_link(runtime, "moving@example.com")
        assert (
            await client.post("/api/v1/auth/verify-email", json={"token": link.split("=", 1)[1]})
        ).status_code == 200
        tokens = (
            await client.post("/api/v1/auth/login", json={"login": "moving@example.com", "password": PASSWORD})
        ).json()
        r = await client.patch(
            "/api/v1/users/me",
            headers=bearer(tokens),
            json={"email": "moved@example.com", "current_password": PASSWORD},
        )
        assert r.status_code == 200, r.text
    await sign_in_page(page, tokens)
    await page.goto("/account")
    reminder = page.locator(".account-unverified")
    await expect(reminder).to_contain_text("Your email address moved@example.com is not confirmed yet")
    assert await axe_violations(page) == []
    await page.goto(await confirmation_link(runtime, "moved@example.com"))
    await expect(page.get_by_role("status")).to_contain_text("is confirmed")
    await page.goto("/account")
    await expect(page.get_by_role("heading", name="Account", level=1)).to_be_visible()
    await expect(page.locator(".account-unverified")).to_have_count(0)

    # The same link a second time: expired, and (confirmed now) nothing to send again for it.
    await page.goto(await confirmation_link(runtime, "moved@example.com"))
    await expect(page.get_by_role("alert")).to_have_text("This confirmation link has expired or was already used.")
