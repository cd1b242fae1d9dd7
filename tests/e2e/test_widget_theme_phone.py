"""The widget's own dark theme (the system's preference, or the page's own theme, followed live)
and its phone layout (390x844): a full-screen modal panel that keeps the focus, a composer in
reach, Escape to close, and a launcher that never hides the end of the page. On a shop page of
another origin and on Helpline's own pages; axe checks and screenshots, light and dark."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, FloatRect, Page, expect

from helpline.core.config import WidgetSettings
from tests.e2e.conftest import axe_violations, phone_page, screenshot
from tests.e2e.test_widget import (  # noqa: F401 (fixtures)
    ask,
    cors_allowed,
    llm,
    open_widget,
    settings,
    shop,
    shop_server,
    widget_settings,
)

LIGHT_BG = "rgb(255, 255, 255)"
DARK_BG = "rgb(23, 26, 33)"  # widget.css: .hl.dark --bg
PANEL_BG = "getComputedStyle(document.querySelector('[data-helpline-widget]').shadowRoot.querySelector('.panel'))"
INSIDE = (
    "(() => { const host = document.querySelector('[data-helpline-widget]');"
    " const a = host.shadowRoot.activeElement;"
    " return document.activeElement === host && !!a && host.shadowRoot.querySelector('.panel').contains(a); })()"
)


def overlap(a: FloatRect, b: FloatRect) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


async def panel_background(p: Page) -> str:
    value: str = await p.evaluate(f"{PANEL_BG}.backgroundColor")
    return value


async def test_widget_on_a_phone_light_and_dark(browser: Browser, web: str, shop: str) -> None:  # noqa: F811
    for scheme in ("light", "dark"):
        p = await phone_page(browser, web)
        await p.emulate_media(color_scheme=scheme, reduced_motion="reduce")
        try:
            await p.goto(shop)
            bubble = p.get_by_role("button", name="Open chat")
            await expect(bubble).to_be_visible()

            # Scrolled to the end, the page's last lines stay clear of the launcher.
            await p.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
            footer = await p.locator("footer").bounding_box()
            launcher = await bubble.bounding_box()
            assert footer
            assert launcher
            assert not overlap(footer, launcher), (footer, launcher)
            assert launcher["y"] + launcher["height"] <= 844
            assert launcher["x"] + launcher["width"] <= 390
            assert await p.evaluate("document.documentElement.scrollWidth") <= 390
            await screenshot(p, f"widget-phone-launcher-{scheme}")

            # Open: the whole screen, a modal dialog, the focus in the composer.
            await bubble.click()
            dialog = p.get_by_role("dialog", name="Northwind help")
            await expect(dialog).to_be_visible()
            await expect(dialog).to_have_attribute("aria-modal", "true")
            box = await dialog.bounding_box()
            assert box
            assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
            await expect(p.get_by_label("Message")).to_be_focused()
            assert await panel_background(p) == (DARK_BG if scheme == "dark" else LIGHT_BG)

            # The composer in reach: the box and Send inside the screen, finger-sized.
            await ask(p, "Can I send a bicycle?")
            await expect(p.locator(".msg.bot").last).to_contain_text("You said: Can I send a bicycle?")
            send = await p.get_by_role("button", name="Send").bounding_box()
            field = await p.get_by_label("Message").bounding_box()
            assert send
            assert field
            assert send["y"] + send["height"] <= 844
            assert field["y"] + field["height"] <= 844
            assert send["height"] >= 44
            assert await axe_violations(p) == [], scheme
            await screenshot(p, f"widget-phone-open-{scheme}")

            # Tab and Shift+Tab go round the panel's controls, never to the page behind.
            await p.get_by_label("Message").focus()
            for key in ["Tab"] * 8 + ["Shift+Tab"] * 8:
                await p.keyboard.press(key)
                assert await p.evaluate(INSIDE), key

            # Escape closes it, and the focus is back on the launcher.
            await p.keyboard.press("Escape")
            await expect(dialog).to_be_hidden()
            await expect(bubble).to_be_focused()
        finally:
            await p.context.close()


# Without a site key, Helpline's own pages offer guest chat through the widget.
@pytest.mark.parametrize("widget_settings", [WidgetSettings()])
async def test_widget_dark_theme_follows_the_system_and_the_pages_toggle(
    browser: Browser, page: Page, web: str
) -> None:
    """On Helpline's own landing page: dark with the system; the header's toggle restyles it live."""
    for name, p in [("desktop", page), ("phone", await phone_page(browser, web))]:
        await p.emulate_media(color_scheme="dark", reduced_motion="reduce")
        await p.goto("/")
        await expect(p.locator("html")).to_have_attribute("data-theme", "dark")
        await p.get_by_role("button", name="Chat now, no account needed").click()
        dialog = p.get_by_role("dialog", name="Help")
        await expect(dialog).to_be_visible()
        assert await panel_background(p) == DARK_BG, name
        await p.get_by_label("Message").fill("Hello in the dark")
        await p.keyboard.press("Enter")
        await expect(dialog.locator(".msg.bot").last).to_contain_text("You said: Hello in the dark", timeout=20_000)
        assert await axe_violations(p) == [], name
        await screenshot(p, f"widget-dark-{name}")

        if name == "desktop":  # on a phone the panel covers the header
            await p.get_by_role("button", name="Close chat").click()
            await p.get_by_role("button", name="Dark mode").click()
            await expect(p.locator("html")).to_have_attribute("data-theme", "light")
            assert await panel_background(p) == LIGHT_BG
            await p.get_by_role("button", name="Open chat").click()
            assert await axe_violations(p) == [], name
            await screenshot(p, f"widget-light-after-toggle-{name}")
        else:
            await p.context.close()
