"""The admin panel in a real browser against a real server: FAQs (editor with live preview,
draft → published), categories, CSV import with its row report, unanswered questions turned
into drafts, users' roles; and a FAQ published here answers the next user's question."""

from __future__ import annotations

import json
import re
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Browser, FilePayload, Page, expect

from tests.conftest import bearer, login, make_admin, signed_in
from tests.e2e.conftest import axe_violations, phone_page, screenshot, sign_in_page

ADMIN = "boss@example.com"
QUESTION = "How do I return a damaged parcel?"
ANSWER = "Pack it **well** and book a pickup:\n\n- print the label\n- hand it over\n\n<b>no HTML</b>"


async def admin_tokens(web: str, db: asyncpg.Connection, email: str = ADMIN) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web) as client:
        await signed_in(client, email)
        await make_admin(db, email)
        tokens: dict[str, Any] = (await login(client, email)).json()  # a token that says "admin"
        return tokens


async def open_admin(page: Page, tokens: dict[str, Any], path: str) -> None:
    await sign_in_page(page, tokens)
    await page.goto(path)
    await expect(page.get_by_role("navigation", name="Admin menu")).to_be_visible()


async def test_admin_writes_a_faq_with_a_live_preview_and_publishes_it(
    page: Page, browser: Browser, web: str, db: asyncpg.Connection
) -> None:
    await open_admin(page, await admin_tokens(web, db), "/admin")
    await expect(page).to_have_url(f"{web}/admin/faqs")
    await expect(page.get_by_text("No FAQs yet")).to_be_visible()
    assert await axe_violations(page) == []

    # A category first.
    await page.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Categories").click()
    await page.get_by_label("Name").fill("Returns")
    await page.get_by_role("button", name="Create category").click()
    await expect(page.get_by_role("status")).to_contain_text("Category “Returns” created.")
    await expect(page.get_by_role("button", name="Rename Returns")).to_be_visible()
    assert await axe_violations(page) == []

    # The FAQ, written as a draft with the preview following the typing.
    await page.get_by_role("link", name="FAQs").click()
    await page.get_by_role("link", name="New FAQ").click()
    await page.get_by_label("Question").fill(QUESTION)
    preview = page.get_by_role("region", name="Preview")
    await expect(preview).to_contain_text("The answer appears here")
    await page.get_by_label("Answer (Markdown)").fill(ANSWER)
    await expect(preview.locator("strong")).to_have_text("well")
    await expect(preview.locator("li")).to_have_count(2)
    await expect(preview).to_contain_text("<b>no HTML</b>")  # HTML stays text
    assert await preview.locator("b").count() == 0
    await page.get_by_label("Category").select_option(label="Returns")
    await page.get_by_label("Keywords").fill("returns, damaged")
    await page.get_by_label("Meta title").fill("Returning a damaged parcel")
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays at the top of the picture
    await screenshot(page, "admin-faq-edit")
    assert await axe_violations(page) == []

    await page.get_by_role("button", name="Save draft").click()
    await expect(page).to_have_url(re.compile(r"/admin/faqs/\d+$"))
    await expect(page.get_by_role("status")).to_have_text("Draft saved.")
    await expect(page.locator(".admin-title .status-badge")).to_have_text("Draft")
    faq_id = int(page.url.rsplit("/", 1)[1])
    assert await db.fetchval("SELECT status::text FROM faqs WHERE id = $1", faq_id) == "draft"

    # An API validation error shows next to its field; what was typed stays.
    await page.get_by_label("Slug (address)").fill("Not A Slug!")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator(".field-error")).to_contain_text("pattern")
    await expect(page.get_by_label("Question")).to_have_value(QUESTION)
    await page.get_by_label("Slug (address)").fill("return-damaged-parcel")

    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("status")).to_contain_text("Published")
    await expect(page.locator(".admin-title .status-badge")).to_have_text("Published")
    row = await db.fetchrow("SELECT status::text, slug, keywords::text FROM faqs WHERE id = $1", faq_id)
    assert row is not None
    assert (row["status"], row["slug"], json.loads(row["keywords"])) == (
        "published",
        "return-damaged-parcel",
        ["returns", "damaged"],
    )

    await page.get_by_role("link", name="All FAQs").click()
    table = page.get_by_role("table")
    await expect(table.get_by_role("row", name=re.compile(re.escape(QUESTION)))).to_contain_text("Published")
    await page.get_by_label("Status").select_option("draft")
    await expect(page.get_by_text("No FAQs match these filters.")).to_be_visible()
    await page.get_by_label("Status").select_option("")
    await expect(table.get_by_role("link", name=QUESTION)).to_be_visible()
    await screenshot(page, "admin-faqs")
    assert await axe_violations(page) == []

    # The user's next question cites it.
    way = await user_asks_and_sees_the_citation(browser, web, "return-damaged-parcel")
    print(f"the user asked through the {way}")  # the chat screen ("ui") or, without it, the API


