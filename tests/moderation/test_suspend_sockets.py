"""A moderator's suspend_user closes the author's open chat WebSockets at once (4403), as the
administrators' account change does: on a real uvicorn server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.chat.test_ws_limits import authenticated, closed, pong, socket_url
from tests.conftest import bearer
from tests.moderation.conftest import member, review_url, say


@pytest.fixture
async def http(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as client:
        yield client


async def test_suspend_user_closes_the_authors_sockets(
    live_server: str, http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    author = await member(http, db, "author@example.com")
    bystander = await member(http, db, "other@example.com")
    moderator = await member(http, db, "mod@example.com", "moderator")
    mid = (await say(http, db, author, "forbidden-topic"))["user_message_id"]
    async with (
        authenticated(socket_url(live_server, author["user"]["id"], author["access_token"])) as laptop,
        authenticated(socket_url(live_server, author["user"]["id"], author["access_token"])) as phone,
        authenticated(socket_url(live_server, bystander["user"]["id"], bystander["access_token"])) as other,
        authenticated(socket_url(live_server, moderator["user"]["id"], moderator["access_token"])) as own,
    ):
        r = await http.post(review_url(mid), headers=bearer(moderator), json={"decision": "suspend_user"})
        assert r.status_code == 200, r.text
        for ws in (laptop, phone):
            assert await closed(ws) == (4403, "This account is suspended. Contact an administrator.")
        await pong(other)
        await pong(own)


async def test_other_decisions_leave_the_sockets_open(
    live_server: str, http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    author = await member(http, db, "author@example.com")
    moderator = await member(http, db, "mod@example.com", "moderator")
    mid = (await say(http, db, author, "forbidden-topic"))["user_message_id"]
    async with authenticated(socket_url(live_server, author["user"]["id"], author["access_token"])) as ws:
        r = await http.post(review_url(mid), headers=bearer(moderator), json={"decision": "confirm"})
        assert r.status_code == 200, r.text
        await pong(ws)
