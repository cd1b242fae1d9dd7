"""/docs and /redoc work in a real browser under their strict CSP and integrity checks, and the
page asks no other host for anything."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Request, Response, expect

LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize(("path", "shows"), [("/docs", "/api/v1/auth/login"), ("/redoc", "Helpline")])
async def test_api_docs_render_with_only_this_server(browser: Browser, web: str, path: str, shows: str) -> None:
    context = await browser.new_context(base_url=web, service_workers="block")
    page = await context.new_page()
    console: list[str] = []
    hosts: set[str] = set()
    elsewhere: dict[str, str | None] = {}

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            console.append(msg.text)

    def on_response(response: Response) -> None:
        if response.url.startswith(("http:", "https:")):  # not ReDoc's blob: worker or data: images
            hosts.add(urlsplit(response.url).netloc)

    def on_failed(request: Request) -> None:
        elsewhere[request.url] = request.failure

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    try:
        await page.goto(path)
        await expect(page.get_by_text(shows).first).to_be_visible(timeout=20_000)
    finally:
        await context.close()
    # Nothing was fetched from another host. ReDoc shows Redocly's logo from its CDN: the CSP
    # blocks that image before any request leaves (ReDoc then hides it).
    assert hosts == {urlsplit(web).netloc}
    assert all(failure in ("csp", "net::ERR_BLOCKED_BY_CSP") for failure in elsewhere.values()), elsewhere
    # A blocked script, style or worker, or a file whose hash is not the one pinned, says so here.
    blocked = [m for m in console if "integrity" in m or ("Content Security Policy" in m and LOGO not in m)]
    assert not blocked, console