async def user_asks_and_sees_the_citation(browser: Browser, web: str, slug: str) -> str:
    """A separate user asks the FAQ's exact question and is answered with it as the source: in
    the chat screen, or through the API if the chat screen cannot be used. Returns which way."""
    async with httpx.AsyncClient(base_url=web) as client:
        tokens = await signed_in(client, "asker@example.com")
        context = await browser.new_context(base_url=web, service_workers="block")
        try:
            page = await context.new_page()
            await sign_in_page(page, tokens)
            await page.goto("/chat")
            box = page.get_by_role("textbox", name="Message")
            try:
                await expect(box).to_be_visible()
                chat_screen = True
            except AssertionError:
                chat_screen = False
            if chat_screen:
                await box.fill(QUESTION)
                await page.get_by_role("button", name="Send").click()
                link = page.get_by_role("list", name="Sources").get_by_role("link", name=QUESTION)
                await expect(link).to_have_attribute("href", f"/help/{slug}")
                await expect(page.locator(".bubble.assistant").last.locator("strong")).to_have_text("well")
                return "ui"
        finally:
            await context.close()
        r = await client.post("/api/v1/chat/send", headers=bearer(tokens), json={"message": QUESTION})
        assert r.status_code == 200, r.text
        assert [s["slug"] for s in r.json()["sources"]] == [slug]
        return "api"


CSV = (
    "question,answer,category,keywords\n"
    "Can I send flowers?,Yes: *fresh* flowers travel overnight.,Special items,flowers;fresh\n"
    "Can I send a letter?,,Special items,\n"
    "Do you deliver on Sundays?,Only in cities.,Delivery,\n"
)


