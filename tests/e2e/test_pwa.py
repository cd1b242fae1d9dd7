"""The web app is installable: a served manifest with icons, a service worker that becomes active,
and the app shell that opens from its cache with the network gone."""

from __future__ import annotations

from urllib.parse import urljoin

import httpx
from playwright.async_api import Browser, expect


async def test_manifest_is_linked_and_complete(browser: Browser, web: str) -> None:
    context = await browser.new_context(base_url=web)
    try:
        page = await context.new_page()
        await page.goto("/help")
        href = await page.locator('link[rel="manifest"]').get_attribute("href")
        assert href, "index.html links no manifest"
    finally:
        await context.close()

    async with httpx.AsyncClient(base_url=web) as client:
        r = await client.get(urljoin(web + "/", href))
        assert r.status_code == 200
        manifest = r.json()
        assert manifest["name"] == "Helpline"
        assert manifest["short_name"]
        assert manifest["start_url"] == "/"
        assert manifest["display"] == "standalone"
        sizes = {icon["sizes"] for icon in manifest["icons"]}
        assert {"192x192", "512x512"} <= sizes  # what Chrome asks of an installable app
        for icon in manifest["icons"]:
            got = await client.get(icon["src"])
            assert got.status_code == 200, icon["src"]
            assert got.headers["content-type"] == icon["type"] == "image/png"
            assert got.content.startswith(b"\x89PNG")


async def test_service_worker_activates_and_serves_the_shell_offline(browser: Browser, web: str) -> None:
    # Its own context: the shared `page` fixture blocks service workers.
    context = await browser.new_context(base_url=web, viewport={"width": 390, "height": 844})
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto("/")
        # / shows a visitor what this is (the landing page), with the ways in.
        await expect(
            page.get_by_role("heading", level=1, name="Answers from our support team, any time")
        ).to_be_visible()
        await page.wait_for_function(
            "navigator.serviceWorker.ready.then(r => r.active && r.active.state === 'activated')", polling=200
        )
        # The app shell (index.html, its scripts and styles) is in the service worker's cache.
        cached = await page.evaluate(
            """async () => {
                const names = await caches.keys();
                const urls = [];
                for (const name of names) {
                    for (const req of await (await caches.open(name)).keys()) urls.push(new URL(req.url).pathname);
                }
                return urls;
            }"""
        )
        assert "/index.html" in cached, cached
        assert any(u.startswith("/assets/") and u.endswith(".js") for u in cached), cached
        assert "/manifest.webmanifest" in cached, cached

        # Offline: a page the browser has never loaded still opens, from the cached shell.
        await context.set_offline(True)
        await page.goto("/help")
        await expect(page.get_by_role("heading", name="Help center", level=1)).to_be_visible()
        await expect(page.get_by_role("link", name="Helpline")).to_be_visible()
        # The FAQs need the API: the page says it cannot reach it instead of breaking.
        await expect(page.get_by_role("alert")).to_contain_text("Cannot reach the server", timeout=15_000)
        await expect(page.get_by_role("button", name="Try again")).to_be_visible()
        await context.set_offline(False)
        await page.get_by_role("button", name="Try again").click()
        await expect(page.get_by_role("alert")).to_have_count(0)
    finally:
        await context.close()
    assert not errors, f"the page threw: {errors}"
