"""The embeddable widget on a plain shop page served from another origin than Helpline: it opens,
answers as a guest with a streamed answer, cites FAQs, keeps the conversation over a reload, and
respects the server's CORS origins, site key and guest setting."""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Route, expect

from helpline.core.config import Settings, WidgetSettings
from helpline.core.runtime import Runtime
from tests.chat.fakes import ScriptedProvider
from tests.conftest import PASSWORD, bearer, login, make_admin, make_settings, register
from tests.e2e.conftest import ROOT, axe_violations, phone_page, screenshot

TEST_PAGE = ROOT / "web" / "widget-test" / "index.html"
SITE_KEY = "northwind-key"
# The browser reports failed requests itself (refused connection, CORS refusal): not the widget's doing.
NETWORK_NOISE = re.compile(r"Failed to load resource|blocked by CORS policy|net::ERR_")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def shop_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static file server on its own port: the shop's origin, which is not Helpline's."""
    root = tmp_path / "shop"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cors_allowed() -> bool:
    return True


@pytest.fixture
def widget_settings() -> WidgetSettings:
    return WidgetSettings(site_key=SITE_KEY, title="Northwind help", accent_color="#0f766e")


@pytest.fixture
def settings(
    database_url: str,
    tmp_path: Path,
    shop_server: tuple[str, Path],
    cors_allowed: bool,
    widget_settings: WidgetSettings,
) -> Settings:
    origins = [shop_server[0]] if cors_allowed else []
    return make_settings(database_url, tmp_path, cors_origins=origins, widget=widget_settings)


@pytest.fixture
def llm() -> Any:
    from tests.chat.fakes import FakeProvider

    return FakeProvider(delay=0.03)  # slow enough that the answer visibly arrives in pieces


def shop_page(web: str, root: Path, *, key: str = SITE_KEY, api: str | None = None) -> None:
    """The repo's test page, pointed at the server under test (as a site would paste the tag)."""
    html = TEST_PAGE.read_text(encoding="utf-8")
    tag = '<script src="http://127.0.0.1:8000/widget.js" data-helpline-key="" async></script>'
    assert tag in html
    extra = f' data-helpline-api="{api}"' if api else ""
    html = html.replace(tag, f'<script src="{web}/widget.js" data-helpline-key="{key}"{extra} async></script>')
    (root / "index.html").write_text(html, encoding="utf-8")


@pytest.fixture
def shop(web: str, shop_server: tuple[str, Path]) -> str:
    origin, root = shop_server
    shop_page(web, root)
    return f"{origin}/index.html"


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def record(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not NETWORK_NOISE.search(msg.text):
            errors.append(msg.text)

    page.on("console", record)
    return errors


async def open_widget(page: Page) -> None:
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.get_by_role("dialog", name="Northwind help")).to_be_visible()


async def ask(page: Page, question: str) -> None:
    await page.get_by_label("Message").fill(question)
    await page.get_by_role("button", name="Send").click()


async def publish_faq(web: str, db: asyncpg.Connection, question: str, answer: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web) as client:
        assert (await register(client, "boss@example.com")).status_code == 202
        await make_admin(db, "boss@example.com")
        tokens = (await login(client, "boss@example.com")).json()
        body = {"question": question, "answer": answer, "status": "published"}
        r = await client.post("/api/v1/faqs", headers=bearer(tokens), json=body)
        assert r.status_code == 201, r.text
        faq: dict[str, Any] = r.json()
        return faq


