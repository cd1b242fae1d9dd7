"""The administration of accounts in a real browser against a real server: a user's page with
their usage, force logout and suspension (their tokens stop working), erasure confirmed by typing
the email, and the audit log with its filters and "Load more"; moderators see no audit log."""

from __future__ import annotations

import asyncpg
import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import bearer, login, signed_in
from tests.e2e.conftest import axe_violations, phone_page, screenshot
from tests.e2e.test_admin_ui import ADMIN, admin_tokens, open_admin

MEMBER = "member@example.com"


async def test_admin_forces_a_logout_and_suspends_from_the_users_page(
    page: Page, web: str, db: asyncpg.Connection
) -> None:
    admin = await admin_tokens(web, db)
    async with httpx.AsyncClient(base_url=web) as client:
        member = await signed_in(client, MEMBER)
        r = await client.post("/api/v1/chat/send", headers=bearer(member), json={"message": "hello there"})
        assert r.status_code == 200, r.text
    await open_admin(page, admin, "/admin/users")
    await page.get_by_role("link", name=MEMBER).click()
    await expect(page).to_have_url(f"{web}/admin/users/{member['user']['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(MEMBER)
    usage = page.get_by_role("region", name="Usage")
    await expect(usage).to_contain_text("Conversations1")
    await expect(usage).to_contain_text("Messages2")
    assert await axe_violations(page) == []

    # Force logout: confirmed first, then the member's tokens stop working.
    await page.get_by_role("button", name="Force logout").click()
    dialog = page.get_by_role("dialog", name="Sign this account out everywhere?")
    await expect(dialog).to_contain_text(f"{MEMBER} is signed out on every device")
    await dialog.get_by_role("button", name="Force logout").click()
    await expect(page.get_by_text(f"{MEMBER} has been signed out everywhere.")).to_be_visible()
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await client.get("/api/v1/users/me", headers=bearer(member))).status_code == 401
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": member["refresh_token"]})
        assert r.status_code == 401
        again = (await login(client, MEMBER)).json()  # a force logout is not a suspension

    # Suspend: a loss, so confirmed; the new session stops working too.
    status = page.get_by_label("Status")
    await status.select_option("suspended")
    dialog = page.get_by_role("dialog", name="Change this account?")
    await expect(dialog).to_contain_text(f"Set {MEMBER} to Suspended?")
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_text(f"{MEMBER} is now: User, Suspended.")).to_be_visible()
    await expect(status).to_have_value("suspended")
    assert await db.fetchval("SELECT status::text FROM users WHERE email = $1", MEMBER) == "suspended"
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await client.get("/api/v1/users/me", headers=bearer(again))).status_code == 403
        assert (await login(client, MEMBER)).status_code == 403
    await screenshot(page, "admin-user-detail")

    # The account's own trail, from its page.
    await page.get_by_role("link", name="Audit log of this account").click()
    await expect(page).to_have_url(f"{web}/admin/audit?target_type=user&target_id={member['user']['id']}")
    table = page.get_by_role("table", name="Audit entries, newest first")
    await expect(table.get_by_role("row").nth(1)).to_contain_text("auth.login_refused")  # the newest
    for action in ("admin.user_updated", "admin.user_logged_out", "admin.user_viewed", "auth.login"):
        await expect(table).to_contain_text(action)
    await expect(page.get_by_label("Target id")).to_have_value(str(member["user"]["id"]))


async def test_erasing_needs_the_email_typed(page: Page, web: str, db: asyncpg.Connection) -> None:
    admin = await admin_tokens(web, db)
    async with httpx.AsyncClient(base_url=web) as client:
        member = await signed_in(client, MEMBER)
    await open_admin(page, admin, f"/admin/users/{member['user']['id']}")
    await page.get_by_role("button", name="Erase account").click()
    dialog = page.get_by_role("dialog", name="Erase this account?")
    erase = dialog.get_by_role("button", name="Erase for good")
    await expect(erase).to_be_disabled()
    box = dialog.get_by_label(f"To confirm, type the email address {MEMBER}")
    await box.fill("member@example.co")
    await expect(erase).to_be_disabled()
    await box.fill(MEMBER)
    await expect(erase).to_be_enabled()
    await erase.click()
    await expect(page.get_by_role("heading", name="Account erased")).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text(f"{MEMBER} has been erased.")
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = $1", MEMBER) == 0
    # Your own page offers none of it.
    me = await db.fetchval("SELECT id FROM users WHERE email = $1", ADMIN)
    await page.goto(f"/admin/users/{me}")
    await expect(page.get_by_role("button", name="Force logout")).to_be_disabled()
    await expect(page.get_by_role("button", name="Erase account")).to_be_disabled()
    await expect(page.get_by_label("Status")).to_be_disabled()


async def test_audit_log_filters_and_loads_more(page: Page, browser: Browser, web: str, db: asyncpg.Connection) -> None:
    admin = await admin_tokens(web, db)
    async with httpx.AsyncClient(base_url=web) as client:
        await signed_in(client, MEMBER)
        assert (await login(client, MEMBER, "Wrong-password-1")).status_code == 401
    # Enough entries for a second page.
    await db.execute(
        "INSERT INTO audit_log (action, actor_user_id, target_type, target_id) "
        "SELECT 'faqs.imported', NULL, 'faq', g::text FROM generate_series(1, 60) AS g"
    )
    await open_admin(page, admin, "/admin/faqs")
    total = await db.fetchval("SELECT count(*) FROM audit_log")  # reading the log adds entries: newer ones
    await page.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Audit log").click()
    await expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    table = page.get_by_role("table", name="Audit entries, newest first")
    rows = table.locator("tbody tr")
    await expect(rows).to_have_count(50)
    await page.get_by_role("button", name="Load more").click()
    await expect(rows).to_have_count(min(total, 100))
    assert total > 60
    assert await axe_violations(page) == []

    # Only sign-in events: a prefix.
    await page.get_by_label("Action or prefix (auth.)").fill("auth.")
    await page.get_by_role("button", name="Filter", exact=True).click()
    await expect(page).to_have_url(f"{web}/admin/audit?action=auth.")
    await expect(table).to_contain_text("auth.login_failed")
    actions = await table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert actions
    assert all(a.startswith("auth.") for a in actions), actions
    assert "known_account" in await table.inner_text()
    await expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    await screenshot(page, "admin-audit")
    # Nothing matches: said so.
    await page.get_by_label("Action or prefix (auth.)").fill("nothing.")
    await page.get_by_role("button", name="Filter", exact=True).click()
    await expect(page.get_by_text("No entries match these filters.")).to_be_visible()
    await page.get_by_role("button", name="Clear filters").click()
    await expect(page).to_have_url(f"{web}/admin/audit")
    await expect(table).to_contain_text("faqs.imported")
    await expect(page.get_by_label("Action or prefix (auth.)")).to_have_value("")

    # A moderator has no audit log in the menu, and its address leads to the start page.
    await db.execute("UPDATE users SET role = 'moderator' WHERE email = $1", MEMBER)
    async with httpx.AsyncClient(base_url=web) as client:
        moderator = (await login(client, MEMBER)).json()
    phone = await phone_page(browser, web)
    try:
        await open_admin(phone, moderator, "/admin/audit")
        menu = phone.get_by_role("navigation", name="Admin menu")
        await expect(menu.get_by_role("link", name="FAQs")).to_be_visible()
        await expect(menu.get_by_role("link", name="Audit log")).to_have_count(0)
        await expect(phone).to_have_url(f"{web}/admin/faqs")
    finally:
        await phone.context.close()
