"""API keys in a real browser: the account page's card makes a key (shown once, with a copy
button), lists it with its last use and revokes it; the key works on /v1 until then. An
administrator's screen lists every user's keys and revokes them."""

from __future__ import annotations

import re

import asyncpg
import httpx
from playwright.async_api import Page, expect

from tests.conftest import make_admin, signed_in
from tests.e2e.conftest import axe_violations, sign_in_page


async def test_a_user_makes_copies_uses_and_revokes_a_key(page: Page, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        tokens = await signed_in(client, "builder@example.com")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web)
    await sign_in_page(page, tokens)
    await page.goto("/account")
    card = page.get_by_role("region", name="API keys")
    await expect(card.get_by_text("You have no API keys.")).to_be_visible()
    await expect(card.get_by_role("checkbox", name="Read administration data (staff)")).to_have_count(0)
    await card.get_by_label("Name").fill("Open WebUI")
    await expect(card.get_by_role("checkbox", name="Chat with the assistant")).to_be_checked()
    await card.get_by_role("button", name="Create key").click()
    shown = card.get_by_role("textbox", name="Your new API key")
    await expect(shown).to_have_value(re.compile(r"^hl_[0-9a-f]{12}_"))
    key = await shown.input_value()
    await card.get_by_role("button", name="Copy").click()
    await expect(card.get_by_text("Copied", exact=True)).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == key
    assert await axe_violations(page) == []

    async with httpx.AsyncClient(base_url=web) as client:
        r = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200

    # Shown once: gone after Done and after a reload, listed with its last use.
    await card.get_by_role("button", name="Done").click()
    await expect(shown).to_have_count(0)
    await page.reload()
    card = page.get_by_role("region", name="API keys")
    item = card.get_by_role("listitem", name="Open WebUI")
    await expect(item).to_contain_text("hl_" + key.split("_")[1] + "_…")
    await expect(item).not_to_contain_text("last used: never")
    assert key not in await page.content()

    await item.get_by_role("button", name="Revoke Open WebUI").click()
    await item.get_by_role("button", name="Yes, revoke").click()
    await expect(item).to_contain_text("Revoked on")
    async with httpx.AsyncClient(base_url=web) as client:
        r = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 401


async def test_an_administrator_revokes_a_users_key(page: Page, web: str, db: asyncpg.Connection) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        user = await signed_in(client, "someone@example.com")
        r = await client.post(
            "/api/v1/users/me/api-keys",
            headers={"Authorization": f"Bearer {user['access_token']}"},
            json={"name": "laptop script", "scopes": ["chat"]},
        )
        key = r.json()["key"]
        admin = await signed_in(client, "root@example.com")
    await make_admin(db, "root@example.com")
    await sign_in_page(page, admin)
    await page.goto("/admin/api-keys")
    await expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    row = page.get_by_role("row", name="laptop script")
    await expect(row).to_contain_text("someone@example.com")
    assert await axe_violations(page) == []
    await row.get_by_role("button", name="Revoke laptop script of someone@example.com").click()
    await expect(row).to_contain_text("Revoked")
    async with httpx.AsyncClient(base_url=web) as client:
        r = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 401
