"""Idempotent sends (chat.once): a message sent again with the same client_id is stored once and
answered once, over REST, SSE and WebSocket, and also when the two sends race."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import httpx

from tests.chat.conftest import send
from tests.chat.test_stream import recv, until, ws_connect
from tests.conftest import bearer, signed_in


async def _counts(db: asyncpg.Connection) -> tuple[int, int]:
    row = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE message_type = 'user') AS q, "
        "count(*) FILTER (WHERE message_type = 'assistant') AS a FROM messages"
    )
    assert row is not None
    return row["q"], row["a"]


async def test_a_repeated_send_is_stored_once_and_gets_the_first_answer(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    cid = str(uuid.uuid4())
    first = await send(client, auth, "Where is my parcel?", client_id=cid)
    assert first.status_code == 200, first.text
    again = await send(client, auth, "Where is my parcel?", client_id=cid)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await _counts(db) == (1, 1)
    stored = await db.fetchval("SELECT client_id FROM messages WHERE message_type = 'user'")
    assert stored == cid


async def test_the_same_client_id_in_a_follow_up_and_without_one(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    first = (await send(client, auth, "hello", client_id="a-1")).json()
    conv = first["conversation_id"]
    # Without client_id every send is a new message, as before.
    for _ in range(2):
        r = await send(client, auth, "more", conversation_id=conv)
        assert r.status_code == 200
    follow = await send(client, auth, "and then?", conversation_id=conv, client_id="a-2")
    again = await send(client, auth, "and then?", conversation_id=conv, client_id="a-2")
    assert again.json()["message_id"] == follow.json()["message_id"]
    assert await _counts(db) == (4, 4)
    assert await db.fetchval("SELECT message_count FROM conversations WHERE id = $1", conv) == 8


async def test_a_client_id_names_one_message(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    await send(client, auth, "first", client_id="x")
    r = await send(client, auth, "something else", client_id="x")
    assert r.status_code == 409
    assert "client_id" in r.json()["detail"]
    assert await _counts(db) == (1, 1)


async def test_client_ids_are_per_user(client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection) -> None:
    other = bearer(await signed_in(client, "other@example.com"))
    a = await send(client, auth, "same words", client_id="shared")
    b = await send(client, other, "same words", client_id="shared")
    assert a.status_code == b.status_code == 200
    assert a.json()["message_id"] != b.json()["message_id"]
    assert await _counts(db) == (2, 2)


async def test_a_malformed_client_id_is_a_clear_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for bad in ("", "x" * 65, "has space", 12):
        r = await send(client, auth, "hi", client_id=bad)
        assert r.status_code == 422, bad
        assert "client_id" in r.text


async def test_racing_sends_store_one_message(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    results = await asyncio.gather(*(send(client, auth, "racing", client_id="race") for _ in range(4)))
    assert {r.status_code for r in results} == {200}
    assert len({r.json()["message_id"] for r in results}) == 1
    assert await _counts(db) == (1, 1)


async def test_a_repeated_stream_replays_the_first_answer(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    body = {"message": "stream me", "client_id": "s-1"}
    first = await client.post("/api/v1/chat/stream", headers=auth, json=body)
    again = await client.post("/api/v1/chat/stream", headers=auth, json=body)
    assert first.status_code == again.status_code == 200

    def final(text: str) -> dict[str, object]:
        datas = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        return dict(json.loads(datas[-1]))

    assert final(again.text)["message_id"] == final(first.text)["message_id"]
    assert final(again.text)["content"] == final(first.text)["content"]
    assert await _counts(db) == (1, 1)


async def test_a_repeat_of_a_message_for_a_person(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    first = await send(client, auth, "talk to a human", client_id="h-1")
    again = await send(client, auth, "talk to a human", client_id="h-1")
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["message_id"] == first.json()["message_id"] == first.json()["user_message_id"]
    assert again.json()["content"] == ""
    assert await _counts(db) == (1, 0)


async def test_a_repeated_websocket_message(live_server: str, db: asyncpg.Connection) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as http:
        tokens = await signed_in(http)
    frame = {"type": "message", "content": "over the socket", "client_id": "w-1"}
    async with await ws_connect(live_server, tokens["user"]["id"], tokens["access_token"]) as ws:
        await ws.send(json.dumps(frame))
        first = (await until(ws, "response"))[-1]
        await ws.send(json.dumps(frame))
        ack = await recv(ws)
        assert ack["type"] == "ack"
        assert ack["message_id"] == first["message_id"]
        repeat = await recv(ws)
        assert repeat["type"] == "response"
        assert repeat["message_id"] == first["message_id"]
        assert repeat["content"] == first["content"]
    assert await _counts(db) == (1, 1)
