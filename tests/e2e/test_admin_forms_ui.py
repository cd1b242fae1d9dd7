"""The admin panel's forms and its phone layout in a real browser: unsaved edits are not lost
without a warning (in-app navigation and leaving the page), each field shows its own error from
the API's field errors, and on a phone (390x844) the menu is one compact row with a scroll hint."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Browser, Dialog, Page, expect

from tests.e2e.conftest import axe_violations, phone_page, screenshot
from tests.e2e.test_admin_ui import admin_tokens, open_admin


async def test_unsaved_faq_edits_warn_before_they_are_lost(page: Page, web: str, db: asyncpg.Connection) -> None:
    await open_admin(page, await admin_tokens(web, db), "/admin/faqs/new")
    menu = page.get_by_role("navigation", name="Admin menu")
    await page.get_by_label("Question").fill("How do I change my address?")

    # A link inside the app: our dialog; "Cancel" stays with the edits.
    await menu.get_by_role("link", name="Categories").click()
    dialog = page.get_by_role("dialog", name="Leave without saving?")
    await expect(dialog).to_be_visible()
    assert await axe_violations(page) == []
    await screenshot(page, "admin-unsaved-dialog")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(page).to_have_url(f"{web}/admin/faqs/new")
    await expect(page.get_by_label("Question")).to_have_value("How do I change my address?")

    # Leaving the page (a reload): the browser's own prompt.
    seen: list[str] = []

    async def dismiss(d: Dialog) -> None:
        seen.append(d.type)
        await d.dismiss()

    page.once("dialog", dismiss)
    await page.get_by_label("Question").click()  # a user gesture, which browsers require for the prompt
    await page.evaluate("() => { location.reload(); }")
    await expect(page.get_by_label("Question")).to_have_value("How do I change my address?")
    assert seen == ["beforeunload"]

    # Saved: no warning any more, the editor moves to the new FAQ and on to another screen freely.
    await page.get_by_label("Answer (Markdown)").fill("Under **Account → Address**.")
    await page.get_by_role("button", name="Save draft").click()
    await expect(page.get_by_role("status")).to_have_text("Draft saved.")
    await menu.get_by_role("link", name="Categories").click()
    await expect(page).to_have_url(f"{web}/admin/categories")

    # The category form too: "Leave and lose changes" goes.
    await page.get_by_label("Name").fill("Half-typed")
    await menu.get_by_role("link", name="FAQs").click()
    await (
        page.get_by_role("dialog", name="Leave without saving?")
        .get_by_role("button", name="Leave and lose changes")
        .click()
    )
    await expect(page).to_have_url(f"{web}/admin/faqs")


async def test_each_field_shows_its_own_error(page: Page, web: str, db: asyncpg.Connection) -> None:
    await open_admin(page, await admin_tokens(web, db), "/admin/faqs/new")
    await page.get_by_label("Answer (Markdown)").fill("An answer.")
    await page.get_by_label("Slug (address)").fill("Not A Slug!")
    await page.get_by_role("button", name="Save draft").click()  # no question, a bad slug: two errors
    question, slug = page.get_by_label("Question"), page.get_by_label("Slug (address)")
    await expect(question).to_have_attribute("aria-invalid", "true")
    await expect(slug).to_have_attribute("aria-invalid", "true")
    question_error = page.locator(f"#{await question.get_attribute('id')}-error")
    slug_error = page.locator(f"#{await slug.get_attribute('id')}-error")
    await expect(question_error).to_have_text("must not be empty")
    await expect(slug_error).to_contain_text("String should match pattern")
    await expect(question_error).not_to_contain_text("pattern")  # not merged under the first field
    assert await axe_violations(page) == []
    await screenshot(page, "admin-field-errors")


async def test_admin_menu_on_a_phone_is_compact_and_hints_at_more(
    browser: Browser, page: Page, web: str, db: asyncpg.Connection
) -> None:
    tokens = await admin_tokens(web, db)
    phone = await phone_page(browser, web)
    try:
        await open_admin(phone, tokens, "/admin/faqs")
        menu = phone.get_by_role("navigation", name="Admin menu")
        box = await menu.bounding_box()
        assert box is not None
        content_top = await phone.evaluate("document.querySelector('.admin-content').getBoundingClientRect().top")
        print(f"\nadmin menu on a 390x844 phone: {box['height']:.0f}px tall; content starts at {content_top:.0f}px")
        assert box["height"] <= 56, f"the admin menu is {box['height']}px tall"
        assert content_top >= box["y"] + box["height"], "the menu covers the screen's content"
        # More tabs than fit: the right edge fades with a "›"; scrolled to the end, the hint goes.
        await expect(menu).to_have_class("admin-menu more-end")
        await expect(phone.locator(".admin-menu-hint")).to_be_visible()
        assert await axe_violations(phone) == []
        await screenshot(phone, "admin-phone-menu")
        await menu.locator("ul").evaluate("ul => { ul.scrollLeft = ul.scrollWidth; }")
        await expect(menu).to_have_class("admin-menu more-start")
        await expect(phone.locator(".admin-menu-hint")).to_have_count(0)
        # A screen far along the menu opens with its tab in view.
        await phone.goto("/admin/jobs")
        jobs = menu.get_by_role("link", name="Background jobs")
        await expect(jobs).to_be_in_viewport()
        await screenshot(phone, "admin-phone-menu-jobs")
    finally:
        await phone.context.close()


async def test_unsaved_warning_and_field_errors_on_a_phone(browser: Browser, web: str, db: asyncpg.Connection) -> None:
    tokens = await admin_tokens(web, db)
    phone = await phone_page(browser, web)
    try:
        await open_admin(phone, tokens, "/admin/faqs/new")
        await phone.get_by_label("Answer (Markdown)").fill("An answer.")
        await phone.get_by_label("Slug (address)").fill("Not A Slug!")
        await phone.get_by_role("button", name="Save draft").click()
        await expect(phone.get_by_label("Question")).to_have_attribute("aria-invalid", "true")
        await expect(phone.get_by_label("Slug (address)")).to_have_attribute("aria-invalid", "true")
        assert await axe_violations(phone) == []
        await screenshot(phone, "admin-field-errors-phone")

        await phone.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Categories").click()
        dialog = phone.get_by_role("dialog", name="Leave without saving?")
        await expect(dialog).to_be_visible()
        assert await axe_violations(phone) == []
        await screenshot(phone, "admin-unsaved-dialog-phone")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(phone).to_have_url(f"{web}/admin/faqs/new")
        await expect(phone.get_by_label("Answer (Markdown)")).to_have_value("An answer.")
    finally:
        await phone.context.close()
