"""Search synonyms in the admin panel, in a real browser: staff add a set (the form says what is
wrong with one before sending it), edit it in place, and delete it after confirming; the API
stores what the screen shows, and the page passes axe."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Page, expect

from tests.e2e.conftest import axe_violations, screenshot
from tests.e2e.test_admin_ui import admin_tokens, open_admin


async def test_staff_add_edit_and_delete_a_synonym_set(page: Page, web: str, db: asyncpg.Connection) -> None:
    await open_admin(page, await admin_tokens(web, db), "/admin/synonyms")
    await expect(page.get_by_role("heading", name="Search synonyms", level=1)).to_be_visible()
    await expect(page.get_by_text("No synonym sets yet.")).to_be_visible()
    assert await axe_violations(page) == []

    terms = page.get_by_label("Terms")
    add = page.get_by_role("button", name="Add synonym set")
    # One term is not a set: said before anything is sent.
    await terms.fill("parcel")
    await add.click()
    await expect(page.get_by_text("Give at least 2 terms, separated by commas.")).to_be_visible()
    await terms.fill("Parcel, package, parcel")
    await add.click()
    await expect(page.get_by_text("“parcel” is in the set twice.")).to_be_visible()
    assert await db.fetchval("SELECT count(*) FROM search_synonyms") == 0

    await terms.fill("Parcel,  PACKAGE")
    await page.get_by_role("region", name="New synonym set").get_by_label("Language").select_option("en")
    await add.click()
    await expect(page.get_by_role("status")).to_have_text("Synonym set “parcel, package” added.")
    items = page.get_by_role("region", name="All synonym sets").get_by_role("listitem")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text("parcel, package")
    await expect(items.first).to_contain_text("English")
    assert await axe_violations(page) == []
    await screenshot(page, "admin-synonyms")

    # Edit in place: another term, every language.
    await page.get_by_role("button", name="Edit parcel, package").click()
    await page.get_by_label("Terms of parcel, package").fill("parcel, package, shipment")
    await page.get_by_label("Language of parcel, package").select_option("")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Save").click()
    await expect(items.first).to_contain_text("parcel, package, shipment")
    await expect(items.first).to_contain_text("All languages")
    row = await db.fetchrow("SELECT language, terms FROM search_synonyms")
    assert row is not None
    assert (row["language"], row["terms"]) == (None, ["parcel", "package", "shipment"])

    # Delete, confirmed in a dialog.
    await page.get_by_role("button", name="Delete parcel, package, shipment").click()
    dialog = page.get_by_role("dialog", name="Delete the synonym set “parcel, package, shipment”?")
    await expect(dialog).to_be_visible()
    assert await axe_violations(page) == []
    await dialog.get_by_role("button", name="Delete").click()
    await expect(page.get_by_text("No synonym sets yet.")).to_be_visible()
    assert await db.fetchval("SELECT count(*) FROM search_synonyms") == 0
    actions = await db.fetch("SELECT action FROM audit_log WHERE target_type = 'search_synonym' ORDER BY id")
    assert [a["action"] for a in actions] == [
        "search_synonym.created",
        "search_synonym.updated",
        "search_synonym.deleted",
    ]