async def test_widget_answers_a_guest_and_keeps_the_conversation(page: Page, shop: str) -> None:
    errors = console_errors(page)
    await page.goto(shop)
    bubble = page.get_by_role("button", name="Open chat")
    await expect(bubble).to_have_attribute("aria-expanded", "false")
    await screenshot(page, "widget-closed")

    await bubble.click()
    dialog = page.get_by_role("dialog", name="Northwind help")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_text("Ask me anything")).to_be_visible()
    await expect(page.get_by_label("Message")).to_be_focused()
    # The host page's CSS (red buttons, serif everywhere) does not reach inside the widget.
    send = page.get_by_role("button", name="Send")
    assert await send.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(15, 118, 110)"

    # Record every text the answer shows on its way: a streamed answer shows several.
    await ask(page, "Where is my parcel?")
    answer = dialog.locator(".msg.bot").last
    await answer.evaluate(
        """el => { window.__seen = []; new MutationObserver(() => window.__seen.push(el.textContent))
            .observe(el, {subtree: true, childList: true, characterData: true}); }"""
    )
    await expect(answer).to_contain_text("You said: Where is my parcel?")
    await expect(answer).to_contain_text("(I saw 1 messages of this conversation.)")
    seen = await page.evaluate("window.__seen")
    assert len({s for s in seen if "You said" in s}) >= 3, seen
    await expect(page.get_by_label("Message")).to_have_value("")
    await screenshot(page, "widget-open")
    assert await axe_violations(page) == []

    # Escape closes it and gives focus back to the bubble.
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(bubble).to_be_focused()

    # A reload keeps the conversation, and the next question continues it.
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await expect(dialog.locator(".msg.user")).to_have_count(1)
    await expect(dialog.locator(".msg.user")).to_contain_text("Where is my parcel?")
    await expect(dialog.locator(".msg.bot").last).to_contain_text("You said: Where is my parcel?")
    await ask(page, "And when will it arrive?")
    await expect(dialog.locator(".msg.bot").last).to_contain_text("(I saw 3 messages of this conversation.)")
    assert errors == []


async def test_widget_cites_the_faq_it_answers_from(page: Page, shop: str, web: str, db: asyncpg.Connection) -> None:
    question = "How do I return a damaged parcel?"
    faq = await publish_faq(web, db, question, "Start a **return** from your account within 30 days.")
    await page.goto(shop)
    await open_widget(page)
    await ask(page, question)
    answer = page.locator(".msg.bot").last
    await expect(answer).to_contain_text("Start a return from your account within 30 days.")
    await expect(answer.locator("strong")).to_have_text("return")
    link = answer.get_by_role("link", name=question)
    await expect(link).to_have_attribute("href", f"{web}/help/{faq['slug']}")
    await expect(link).to_have_attribute("target", "_blank")
    await screenshot(page, "widget-sources")


