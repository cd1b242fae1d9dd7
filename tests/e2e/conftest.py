"""End-to-end tests: Debian's Chromium, driven by Playwright, against a real Helpline server
(uvicorn over TCP, real PostgreSQL, the fake model) serving the built web app (`make web`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from helpline.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Flags that work as root in a container without a screen (../shared/ENVIRONMENT.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session", autouse=True)
def web_dist() -> Path:
    dist = Settings().web_dist
    if not (dist / "index.html").is_file():
        pytest.fail(f"the web app is not built in {dist}: run `make web` first (make test does)")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install chromium` (make test installs it)")
    return dist


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
def web(live_server: str) -> str:
    """The base URL of the Helpline server under test."""
    return f"http://{live_server}"


class PageErrors(list[str]):
    """Uncaught exceptions in the page: a test fails if the app threw."""


@pytest.fixture
async def page(browser: Browser, web: str) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=web, service_workers="block", viewport={"width": 1280, "height": 860})
    p = await context.new_page()
    errors = PageErrors()
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield p
    finally:
        await context.close()
    assert not errors, f"the page threw: {errors}"


async def phone_page(browser: Browser, web: str) -> Page:
    """A page in a phone-sized context (close its context when done)."""
    context = await browser.new_context(
        base_url=web, service_workers="block", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    return await context.new_page()


async def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot under test-output/screenshots/ (look at them after a run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """Run axe-core in the page; the violations of the given impacts, with their nodes.
    evaluate() runs outside the page's Content-Security-Policy, so the CSP stays on."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make web` (npm ci installs axe-core)")
    result = await page.evaluate(
        AXE.read_text(encoding="utf-8") + "\n;axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["html"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]


async def sign_in_page(page: Page, tokens: dict[str, Any]) -> None:
    """Put a session (from the API's login response) into the browser, as the login page would."""
    await page.goto("/privacy")
    session = {"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]}
    await page.evaluate("s => localStorage.setItem('helpline.session', s)", json.dumps(session))
