"""The public help center (browse by topic, read a FAQ, search, vote) and the account page
(profile, language, password) in a real browser against a real server."""

from __future__ import annotations

import html
import re
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import PASSWORD, bearer, login, make_admin, register, signed_in
from tests.e2e.conftest import axe_violations, phone_page, screenshot, sign_in_page

TRACK_ANSWER = (
    "**Open** the *Track* page, then:\n\n"
    "- enter the tracking number\n"
    "- press Go\n\n"
    "<b>Never</b> share the number. <img src=x onerror=alert(1)>"
)


async def seed_help_center(web: str, db: asyncpg.Connection) -> dict[str, Any]:
    """A topic with two published FAQs and a draft, created by an admin through the API."""
    async with httpx.AsyncClient(base_url=web) as client:
        await signed_in(client, "admin@example.com")
        await make_admin(db, "admin@example.com")
        auth = bearer((await login(client, "admin@example.com")).json())
        r = await client.post(
            "/api/v1/faq-categories", headers=auth, json={"name": "Shipping", "description": "Parcels and delivery"}
        )
        assert r.status_code == 201, r.text
        category = r.json()
        faqs: dict[str, Any] = {"category": category}
        for key, question, answer, status in [
            ("track", "How do I track my parcel?", TRACK_ANSWER, "published"),
            ("delivery", "How long does delivery take?", "Usually **two** working days.", "published"),
            ("draft", "Can I ship a piano?", "Not yet.", "draft"),
        ]:
            body = {"question": question, "answer": answer, "category_id": category["id"], "status": status}
            r = await client.post("/api/v1/faqs", headers=auth, json=body)
            assert r.status_code == 201, r.text
            faqs[key] = r.json()
    return faqs


async def test_help_center_browse_read_and_search(page: Page, web: str, db: asyncpg.Connection) -> None:
    seeded = await seed_help_center(web, db)
    track = seeded["track"]

    await page.goto("/help")
    await expect(page.get_by_role("heading", name="Help center", level=1)).to_be_visible()
    topic = page.get_by_role("link", name=re.compile(r"Shipping\s*2 questions"))
    await expect(topic).to_be_visible()
    await expect(page.get_by_role("heading", name="Popular questions")).to_be_visible()
    await expect(page.get_by_text("Can I ship a piano?")).to_have_count(0)  # drafts stay private
    assert await page.title() == "Help center · Helpline"
    await screenshot(page, "help")
    assert await axe_violations(page) == []

    await topic.click()
    await expect(page).to_have_url(f"{web}/help/c/{seeded['category']['slug']}")
    await expect(page.get_by_role("heading", name="Shipping", level=1)).to_be_visible()
    await expect(page.get_by_role("link", name="How long does delivery take?")).to_be_visible()
    await screenshot(page, "help-category")
    await page.get_by_role("link", name="How do I track my parcel?").click()

    await expect(page).to_have_url(f"{web}/help/{track['slug']}")
    await expect(page.get_by_role("heading", name="How do I track my parcel?", level=1)).to_be_visible()
    await expect(page).to_have_title("How do I track my parcel? · Help center")
    answer = page.locator(".help-answer")
    await expect(answer.locator("strong")).to_have_text("Open")  # Markdown is rendered...
    await expect(answer.locator("li")).to_have_count(2)
    await expect(answer).to_contain_text("<b>Never</b> share the number.")  # ...HTML is shown as text
    assert await answer.locator("b, img").count() == 0
    description = page.locator('meta[name="description"]')
    await expect(description).to_have_attribute("content", re.compile(r"^Open the Track page, then: - enter"))
    in_app_description = await description.get_attribute("content")
    breadcrumbs = page.get_by_role("navigation", name="Breadcrumbs")
    await expect(breadcrumbs.get_by_role("link", name="Shipping")).to_be_visible()
    # Visitors vote without an account (once per device): the buttons are there, no sign-in link.
    await expect(page.get_by_role("button", name="Yes")).to_be_visible()
    await screenshot(page, "help-faq")
    assert await axe_violations(page) == []

    # In-app navigation to another FAQ retitles the page and moves the canonical link.
    await page.get_by_role("link", name="How long does delivery take?").click()
    await expect(page).to_have_title("How long does delivery take? · Help center")
    canonical = page.locator('link[rel="canonical"]')
    await expect(canonical).to_have_count(1)
    await expect(canonical).to_have_attribute("href", f"{web}/help/{seeded['delivery']['slug']}")

    # Search from the FAQ page's box.
    await page.get_by_role("searchbox", name="Search the help center").fill("track my parcel")
    await page.get_by_role("searchbox", name="Search the help center").press("Enter")
    await expect(page).to_have_url(re.compile(r"/help\?q=track\+my\+parcel|/help\?q=track%20my%20parcel"))
    await expect(page.get_by_role("heading", name="Results for “track my parcel”")).to_be_visible()
    await expect(page.get_by_role("link", name="How do I track my parcel?")).to_be_visible()
    await screenshot(page, "help-search")

    await page.goto("/help?q=zebra%20quantum%20xylophone")
    await expect(page.get_by_text("No FAQs match “zebra quantum xylophone”")).to_be_visible()

    # A fresh load of a FAQ: the server's title and canonical, the app's page; unknown slugs.
    await page.goto(f"/help/{track['slug']}")
    await expect(page.get_by_role("heading", name="How do I track my parcel?", level=1)).to_be_visible()
    await expect(page).to_have_title("How do I track my parcel? · Help center")
    await expect(page.locator('link[rel="canonical"]')).to_have_count(1)
    # The same description as the server gives crawlers (the app may have replaced the tag by then).
    async with httpx.AsyncClient(base_url=web) as client:
        served = (await client.get(f"/help/{track['slug']}")).text
    assert f'<meta name="description" content="{html.escape(in_app_description or "")}" />' in served
    await page.goto("/help/no-such-question")
    await expect(page.get_by_role("heading", name="Not found", level=1)).to_be_visible()
    await page.goto("/help/c/no-such-topic")
    await expect(page.get_by_text("This topic does not exist.")).to_be_visible()


