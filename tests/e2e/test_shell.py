"""The app shell: served with the right caching, SPA fallback, sign-in and accessibility."""

from __future__ import annotations

import asyncpg
import httpx
from playwright.async_api import Page, expect

from tests.chat.conftest import eventually
from tests.conftest import PASSWORD, login, register, signed_in
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


async def test_register_with_a_taken_email_says_so_and_links_to_sign_in(page: Page, web: str) -> None:
    # The API answers the same 202 for a taken email (it does not tell who has an account); the
    # sign-in that follows fails, and the page says what that probably means.
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await register(client, "taken@example.com")).status_code == 202
    await page.goto("/register")
    await page.get_by_label("Email").fill("taken@example.com")
    await page.get_by_label("Password").fill("Another-pass-123")
    await page.get_by_label("I agree to the processing").check()
    await page.get_by_role("button", name="Create account").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("This email may already be registered")
    await screenshot(page, "register-taken-email")
    assert await axe_violations(page) == []
    await alert.get_by_role("link", name="sign in").click()
    await expect(page).to_have_url(f"{web}/login")


async def test_the_browser_that_signed_in_before_is_not_locked_out(page: Page, web: str) -> None:
    async def sign_in() -> None:
        await page.goto("/login")
        await page.get_by_label("Email or username").fill("device@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()

    async with httpx.AsyncClient(base_url=web) as client:
        assert (await register(client, "device@example.com")).status_code == 202
    await sign_in()
    await expect(page).to_have_url(f"{web}/chat")
    cookies = {c["name"]: c for c in await page.context.cookies(f"{web}/api/v1/auth/login")}
    cookie = cookies["helpline_device"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/api/v1/auth")
    assert "helpline_device" not in {c["name"] for c in await page.context.cookies(f"{web}/api/v1/users/me")}

    # Someone else locks the account out with wrong passwords...
    async with httpx.AsyncClient(base_url=web) as attacker:
        for _ in range(5):
            assert (await login(attacker, "device@example.com", "Wrong-pass-123")).status_code == 401
        assert (await login(attacker, "device@example.com")).status_code == 429
    # ...and the owner, signed out, signs in again from this browser: its fetch sends the cookie.
    await page.evaluate("localStorage.clear()")
    await sign_in()
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
