"""Stopping an answer while it is generated: over HTTP and WebSocket, on one instance and across
two instances sharing Redis (a real uvicorn server each, real PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import websockets

from helpline.chat import service
from helpline.core.runtime import Runtime
from tests.chat import test_hub, test_stream
from tests.chat.conftest import eventually
from tests.chat.fakes import FakeProvider, ScriptedProvider
from tests.chat.test_hub import Instance, known, soon
from tests.chat.test_stream import parse_sse, recv, until
from tests.conftest import bearer, signed_in

# The fixtures of the stream and hub tests, shared here.
http = test_stream.http
redis, prefix, proxy, instances = test_hub.redis, test_hub.prefix, test_hub.proxy, test_hub.instances

WORDS = [f" word{i}" for i in range(40)]  # 40 chunks, 0.1 s apart: stopped long before the end


class SseReader:
    """Reads an SSE response in the background; ``events`` fills as they come."""

    def __init__(self, http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.status = 0
        self._task = asyncio.create_task(self._read(http, method, url, kwargs))

    async def _read(self, http: httpx.AsyncClient, method: str, url: str, kwargs: dict[str, Any]) -> None:
        lines: list[str] = []
        async with http.stream(method, url, **kwargs) as r:
            self.status = r.status_code
            async for line in r.aiter_lines():
                lines.append(line)
                if line == "":
                    self.events = parse_sse(lines)
        self.events = parse_sse([*lines, ""])

    def saw(self, kind: str) -> bool:
        return any(e["event"] == kind for e in self.events)

    async def finished(self) -> list[dict[str, Any]]:
        await asyncio.wait_for(self._task, 10)
        return self.events


def tokens_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["data"]["content"] for e in events if e["event"] == "token")


async def stored(db: asyncpg.Connection, message_id: int) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT m.status::text AS status, m.content, m.tokens_used, m.metadata, c.total_tokens "
        "FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = $1",
        message_id,
    )
    assert row is not None
    return row


async def test_stop_keeps_the_text_so_far_and_ends_every_stream(
    http: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    runtime.llm = model = ScriptedProvider(chunks=["Hello", *WORDS], delay=0.1)
    auth = bearer(await signed_in(http))
    asker = SseReader(http, "POST", "/api/v1/chat/stream", headers=auth, json={"message": "hi"})
    await soon(lambda: asker.saw("token"))
    message_id = asker.events[0]["data"]["message_id"]
    follower = SseReader(http, "GET", f"/api/v1/chat/stream/{message_id}", headers=auth)
    await soon(lambda: follower.saw("token"))

    r = await http.post(f"/api/v1/chat/messages/{message_id}/stop", headers=auth)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["message_id"] == message_id
    assert answer["stopped"] is True
    assert answer["status"] == "sent"
    assert answer["error"] is None
    assert answer["content"].startswith("Hello")
    assert answer["content"] != "Hello" + "".join(WORDS)  # cut short
    assert model.closed  # the model's stream was closed, not left generating
    assert model.yielded < 1 + len(WORDS)

    for reader in (asker, follower):  # each stream ends with the stored answer, marked stopped
        events = await reader.finished()
        assert events[-1]["event"] == "response"
        assert events[-1]["data"]["stopped"] is True
        assert events[-1]["data"]["content"] == answer["content"] == tokens_of(events)
    row = await stored(db, message_id)
    assert (row["status"], row["content"]) == ("sent", answer["content"])
    meta = json.loads(row["metadata"])
    assert meta["stopped"] is True
    assert "error" not in meta
    # Counted like any finished answer: the prompt, and the words given until the stop.
    assert row["tokens_used"] == answer["tokens_used"] == sum(meta["usage"].values()) > 0
    assert meta["usage"]["completion_tokens"] == len(answer["content"].split())
    assert row["total_tokens"] == row["tokens_used"]

    # Once stopped it has finished: stopping again is a conflict, and the replay says stopped too.
    r = await http.post(f"/api/v1/chat/messages/{message_id}/stop", headers=auth)
    assert r.status_code == 409
    assert r.json()["error"] == "conflict"
    replay = await SseReader(http, "GET", f"/api/v1/chat/stream/{message_id}", headers=auth).finished()
    assert replay[-1]["data"]["stopped"] is True
    # A stopped answer can be asked for again, whole this time.
    runtime.llm = ScriptedProvider()
    r = await http.post(f"/api/v1/chat/messages/{message_id}/retry", headers=auth)
    assert r.status_code == 200, r.text
    assert (r.json()["content"], r.json()["stopped"]) == ("Hello there, how can I help?", False)


async def test_a_slow_model_is_stopped_mid_answer(http: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.llm = FakeProvider(chunks=20, delay=0.1)
    auth = bearer(await signed_in(http))
    asker = SseReader(http, "POST", "/api/v1/chat/stream", headers=auth, json={"message": "one two three four"})
    await soon(lambda: asker.saw("token"))
    message_id = asker.events[0]["data"]["message_id"]
    r = await http.post(f"/api/v1/chat/messages/{message_id}/stop", headers=auth)
    assert r.status_code == 200, r.text
    events = await asker.finished()
    assert r.json()["content"] == events[-1]["data"]["content"] == tokens_of(events)
    assert r.json()["content"].startswith("You")
    assert len(r.json()["content"]) < len("You said: one two three four (I saw 1 messages of this conversation.)")


async def test_stop_refuses_a_finished_answer_and_another_users(client: httpx.AsyncClient) -> None:
    auth = bearer(await signed_in(client))
    sent = (await client.post("/api/v1/chat/send", headers=auth, json={"message": "hi"})).json()
    r = await client.post(f"/api/v1/chat/messages/{sent['message_id']}/stop", headers=auth)
    assert r.status_code == 409
    assert r.json()["detail"] == "This answer has already finished"
    other = bearer(await signed_in(client, "other@example.com"))
    for message_id in (sent["message_id"], sent["user_message_id"], 424242):
        r = await client.post(f"/api/v1/chat/messages/{message_id}/stop", headers=other)
        assert r.status_code == 404, message_id
        assert r.json()["error"] == "not_found"
    r = await client.post(f"/api/v1/chat/messages/{sent['user_message_id']}/stop", headers=auth)
    assert r.status_code == 404  # a question is not an answer
    assert (await client.post(f"/api/v1/chat/messages/{sent['message_id']}/stop")).status_code == 401


async def test_an_answer_nobody_generates_any_more_is_marked_abandoned(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client)
    # Stored as being answered, by an instance that then died: no generation anywhere.
    claims = runtime.tokens.decode(tokens["access_token"], "access")
    turn = await service.begin(runtime, claims=claims, content="hi", conversation_id=None, language=None)
    assert isinstance(turn, service.Turn)
    r = await client.post(f"/api/v1/chat/messages/{turn.message_id}/stop", headers=bearer(tokens))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["status"], answer["stopped"], answer["content"]) == ("failed", True, "")
    assert answer["error"] == "The server stopped while answering."
    row = await stored(db, turn.message_id)
    assert row["status"] == "failed"
    assert json.loads(row["metadata"]) == {"error": "The server stopped while answering.", "stopped": True}
    # Retryable like any failed answer.
    r = await client.post(f"/api/v1/chat/messages/{turn.message_id}/retry", headers=bearer(tokens))
    assert r.status_code == 200
    assert r.json()["status"] == "sent"


async def test_stop_sent_to_the_other_instance_stops_the_generation(
    instances: tuple[Instance, Instance], db: asyncpg.Connection
) -> None:
    a, b = instances
    a.runtime.llm = model = ScriptedProvider(gate=asyncio.Event())  # never opened: waits after "Hello"
    auth = bearer(await signed_in(a.http))
    asker = SseReader(a.http, "POST", "/api/v1/chat/stream", headers=auth, json={"message": "hi"})
    await soon(lambda: asker.saw("token"))
    message_id = asker.events[0]["data"]["message_id"]
    await known(b.hub, message_id)
    follower = SseReader(b.http, "GET", f"/api/v1/chat/stream/{message_id}", headers=auth)
    await soon(lambda: follower.saw("token"))  # B follows A's stream

    r = await b.http.post(f"/api/v1/chat/messages/{message_id}/stop", headers=auth)
    assert r.status_code == 200, r.text
    assert (r.json()["content"], r.json()["stopped"], r.json()["status"]) == ("Hello", True, "sent")
    assert model.closed
    for reader in (asker, follower):
        events = await reader.finished()
        assert [e["event"] for e in events] == ["typing", "token", "response"]
        assert events[-1]["data"]["stopped"] is True
        assert events[-1]["data"]["content"] == "Hello"
    row = await stored(db, message_id)
    assert (row["status"], row["content"], json.loads(row["metadata"])["stopped"]) == ("sent", "Hello", True)
    assert row["total_tokens"] == row["tokens_used"] > 0
    r = await a.http.post(f"/api/v1/chat/messages/{message_id}/stop", headers=auth)
    assert r.status_code == 409


async def test_a_stop_frame_stops_the_answer_on_the_websocket(
    live_server: str, http: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    runtime.llm = model = ScriptedProvider(gate=asyncio.Event())
    tokens = await signed_in(http)
    uid = tokens["user"]["id"]
    url = f"ws://{live_server}/api/v1/chat/ws/{uid}?token={tokens['access_token']}"
    async with websockets.connect(url) as ws, websockets.connect(url) as other_tab:
        await other_tab.send(json.dumps({"type": "ping"}))
        assert (await recv(other_tab))["type"] == "pong"
        await ws.send(json.dumps({"type": "stop"}))
        bad = await recv(ws)
        assert (bad["type"], bad["code"]) == ("error", "invalid_frame")
        assert "message_id" in bad["detail"]
        await ws.send(json.dumps({"type": "message", "content": "hi"}))
        frames = await until(ws, "token")
        assert frames[0]["type"] == "ack"
        message_id = frames[0]["message_id"]
        await ws.send(json.dumps({"type": "stop", "message_id": message_id}))
        final = (await until(ws, "response"))[-1]
        assert (final["message_id"], final["content"], final["stopped"]) == (message_id, "Hello", True)
        theirs = (await until(other_tab, "response"))[-1]  # every socket of the user hears of it
        assert theirs == final
        assert model.closed
        await eventually(lambda: _status_is(db, message_id, "sent"))
        # Too late now; the socket stays usable.
        await ws.send(json.dumps({"type": "stop", "message_id": message_id}))
        late = await recv(ws)
        assert (late["type"], late["code"], late["message_id"]) == ("error", "conflict", message_id)
        await ws.send(json.dumps({"type": "stop", "message_id": 424242}))
        assert (await recv(ws))["code"] == "not_found"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv(ws))["type"] == "pong"


async def _status_is(db: asyncpg.Connection, message_id: int, status: str) -> bool:
    return bool(await db.fetchval("SELECT status::text FROM messages WHERE id = $1", message_id) == status)
