"""Web Push from the account page, in a real Chromium with the app's real service worker.

What is stubbed, and why: headless Chromium subscribes through its own push service (Google's
FCM), which a machine without the internet cannot reach, so ``PushManager.subscribe`` is
replaced (an init script) by one returning a subscription whose endpoint is the test's local
push service and whose keys the test holds. Everything else is real: the permission prompt
(granted by the browser context), the VAPID key from the server, the subscription saved through
the API, the push job signing, encrypting and posting to that endpoint (checked and decrypted
there), the service worker showing the notification for a push message the browser delivers
(DevTools' ServiceWorker.deliverPushMessage), and turning it off deleting the subscription."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, CDPSession, Page, expect

from helpline.core.config import PushSettings, Settings
from helpline.core.runtime import Runtime
from helpline.push.service import queue_push
from tests.conftest import bearer, make_settings, signed_in
from tests.e2e.conftest import axe_violations, screenshot, sign_in_page
from tests.push.pushservice import Browser as PushBrowser
from tests.push.pushservice import PushService, push_service

PUSH_BOX = "A person answered my conversation: App (push)"

# PushManager, as a browser whose push service is the test's: subscribe() returns (and keeps,
# across reloads) a subscription to ENDPOINT with the test's keys, and records the VAPID key the
# app subscribed with; unsubscribe() forgets it.
STUB = """
(() => {
  const stub = %s;
  const load = () => JSON.parse(localStorage.getItem("stub.push") || "null");
  const make = (saved) => saved && {
    endpoint: saved.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true },
    toJSON: () => ({ endpoint: saved.endpoint, expirationTime: null, keys: saved.keys }),
    unsubscribe: async () => { localStorage.removeItem("stub.push"); return true; },
  };
  PushManager.prototype.subscribe = async function (options) {
    const key = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    const saved = { endpoint: stub.endpoint, keys: stub.keys, serverKey: key };
    localStorage.setItem("stub.push", JSON.stringify(saved));
    return make(saved);
  };
  PushManager.prototype.getSubscription = async function () { return make(load()); };
})();
"""


@pytest.fixture
def push() -> Iterator[PushService]:
    with push_service() as service:
        yield service


@pytest.fixture
def settings(database_url: str, tmp_path: Path, push: PushService) -> Settings:
    return make_settings(database_url, tmp_path, push=PushSettings(endpoint_origins=[push.origin]))


async def _subscriptions(web: str, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=web) as client:
        r = await client.get("/api/v1/push/subscriptions", headers=bearer(tokens))
        assert r.status_code == 200, r.text
        subs: list[dict[str, Any]] = r.json()
        return subs


async def _devtools(page: Page, web: str) -> tuple[CDPSession, str]:
    """A DevTools session on the page, and the service worker's registration id there."""
    cdp = await page.context.new_cdp_session(page)
    found: dict[str, str] = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: found.update({r["scopeURL"]: r["registrationId"] for r in e["registrations"]}),
    )
    await cdp.send("ServiceWorker.enable")
    await page.wait_for_function("navigator.serviceWorker.ready.then(r => !!r.active)", polling=200)
    for _ in range(100):
        if web + "/" in found:
            break
        await page.wait_for_timeout(50)
    return cdp, found[web + "/"]


