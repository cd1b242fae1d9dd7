"""Stored XSS in a real browser (issue #17): a FAQ (question, answer, category name), a
conversation title, a message and a user's name carrying script payloads, shown on the chat page,
the help center and the admin panel. Nothing runs: ``window.__xss`` stays undefined, no dialog
opens, no element carries the payload's handlers, and the page's CSP never had to block a script
(the payloads are text, not markup the policy stopped). A username cannot carry markup at all
(the API refuses it: tests/security/test_inputs.py), so the payloads go in the first and last
name."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import bearer, login, make_admin, signed_in
from tests.e2e.conftest import sign_in_page

IMG = '<img src=x onerror="window.__xss=1;alert(1)">'
SCRIPT = "<script>window.__xss=1;alert(1)</script>"
SVG = '<svg onload="window.__xss=1">'
LINK = "[click me](javascript:window.__xss=1)"

# Runs before the page's own scripts: records any CSP violation and any dialog.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


async def seed(web: str, db: asyncpg.Connection) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web) as client:
        admin = await signed_in(client, "boss@example.com")
        await make_admin(db, "boss@example.com")
        admin = (await login(client, "boss@example.com")).json()
        staff = bearer(admin)
        r = await client.post("/api/v1/faq-categories", headers=staff, json={"name": f"Topic {IMG}"})
        assert r.status_code == 201, r.text
        category = r.json()
        body = {
            "question": f"Question {IMG} {SCRIPT}",
            "answer": f"Answer {SCRIPT} {IMG} {SVG} and {LINK}",
            "category_id": category["id"],
            "status": "published",
        }
        r = await client.post("/api/v1/faqs", headers=staff, json=body)
        assert r.status_code == 201, r.text
        faq = r.json()
        user = await signed_in(client, "victim@example.com")
        auth = bearer(user)
        r = await client.patch("/api/v1/users/me", headers=auth, json={"first_name": IMG[:100], "last_name": SVG})
        assert r.status_code == 200, r.text
        r = await client.post("/api/v1/chat/send", headers=auth, json={"message": f"Message {SCRIPT} {IMG}"})
        assert r.status_code == 200, r.text
        conversation_id = r.json()["conversation_id"]
        r = await client.put(
            f"/api/v1/conversations/{conversation_id}", headers=auth, json={"title": f"Title {IMG} {SCRIPT}"}
        )
        assert r.status_code == 200, r.text
        return {"admin": admin, "user": user, "faq": faq, "category": category, "conversation_id": conversation_id}


async def watched(browser: Browser, web: str) -> tuple[Page, list[str]]:
    context = await browser.new_context(base_url=web, service_workers="block")
    await context.add_init_script(WATCH)
    page = await context.new_page()
    dialogs: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    return page, dialogs


async def assert_inert(page: Page, dialogs: list[str], where: str) -> None:
    assert await page.evaluate("typeof window.__xss") == "undefined", where
    assert dialogs == [], where
    found = await page.evaluate(
        """() => ({
            handlers: document.querySelectorAll('[onerror], [onload], [onclick]').length,
            images: document.querySelectorAll('img[src="x"]').length,
            scripts: [...document.scripts].filter(s => s.textContent.includes('__xss')).length,
            svgs: document.querySelectorAll('body svg[onload]').length,
            jsLinks: [...document.querySelectorAll('a[href]')]
                .filter(a => /^\\s*javascript:/i.test(a.getAttribute('href'))).length,
            csp: window.__csp.filter(v => v.startsWith('script-src')),
        })"""
    )
    assert found == {"handlers": 0, "images": 0, "scripts": 0, "svgs": 0, "jsLinks": 0, "csp": []}, (where, found)


async def test_script_payloads_stay_text_on_the_chat_page_help_center_and_admin_panel(
    browser: Browser, web: str, db: asyncpg.Connection
) -> None:
    seeded = await seed(web, db)
    faq, category = seeded["faq"], seeded["category"]

    page, dialogs = await watched(browser, web)
    await sign_in_page(page, seeded["user"])
    # The chat page: the conversation's title in the sidebar and as the heading, the message.
    await page.goto(f"/chat/{seeded['conversation_id']}")
    await expect(page.get_by_text(f"Message {SCRIPT} {IMG}", exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name=f"Title {IMG} {SCRIPT}")).to_be_visible()
    await assert_inert(page, dialogs, "chat")
    # The account page shows the names.
    await page.goto("/account")
    await expect(page.get_by_label("First name")).to_have_value(IMG[:100])
    await expect(page.get_by_label("Last name")).to_have_value(SVG)
    await assert_inert(page, dialogs, "account")

    # The help center: home, topic, FAQ (rendered Markdown: HTML stays text, javascript: links go).
    await page.goto("/help")
    await expect(page.get_by_role("link", name=re.compile(re.escape(f"Topic {IMG}")))).to_be_visible()
    await assert_inert(page, dialogs, "help home")
    await page.goto(f"/help/c/{category['slug']}")
    await expect(page.get_by_role("heading", name=f"Topic {IMG}", level=1)).to_be_visible()
    await assert_inert(page, dialogs, "help topic")
    await page.goto(f"/help/{faq['slug']}")
    await expect(page.get_by_role("heading", name=re.compile(re.escape(f"Question {IMG}")), level=1)).to_be_visible()
    await expect(page.get_by_text(re.compile(re.escape(SCRIPT))).first).to_be_visible()
    await assert_inert(page, dialogs, "help FAQ")
    await page.context.close()

    # The admin panel: the FAQ list, the editor with its live preview, categories, users.
    page, dialogs = await watched(browser, web)
    await sign_in_page(page, seeded["admin"])
    await page.goto("/admin/faqs")
    await expect(page.get_by_text(f"Question {IMG} {SCRIPT}").first).to_be_visible()
    await assert_inert(page, dialogs, "admin FAQs")
    await page.goto(f"/admin/faqs/{faq['id']}")
    preview = page.get_by_role("region", name="Preview")
    await expect(preview).to_contain_text(SCRIPT)
    await assert_inert(page, dialogs, "admin FAQ editor")
    await page.goto("/admin/categories")
    await expect(page.get_by_role("button", name=f"Rename Topic {IMG}")).to_be_visible()
    await assert_inert(page, dialogs, "admin categories")
    await page.goto("/admin/users")
    await expect(page.get_by_text("victim@example.com").first).to_be_visible()
    await assert_inert(page, dialogs, "admin users")
    await page.goto("/admin/unanswered")
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await assert_inert(page, dialogs, "admin unanswered")
    await page.context.close()
