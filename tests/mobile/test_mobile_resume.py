"""The mobile app's web build keeps an answer whole through a dropped connection: the app talks
to the server through a local TCP proxy, the test cuts every connection mid-answer (as a phone
losing its network or going to the background does), and the app re-attaches with
Last-Event-ID and gets only the rest."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Request, expect

from tests.conftest import register
from tests.e2e.conftest import in_session_loop
from tests.mobile.test_mobile_web import phone, sign_in

ANSWER = "You said: Tell me about parcels (I saw 1 messages of this conversation.)"


@pytest.fixture
def llm() -> Any:
    from tests.chat.fakes import FakeProvider

    # About 4 s per answer: long enough to cut the connection in the middle of it.
    return FakeProvider(chunks=8, delay=0.5)


class Proxy:
    """A TCP proxy to the server whose open connections can all be cut at once."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.address = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self) -> int:
        """Drop every open connection (both sides), as a network that went away."""
        cut = len(self.writers)
        for w in list(self.writers):
            if (transport := w.transport) is not None:
                transport.abort()
        self.writers.clear()
        return cut

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@in_session_loop
async def proxy(live_server: str) -> AsyncIterator[Proxy]:
    p = Proxy(live_server)
    await p.start()
    try:
        yield p
    finally:
        await p.close()


async def test_an_answer_streaming_through_a_dropped_connection_arrives_whole(
    browser: Browser, mobile_origin: str, live_server: str, proxy: Proxy
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        assert (await register(client, "drop@example.com")).status_code == 202
    page, errors = await phone(browser, mobile_origin)
    resumes: list[dict[str, str]] = []

    def seen(request: Request) -> None:
        if "/api/v1/chat/stream/" in request.url:
            resumes.append(request.headers)

    page.on("request", seen)
    await sign_in(page, f"http://{proxy.address}", "drop@example.com")
    await page.get_by_role("button", name="New chat").click()
    await page.get_by_label("Message").fill("Tell me about parcels")
    await page.get_by_role("button", name="Send").click()
    answer = page.get_by_test_id("assistant-message").last
    await expect(answer).to_contain_text("You said:")  # the first tokens are in
    assert proxy.cut() > 0  # the stream breaks while the server keeps generating
    await expect(answer).to_contain_text("conversation.)", timeout=20_000)
    # Nothing lost, nothing repeated: the whole answer, once.
    await expect(answer.get_by_text(ANSWER, exact=True)).to_be_visible()
    assert (await answer.inner_text()).count("You said:") == 1
    assert resumes, "the app never re-attached to the stream"
    assert all(h.get("last-event-id", "").count(":") == 1 for h in resumes), resumes
    assert errors == []
    await page.context.close()