async def test_help_center_on_a_phone_and_signed_in_vote(
    browser: Browser, page: Page, web: str, db: asyncpg.Connection
) -> None:
    seeded = await seed_help_center(web, db)
    phone = await phone_page(browser, web)
    try:
        await phone.goto(f"/help/{seeded['track']['slug']}")
        await expect(phone.get_by_role("heading", name="How do I track my parcel?")).to_be_visible()
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide on a 390px phone"
        await screenshot(phone, "help-phone")
    finally:
        await phone.context.close()

    async with httpx.AsyncClient(base_url=web) as client:
        tokens = await signed_in(client, "reader@example.com")
    await sign_in_page(page, tokens)
    await page.goto(f"/help/{seeded['delivery']['slug']}")
    await page.get_by_role("button", name="Yes").click()
    await expect(page.get_by_role("status").filter(has_text="Thanks for your feedback")).to_be_visible()
    count = await db.fetchval("SELECT helpful_count FROM faqs WHERE id = $1", seeded["delivery"]["id"])
    assert count == 1


async def test_account_profile_password_and_language(page: Page, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await register(client, "ada@example.com")).status_code == 202
        tokens = (await login(client, "ada@example.com")).json()
    await sign_in_page(page, tokens)
    await page.goto("/account")
    await expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    await expect(page.get_by_text("ada@example.com", exact=True)).to_be_visible()
    await screenshot(page, "account")
    assert await axe_violations(page) == []

    await page.get_by_label("First name").fill("Ada")
    await page.get_by_label("Last name").fill("Lovelace")
    await page.get_by_label("Username", exact=True).fill("x")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("alert")).to_contain_text("Username: must be 3-50 characters")
    await page.get_by_label("Username", exact=True).fill("ada.l")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Profile saved.")).to_be_visible()

    # The password: a wrong current one, a mismatch, a weak one, then a good one.
    new_password = "An0ther-long-secret"
    current, new, repeat = (
        page.get_by_label("Current password"),
        page.get_by_label("New password", exact=True),
        page.get_by_label("Repeat the new password"),
    )
    change = page.get_by_role("button", name="Change password")
    await current.fill("not-my-password")
    await new.fill(new_password)
    await repeat.fill(new_password)
    await change.click()
    await expect(page.get_by_role("alert")).to_have_text("The current password is not correct.")
    await current.fill(PASSWORD)
    await repeat.fill(new_password + "x")
    await change.click()
    await expect(page.get_by_role("alert")).to_have_text("The two new passwords are not the same.")
    await new.fill("aaaaaaaa")
    await repeat.fill("aaaaaaaa")
    await change.click()
    await expect(page.get_by_role("alert")).to_contain_text("New password: is too easy to guess")
    await new.fill(new_password)
    await repeat.fill(new_password)
    await change.click()
    await expect(page.get_by_text("Your password has been changed.")).to_be_visible()
    await expect(current).to_have_value("")  # nothing secret left in the form

    # Still signed in here (the page signed back in): the language is saved on the account.
    await page.get_by_label("Interface language").select_option("de")
    await expect(page.get_by_role("heading", name="Ihr Konto", level=1)).to_be_visible()
    await expect(page.get_by_text("Sprache gespeichert.")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "de"
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await login(client, "ada@example.com")).status_code == 401  # the old password is gone
        r = await login(client, "ada.l", new_password)
        assert r.status_code == 200, r.text
        me = r.json()["user"]
        assert (me["language"], me["first_name"], me["last_name"]) == ("de", "Ada", "Lovelace")

    # Sign out and in again with the new password, in German now.
    await page.get_by_role("button", name="Abmelden").click()
    await expect(page).to_have_url(f"{web}/login")
    await page.get_by_label("E-Mail oder Benutzername").fill("ada@example.com")
    await page.get_by_label("Passwort").fill(new_password)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_role("heading", name="Ihr Konto", level=1)).to_be_visible()
