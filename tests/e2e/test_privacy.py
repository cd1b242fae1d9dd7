"""The account page's privacy section in a real browser against a real server: consents (and the
prompt after a policy change), "Download my data", "Delete my account"; and the admin's erase."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Page, expect

from tests.conftest import PASSWORD, bearer
from tests.e2e.conftest import axe_violations, screenshot, sign_in_page


async def account(web: str, email: str, **extra: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web) as client:
        body = {"email": email, "password": PASSWORD, "data_processing_consent": True, "gdpr_consent": True, **extra}
        r = await client.post("/api/v1/auth/register", json=body)
        assert r.status_code in (201, 202), r.text
        r = await client.post("/api/v1/auth/login", json={"login": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens: dict[str, Any] = r.json()
        r = await client.post("/api/v1/chat/send", headers=bearer(tokens), json={"message": "Where is parcel 4711?"})
        assert r.status_code == 200, r.text
        return tokens


async def test_consents_export_and_deleting_my_account(page: Page, web: str, db: asyncpg.Connection) -> None:
    tokens = await account(web, "grace@example.com", first_name="Grace")
    await sign_in_page(page, tokens)
    await page.goto("/account")
    await expect(page.get_by_role("heading", name="Privacy and consents")).to_be_visible()
    processing = page.get_by_label("Processing of my messages to answer them")
    await expect(processing).to_be_checked()
    await screenshot(page, "account-privacy")
    assert await axe_violations(page) == []

    # Consents: withdrawing processing says the chat stops; analytics on; processing back on.
    await processing.uncheck()
    await expect(page.get_by_role("alert")).to_contain_text("the chat will not answer")
    await page.get_by_label("Usage statistics").check()
    await expect(page.get_by_label("Usage statistics")).to_be_checked()
    await expect(page.get_by_text("Your choice has been saved.")).to_be_visible()
    row = await db.fetchrow("SELECT data_processing_consent, analytics_consent FROM users")
    assert row is not None
    assert (row["data_processing_consent"], row["analytics_consent"]) == (False, True)
    # Without it the chat says why it does not answer, and where to give it again.
    await page.goto("/chat")
    box = page.get_by_role("textbox", name="Message")
    await box.fill("Are you there?")
    await box.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("withdrawn your consent to the processing")
    await page.goto("/account")
    await processing.check()
    await expect(page.get_by_text("the chat will not answer")).to_have_count(0)
    sources = await db.fetch("SELECT DISTINCT source FROM consent_records WHERE source IS NOT NULL")
    assert {r["source"] for r in sources} == {"registration", "web"}

    # A new policy version: the app asks for consent again, and records it.
    await db.execute("UPDATE consent_records SET policy_version = '2020-01-01'")
    await page.reload()
    dialog = page.get_by_role("dialog", name="Our privacy policy has changed")
    await expect(dialog).to_be_visible()
    await screenshot(page, "reconsent-prompt")
    await dialog.get_by_role("button", name="Accept and continue").click()
    await expect(dialog).to_be_hidden()
    latest = await db.fetchval(
        "SELECT policy_version FROM consent_records WHERE consent_type = 'data_processing' ORDER BY id DESC LIMIT 1"
    )
    assert latest != "2020-01-01"

    # Download my data: prepared in the background, then offered as a ZIP.
    await page.get_by_role("button", name="Prepare my data").click()
    download_button = page.get_by_role("button", name="Download my data (ZIP)")
    await expect(download_button).to_be_visible(timeout=20_000)
    async with page.expect_download() as info:
        await download_button.click()
    download = await info.value
    path = await download.path()
    with zipfile.ZipFile(path) as zf:
        data = json.loads(zf.read("data.json"))
        assert "README.md" in zf.namelist()
    assert data["profile"]["email"] == "grace@example.com"
    assert data["conversations"][0]["messages"][0]["content"] == "Where is parcel 4711?"

    # Delete my account: a wrong password deletes nothing; the right one signs out.
    await page.get_by_role("button", name="Delete my account").click()
    dialog = page.get_by_role("dialog", name="Delete your account for good?")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Current password").fill("not-my-password")
    await dialog.get_by_role("button", name="Delete my account").click()
    await expect(dialog.get_by_role("alert")).to_have_text("The password is not correct. Nothing was deleted.")
    assert await db.fetchval("SELECT count(*) FROM users") == 1
    await screenshot(page, "delete-account-dialog")
    await dialog.get_by_label("Current password").fill(PASSWORD)
    await dialog.get_by_role("button", name="Delete my account").click()
    await expect(page).to_have_url(f"{web}/login")
    await expect(page.get_by_text("Your account and all its data have been deleted.")).to_be_visible()
    assert await db.fetchval("SELECT count(*) FROM users") == 0
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert await page.evaluate("localStorage.getItem('helpline.session')") is None


async def test_the_privacy_page_points_to_the_account_page(page: Page) -> None:
    await page.goto("/privacy")
    await expect(page.get_by_role("link", name="account page")).to_have_attribute("href", "/account")


async def test_an_admin_erases_a_user(page: Page, web: str, db: asyncpg.Connection) -> None:
    admin = await account(web, "boss@example.com")
    await db.execute("UPDATE users SET role = 'admin' WHERE email = 'boss@example.com'")
    await account(web, "leaving@example.com")
    await sign_in_page(page, admin)
    await page.goto("/admin/users")
    await expect(page.get_by_role("button", name="Erase boss@example.com and all their data")).to_be_disabled()
    erase = page.get_by_role("button", name="Erase leaving@example.com and all their data")
    await erase.click()
    dialog = page.get_by_role("dialog", name="Erase this account?")
    await expect(dialog).to_contain_text("leaving@example.com and everything stored about them")
    await dialog.get_by_role("button", name="Cancel").click()
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = 'leaving@example.com'") == 1
    await erase.click()
    await screenshot(page, "admin-erase-user")
    assert await axe_violations(page) == []
    await dialog.get_by_role("button", name="Erase for good").click()
    await expect(page.get_by_text("leaving@example.com has been erased.")).to_be_visible()
    await expect(erase).to_have_count(0)
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = 'leaving@example.com'") == 0
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'privacy.account_erased'") == 1