async def test_widget_replaces_a_rejected_answer_and_offers_the_closest_articles(
    page: Page, shop: str, web: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    """The grounded-answer guard: the words streamed so far give way to an honest "I don't know",
    with the closest help articles as links (also after a reload)."""
    question = "How do I return a damaged parcel?"
    faq = await publish_faq(web, db, question, "Start a return from your account within 30 days.")
    gate = asyncio.Event()
    runtime.llm = ScriptedProvider(chunks=["Call our returns desk at 1-800-463-3339", "."], gate=gate)
    runtime.settings.guard.source_min_similarity = 1.0  # no article close enough to stand in
    runtime.settings.guard.refuse_off_topic = False  # and yet the model is asked
    await page.goto(shop)
    await open_widget(page)
    await ask(page, "my damaged parcel needs a return, whom do I call?")
    answer = page.locator(".msg.bot").last
    await expect(answer).to_contain_text("1-800-463-3339")
    gate.set()
    await expect(answer).to_contain_text("I'm sorry, I don't know the answer to that")
    await expect(answer).not_to_contain_text("1-800-463-3339")
    await expect(answer.get_by_role("heading", name="Closest articles")).to_be_visible()
    await expect(answer.get_by_role("link", name=question)).to_have_attribute("href", f"{web}/help/{faq['slug']}")
    assert await axe_violations(page) == []

    await page.reload()
    await open_widget(page)
    answer = page.locator(".msg.bot").last
    await expect(answer).to_contain_text("I'm sorry, I don't know the answer to that")
    await expect(answer.get_by_role("link", name=question)).to_have_attribute("href", f"{web}/help/{faq['slug']}")


async def test_an_image_from_another_host_in_an_answer_is_never_loaded(
    page: Page, shop: str, web: str, db: asyncpg.Connection
) -> None:
    """Pentest #18: a FAQ answer's image is loaded by every reader's browser, a tracking pixel.
    The widget shows an image from a host the server does not list as a link to it."""
    tracker: list[str] = []

    async def record(route: Route) -> None:
        tracker.append(route.request.url)
        await route.abort()

    await page.context.route(re.compile(r"^https://tracker\.example/"), record)
    question = "Where is the customs form?"
    await publish_faq(web, db, question, "Fill it in as shown ![x](https://tracker.example/p.png) here.")
    await page.goto(shop)
    await open_widget(page)
    await ask(page, question)
    answer = page.locator(".msg.bot").last
    await expect(answer).to_contain_text("Fill it in as shown x here.")
    await expect(answer.get_by_role("link", name="x", exact=True)).to_have_attribute(
        "href", "https://tracker.example/p.png"
    )
    assert await page.locator("[data-helpline-widget] >> img").count() == 0
    assert tracker == []


async def test_html_in_messages_is_shown_as_text_never_run(page: Page, shop: str) -> None:
    await page.goto(shop)
    await open_widget(page)
    attack = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> hi'
    await ask(page, attack)
    await expect(page.locator(".msg.bot").last).to_contain_text(f"You said: {attack}")
    await expect(page.locator(".msg.user").last).to_contain_text(attack)
    assert await page.locator("[data-helpline-widget] >> img").count() == 0
    assert await page.evaluate("window.__pwned") is None


async def test_widget_fills_a_phone_screen(browser: Browser, web: str, shop: str) -> None:
    page = await phone_page(browser, web)
    try:
        await page.goto(shop)
        await open_widget(page)
        box = await page.get_by_role("dialog", name="Northwind help").bounding_box()
        assert box is not None
        assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
        await ask(page, "Can I send a bicycle?")
        await expect(page.locator(".msg.bot").last).to_contain_text("You said: Can I send a bicycle?")
        await screenshot(page, "widget-phone")
        await page.get_by_role("button", name="Close chat").click()
        await expect(page.get_by_role("button", name="Open chat")).to_be_focused()
    finally:
        await page.context.close()


async def test_the_sites_own_button_opens_the_widget(page: Page, shop: str) -> None:
    await page.goto(shop)
    await expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    await page.get_by_role("button", name="Chat with us").click()
    await expect(page.get_by_role("dialog", name="Northwind help")).to_be_visible()


@pytest.mark.parametrize("cors_allowed", [False])
async def test_an_origin_the_server_does_not_allow_gets_no_answer(page: Page, shop: str) -> None:
    errors = console_errors(page)
    await page.goto(shop)
    await page.get_by_role("button", name="Open chat").click()
    dialog = page.get_by_role("dialog", name="Help")
    await expect(dialog.get_by_text("Chat is unavailable right now")).to_be_visible()
    await expect(page.get_by_label("Message")).to_be_hidden()
    await expect(page.get_by_role("button", name="Close chat")).to_be_focused()
    assert errors == []


async def test_an_unreachable_server_says_chat_is_unavailable(
    page: Page, web: str, shop_server: tuple[str, Path]
) -> None:
    origin, root = shop_server
    shop_page(web, root, api="http://127.0.0.1:9")  # nothing listens on the discard port
    errors = console_errors(page)
    await page.goto(f"{origin}/index.html")
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.get_by_text("Chat is unavailable right now")).to_be_visible()
    assert errors == []


async def test_a_wrong_site_key_shows_nothing(page: Page, web: str, shop_server: tuple[str, Path]) -> None:
    origin, root = shop_server
    shop_page(web, root, key="not-the-key")
    warnings: list[str] = []
    page.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    async with page.expect_console_message(lambda msg: "Helpline widget" in msg.text) as warning:
        await page.goto(f"{origin}/index.html")
    assert "site key" in (await warning.value).text
    assert await page.get_by_role("button", name="Open chat").count() == 0
    assert len([w for w in warnings if "Helpline widget" in w]) == 1


