"""Images in answers load only from this site and HELPLINE_IMAGE_ORIGINS (pentest #18: a FAQ
answer with ![x](https://tracker.example/p.png) made every reader's browser call that host).
Checked where answers are shown: the chat, the help center and the admin preview; the widget's
renderer has unit tests (web/src/widget/markdown.test.ts)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Locator, Page, Route, expect

from helpline.core.config import Settings
from tests.conftest import bearer, login, make_admin, make_settings, signed_in
from tests.e2e.conftest import sign_in_page

QUESTION = "Where do I find the customs form?"
TRACKER = "https://tracker.example/p.png"
ALLOWED = "https://img.example/form.png"
ANSWER = f"Fill it in as shown ![x]({TRACKER}) here, like ![the form]({ALLOWED}) this."
# A 1x1 transparent PNG: what the allowed image host answers.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, image_origins=["https://img.example"])


async def intercept(page: Page) -> list[str]:
    """Every request the browser makes to either image host, answered with a pixel (neither can
    be reached from here): so the allowed image shows, and a call to the tracker is recorded."""
    seen: list[str] = []

    async def answer(route: Route) -> None:
        seen.append(route.request.url)
        await route.fulfill(status=200, content_type="image/png", body=PIXEL)

    await page.context.route(re.compile(r"^https://(tracker|img)\.example/"), answer)
    page.on("request", lambda request: seen.append(request.url) if "tracker.example" in request.url else None)
    return seen


async def shows_no_tracker(where: Locator) -> None:
    await expect(where.get_by_role("link", name="x", exact=True)).to_have_attribute("href", TRACKER)
    assert await where.locator("img[src*='tracker.example']").count() == 0
    allowed = where.get_by_role("img", name="the form")
    await expect(allowed).to_have_attribute("src", ALLOWED)
    # It did load: the policy lets the configured origin through.
    handle = await allowed.element_handle()
    await where.page.wait_for_function("img => img.complete && img.naturalWidth === 1", arg=handle, timeout=10_000)


async def publish(web: str, db: asyncpg.Connection) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web) as client:
        await signed_in(client, "kb@example.com")
        await make_admin(db, "kb@example.com")
        admin = (await login(client, "kb@example.com")).json()
        body = {"question": QUESTION, "answer": ANSWER, "status": "published"}
        r = await client.post("/api/v1/faqs", headers=bearer(admin), json=body)
        assert r.status_code == 201, r.text
        faq: dict[str, Any] = r.json()
        faq["admin"] = admin
        return faq


async def test_an_image_from_another_host_is_never_loaded(page: Page, web: str, db: asyncpg.Connection) -> None:
    faq = await publish(web, db)
    seen = await intercept(page)

    # The help center's page of that FAQ.
    response = await page.goto(f"/help/{faq['slug']}")
    assert response is not None
    policy = await response.header_value("content-security-policy")
    assert policy is not None
    assert "img-src 'self' https://img.example;" in policy
    await expect(page.get_by_role("heading", name=QUESTION)).to_be_visible()
    await shows_no_tracker(page.locator("main"))

    # The chat, answered straight from the FAQ.
    async with httpx.AsyncClient(base_url=web) as client:
        user = await signed_in(client, "reader@example.com")
    await sign_in_page(page, user)
    await page.goto("/chat")
    box = page.get_by_role("textbox", name="Message")
    await box.fill(QUESTION)
    await box.press("Enter")
    answer = page.locator(".bubble.assistant").last
    await expect(answer).to_contain_text("Fill it in as shown")
    await shows_no_tracker(answer)

    # The admin editor's live preview.
    await sign_in_page(page, faq["admin"])
    await page.goto(f"/admin/faqs/{faq['id']}")
    preview = page.get_by_role("region", name="Preview")
    await expect(preview).to_contain_text("Fill it in as shown")
    await shows_no_tracker(preview)
    await page.get_by_label("Answer (Markdown)").fill(f"Typed: ![pixel]({TRACKER}?typed)")
    await expect(preview.get_by_role("link", name="pixel")).to_be_visible()
    assert await preview.locator("img").count() == 0

    # Not one request reached the tracker, in any of the three.
    assert [u for u in seen if "tracker.example" in u] == []
    assert any(u.startswith(ALLOWED) for u in seen)