async def test_a_user_turns_push_on_gets_a_notification_and_turns_it_off(
    browser: Browser, web: str, runtime: Runtime, push: PushService
) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        tokens = await signed_in(client, "pushed@example.com")
        uid = (await client.get("/api/v1/users/me", headers=bearer(tokens))).json()["id"]
    device: PushBrowser = push.browser("chromium")
    # Its own context: the shared `page` fixture blocks service workers.
    context = await browser.new_context(base_url=web, viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    try:
        await context.grant_permissions(["notifications"], origin=web)
        await context.add_init_script(STUB % json.dumps(device.subscription()))
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_in_page(page, tokens)
        await page.goto("/account")
        await page.wait_for_function("navigator.serviceWorker.ready.then(r => !!r.active)", polling=200)
        section = page.get_by_role("region", name="Notifications")
        box = section.get_by_role("checkbox", name=PUSH_BOX)
        await expect(box).not_to_be_checked()
        await expect(section.get_by_text("Tick a box under App (push)")).to_be_visible()

        await box.click()
        await expect(box).to_be_checked()
        await expect(section.get_by_text("Push notifications are on for this device.")).to_be_visible()
        # Only the kind ticked: the other push boxes show what this device will get.
        await expect(section.get_by_role("checkbox", name="My data export is ready: App (push)")).not_to_be_checked()
        assert await axe_violations(page) == []
        await section.scroll_into_view_if_needed()
        await screenshot(page, "account-push-on")
        [sub] = await _subscriptions(web, tokens)
        assert sub["endpoint"] == device.endpoint
        stub = await page.evaluate("JSON.parse(localStorage.getItem('stub.push'))")
        assert stub["serverKey"] == runtime.settings.vapid_keys().public_key

        # A notification for this user reaches the browser's push service, for this browser.
        await queue_push(runtime, uid, "human_reply", {"conversation_id": 3})
        [got] = await push.wait_for(device)
        message = got.decrypt(device)
        assert message["title"] == "A person answered you"
        assert message["url"] == "/chat/3"
        got.vapid(runtime.settings.vapid_keys().public_key)

        # The browser hands that message to the service worker. While a window of the app is in
        # view the user sees the reply there: the worker shows nothing.
        cdp, registration = await _devtools(page, web)
        deliver = {"origin": web, "registrationId": registration, "data": json.dumps(message)}
        await cdp.send("ServiceWorker.deliverPushMessage", deliver)
        await page.wait_for_timeout(1500)
        count = "async () => (await (await navigator.serviceWorker.ready).getNotifications()).length"
        assert await page.evaluate(count) == 0
        # With no window of the app open, it shows it.
        await page.goto("about:blank")
        await cdp.send("ServiceWorker.deliverPushMessage", deliver)
        await page.wait_for_timeout(500)
        await page.goto("/account")
        shown = None
        for _ in range(100):
            shown = await page.evaluate(
                """async () => {
                    const [n] = await (await navigator.serviceWorker.ready).getNotifications();
                    return n ? {title: n.title, body: n.body, data: n.data, tag: n.tag} : null;
                }"""
            )
            if shown:
                break
            await page.wait_for_timeout(100)
        assert shown == {
            "title": "A person answered you",
            "body": "Open your conversation to read the reply.",
            "data": {"url": "/chat/3"},
            "tag": "human_reply",
        }

        # Still on after a reload; then off, and the subscription is gone.
        await page.reload()
        box = page.get_by_role("region", name="Notifications").get_by_role("checkbox", name=PUSH_BOX)
        await expect(box).to_be_checked()
        await box.click()
        await expect(box).not_to_be_checked()
        await expect(page.get_by_text("Tick a box under App (push)")).to_be_visible()
        assert await _subscriptions(web, tokens) == []
        assert await page.evaluate("localStorage.getItem('stub.push')") is None
    finally:
        await context.close()
    assert not errors, f"the page threw: {errors}"


@pytest.mark.parametrize(
    ("script", "text"),
    [
        ("delete window.PushManager;", "This browser cannot receive push notifications."),
        (
            "Object.defineProperty(Notification, 'permission', {get: () => 'denied'});",
            "Notifications are blocked for this site.",
        ),
    ],
    ids=["unsupported", "denied"],
)
async def test_the_card_says_when_push_cannot_work_here(page: Page, web: str, script: str, text: str) -> None:
    async with httpx.AsyncClient(base_url=web) as client:
        tokens = await signed_in(client, "nopush@example.com")
    await page.add_init_script(script)
    await sign_in_page(page, tokens)
    await page.goto("/account")
    section = page.get_by_role("region", name="Notifications")
    await expect(section.get_by_text(text)).to_be_visible()
    await expect(section.get_by_role("checkbox", name=PUSH_BOX)).to_be_disabled()
    await expect(section.get_by_role("checkbox", name="A person answered my conversation: Email")).to_be_enabled()