NO_GUESTS = WidgetSettings(site_key=SITE_KEY, title="Northwind help", allow_guests=False)


@pytest.mark.parametrize("widget_settings", [NO_GUESTS])
async def test_without_guests_the_visitor_is_asked_to_sign_in(page: Page, shop: str, web: str) -> None:
    await page.goto(shop)
    await open_widget(page)
    host = web.removeprefix("http://")
    await expect(page.get_by_text(f"Sign in on {host} to chat.")).to_be_visible()
    await expect(page.get_by_role("link", name=host)).to_have_attribute("href", f"{web}/login")
    await expect(page.get_by_label("Message")).to_be_hidden()


@pytest.mark.parametrize("widget_settings", [WidgetSettings(enabled=False)])
async def test_a_disabled_widget_shows_nothing(page: Page, shop: str) -> None:
    errors = console_errors(page)
    async with page.expect_response(lambda r: "/api/v1/widget/config" in r.url) as config:
        await page.goto(shop)
    assert (await config.value).status == 404
    await expect(page.get_by_role("heading", name="Northwind Parcels")).to_be_visible()
    assert await page.get_by_role("button", name="Open chat").count() == 0
    assert errors == []


async def test_a_guest_who_creates_an_account_keeps_the_conversation(
    page: Page, shop: str, web: str, db: asyncpg.Connection
) -> None:
    await page.goto(shop)
    await open_widget(page)
    await ask(page, "Can I change the delivery address?")
    dialog = page.get_by_role("dialog", name="Northwind help")
    await expect(dialog.locator(".msg.bot").last).to_contain_text("(I saw 1 messages of this conversation.)")
    keep = dialog.get_by_role("link", name="Create an account to keep this conversation")
    # The link and every address the sign-up tab goes through carry no token of the guest's, only
    # a one-time code that is used up at once (pentest #18: the refresh token was in the history).
    stored = await page.evaluate("JSON.stringify(Object.values(localStorage))")
    refresh_token = re.search(r'refresh_token\\?":\\?"([^"\\]+)', stored)
    assert refresh_token is not None
    await expect(keep).to_have_attribute("href", f"{web}/register")
    urls: list[str] = []
    page.context.on("request", lambda request: urls.append(request.url))
    # Registered as the tab appears (about:blank), before the widget sends it to the sign-up page.
    page.context.on("page", lambda tab: tab.on("framenavigated", lambda frame: urls.append(frame.url)))
    async with page.context.expect_page() as opened:
        await keep.click()
    signup = await opened.value
    await expect(signup.get_by_role("status")).to_contain_text("will be kept in your new account")
    await expect(signup).to_have_url(f"{web}/register")  # the code leaves the address bar
    assert all(refresh_token.group(1) not in u for u in [*urls, signup.url])
    assert await signup.evaluate("history.length") == 1  # no entry of the address with the code
    # The code was redeemed: opening the same address again (from the history) hands nothing over.
    code_url = next(u for u in urls if "#handoff=" in u)
    again = await page.context.new_page()
    await again.goto(code_url)
    await expect(again.get_by_role("status")).to_contain_text("expired or was already used")
    await expect(again).to_have_url(f"{web}/register")
    await again.close()
    await signup.get_by_label("Email").fill("former-guest@example.com")
    await signup.get_by_label("Password").fill(PASSWORD)
    await signup.get_by_label("I agree to the processing").check()
    await signup.get_by_role("button", name="Create account").click()
    await expect(signup).to_have_url(f"{web}/chat")
    await expect(signup.get_by_role("complementary", name="Conversations")).to_contain_text(
        "Can I change the delivery address?"
    )
    row = await db.fetchrow("SELECT is_guest, email FROM users WHERE email = 'former-guest@example.com'")
    assert row is not None
    assert row["is_guest"] is False
    assert await db.fetchval("SELECT count(*) FROM users WHERE is_guest") == 0
