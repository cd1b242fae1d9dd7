"""End-to-end tests: Debian's Chromium, driven by Playwright, against a real Helpline server
(uvicorn over TCP, real PostgreSQL, the fake model) serving the built web app (`make web`).

One Chromium per test session (per xdist worker), in a browser context of its own per test:
starting Playwright's driver and Chromium took about 1.5-2 s a test. Playwright's objects belong
to the event loop that started them, so the browser tests and their async fixtures run in the
session's event loop (an async fixture of a browser test declared in the default, per-test loop
would serve from a loop that never runs: declare it with ``in_session_loop``)."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from helpline.core.config import Settings
from helpline.core.runtime import Runtime
from tests.conftest import PgServer, built_runtime, connected, fresh_database, started_app, uvicorn_serving

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


BROWSER_TESTS = (ROOT / "tests" / "e2e", ROOT / "tests" / "mobile")
in_session_loop = pytest_asyncio.fixture(loop_scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run in the session's event loop, the shared Chromium's."""
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if not any(item.path.is_relative_to(folder) for folder in BROWSER_TESTS):
            continue
        marker = item.get_closest_marker("asyncio")
        if inspect.iscoroutinefunction(getattr(item, "obj", None)) and not (marker and marker.kwargs):
            item.add_marker(session_loop, append=False)  # before the one asyncio_mode=auto added


# The root conftest's async fixtures, in the session's event loop (tests/mobile imports them too).
@in_session_loop
async def database_url(pg_server: PgServer) -> AsyncIterator[str]:
    async with fresh_database(pg_server) as url:
        yield url


@in_session_loop
async def runtime(settings: Settings, database_url: str, llm: Any, moderator: Any) -> AsyncIterator[Runtime]:
    async with built_runtime(settings, database_url, llm, moderator) as rt:
        yield rt


@in_session_loop
async def app(runtime: Runtime) -> AsyncIterator[FastAPI]:
    async with started_app(runtime) as application:
        yield application


@in_session_loop
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    async with uvicorn_serving(app) as address:
        yield address


@in_session_loop
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with connected(database_url) as conn:
        yield conn


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """The worker's one Chromium."""
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@in_session_loop
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The shared Chromium; the contexts a test opened are closed after it, so each test starts
    with none (as with a browser of its own: no cookies, storage or service workers carried over)."""
    yield chromium
    for context in chromium.contexts:
        await context.close()


@pytest.fixture
def web(live_server: str) -> str:
    """The base URL of the Helpline server under test."""
    return f"http://{live_server}"


class PageErrors(list[str]):
    """Uncaught exceptions in the page: a test fails if the app threw."""


@in_session_loop
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
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Once per page load: parsing axe (about 0.5 MB) took about a third of each run's time.
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
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