async def test_import_a_csv_and_read_the_row_report(page: Page, web: str, db: asyncpg.Connection) -> None:
    await open_admin(page, await admin_tokens(web, db), "/admin/import")
    await expect(page.get_by_role("heading", name="Import & export", level=1)).to_be_visible()
    await page.get_by_role("button", name="Import", exact=True).click()
    await expect(page.get_by_text("Choose a file to import.")).to_be_visible()

    upload: FilePayload = {"name": "faqs.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    await page.get_by_label("File", exact=True).set_input_files(upload)
    await page.get_by_role("checkbox", name="Dry run").check()
    await page.get_by_role("button", name="Check file").click()
    report = page.get_by_role("region", name=re.compile("Dry run for faqs.csv"))
    await expect(report).to_be_visible()
    assert await db.fetchval("SELECT count(*) FROM faqs") == 0

    await page.get_by_role("checkbox", name="Dry run").uncheck()
    await page.get_by_role("button", name="Import", exact=True).click()
    report = page.get_by_role("region", name="Report for faqs.csv")
    counts = report.locator(".report-counts")
    await expect(counts).to_contain_text(
        re.compile(r"Created\s*2\s*Updated\s*0\s*Unchanged\s*0\s*Categories created\s*2\s*Rejected\s*1")
    )
    rejected = report.get_by_role("table", name="Rejected rows")
    await expect(rejected.get_by_role("row")).to_have_count(2)  # header + the bad row
    await expect(rejected.get_by_role("row").nth(1)).to_contain_text(re.compile(r"2\s*FAQ\s*answer"))
    assert await db.fetchval("SELECT count(*) FROM faqs WHERE status = 'draft'") == 2
    await screenshot(page, "admin-import")
    assert await axe_violations(page) == []

    # Export: each format downloads.
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename == "faqs.csv"
    assert "Can I send flowers?" in (await download.path()).read_text(encoding="utf-8-sig")


async def test_an_unanswered_question_becomes_a_draft(page: Page, web: str, db: asyncpg.Connection) -> None:
    admin = await admin_tokens(web, db)
    async with httpx.AsyncClient(base_url=web) as client:
        user = await signed_in(client, "curious@example.com")
        r = await client.post(
            "/api/v1/chat/send", headers=bearer(user), json={"message": "Can penguins deliver to Antarctica?"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["sources"] == []
    await open_admin(page, admin, "/admin/unanswered")
    group = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="Can penguins deliver to Antarctica?")
    )
    await expect(group).to_contain_text("Asked once")
    await screenshot(page, "admin-unanswered")
    assert await axe_violations(page) == []

    await group.get_by_role("button", name=re.compile("^Create FAQ from this")).click()
    await expect(page).to_have_url(re.compile(r"/admin/faqs/\d+$"))
    await expect(page.get_by_label("Question")).to_have_value("Can penguins deliver to Antarctica?")
    await expect(page.locator(".admin-title .status-badge")).to_have_text("Draft")
    await page.get_by_role("link", name="Unanswered").click()
    await expect(page.get_by_text("Nothing waiting")).to_be_visible()


async def test_admin_changes_a_users_role(page: Page, browser: Browser, web: str, db: asyncpg.Connection) -> None:
    admin = await admin_tokens(web, db)
    async with httpx.AsyncClient(base_url=web) as client:
        await signed_in(client, "helper@example.com")
    await open_admin(page, admin, "/admin/users")
    await page.get_by_role("searchbox", name="Search users").fill("helper")
    await page.get_by_role("button", name="Search").click()
    role = page.get_by_label("Role of helper@example.com")
    await expect(page.get_by_label(f"Role of {ADMIN}")).to_have_count(0)

    await role.select_option("moderator")  # a promotion short of admin needs no confirmation
    await expect(page.get_by_text("helper@example.com is now: Moderator, Active.")).to_be_visible()
    assert await db.fetchval("SELECT role::text FROM users WHERE email = 'helper@example.com'") == "moderator"
    # The list reloads after a change: choose again only once it shows the saved role (under load
    # a choice made before that reload was undone by it, and no dialog opened).
    await page.wait_for_load_state("networkidle")
    await expect(role).to_have_value("moderator")
    await expect(role).to_be_enabled()

    await role.select_option("user")  # a demotion does
    dialog = page.get_by_role("dialog", name="Change this account?")
    await expect(dialog).to_contain_text("Make helper@example.com a User?")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(role).to_have_value("moderator")
    await role.select_option("user")
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(role).to_have_value("user")
    assert await db.fetchval("SELECT role::text FROM users WHERE email = 'helper@example.com'") == "user"

    await page.get_by_role("searchbox", name="Search users").fill("")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_label(f"Role of {ADMIN}")).to_be_disabled()  # not yourself
    await screenshot(page, "admin-users")
    assert await axe_violations(page) == []

    # A moderator sees the panel without the users screen.
    await db.execute("UPDATE users SET role = 'moderator' WHERE email = 'helper@example.com'")
    async with httpx.AsyncClient(base_url=web) as client:
        moderator = (await login(client, "helper@example.com")).json()
    phone = await phone_page(browser, web)
    try:
        await open_admin(phone, moderator, "/admin/users")
        menu = phone.get_by_role("navigation", name="Admin menu")
        await expect(menu.get_by_role("link", name="FAQs")).to_be_visible()
        await expect(menu.get_by_role("link", name="Users")).to_have_count(0)
        await expect(phone).to_have_url(f"{web}/admin/faqs")
        await expect(phone.get_by_role("link", name=QUESTION)).to_have_count(0)
        await expect(phone.get_by_text("No FAQs yet")).to_be_visible()
        # On a phone the menu is a bar above the content, not a column beside it.
        menu_box, content_box = await menu.bounding_box(), await phone.locator(".admin-content").bounding_box()
        assert menu_box is not None
        assert content_box is not None
        assert menu_box["y"] + menu_box["height"] <= content_box["y"] + 1
        assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await screenshot(phone, "admin-phone")
        assert await axe_violations(phone) == []
    finally:
        await phone.context.close()
