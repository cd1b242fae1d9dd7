"""The app shell: served with the right caching, SPA fallback, sign-in and accessibility."""

from __future__ import annotations

import asyncpg
import httpx
from playwright.async_api import Page, expect

from tests.chat.conftest import eventually
from tests.conftest import PASSWORD, register, signed_in
from tests.e2e.conftest import axe_violations, screenshot, sign_in_page


async def test_login_page_loads_and_is_accessible(page: Page) -> None:
    await page.goto("/login")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await screenshot(page, "login")
    assert await axe_violations(page) == []


async def test_register_then_land_in_chat(page: Page, web: str) -> None:
    await page.goto("/register")
    await page.get_by_label("Email").fill("newuser@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("I agree to the processing").check()
    await screenshot(page, "register")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(f"{web}/chat")


async def test_a_signed_out_visitor_is_sent_to_login_and_back(page: Page, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await register(client, "back@example.com")).status_code == 202
    await page.goto("/account")
    await expect(page).to_have_url(f"{web}/login")
    await page.get_by_label("Email or username").fill("back@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{web}/account")


async def test_language_switch_translates_the_interface(page: Page) -> None:
    await page.goto("/login")
    await page.get_by_label("Language").select_option("es")
    await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "es"


async def test_the_header_language_switch_is_saved_to_the_account(page: Page, web: str, db: asyncpg.Connection) -> None:

    async with httpx.AsyncClient(base_url=web) as client:
        tokens = await signed_in(client, "lang@example.com")
    await sign_in_page(page, tokens)
    await page.goto("/help")
    await page.get_by_label("Language").select_option("fr")
    await expect(page.get_by_role("link", name="Centre d'aide")).to_be_visible()

    async def saved() -> bool:
        return bool(await db.fetchval("SELECT language FROM users WHERE email = 'lang@example.com'") == "fr")

    await eventually(saved)
