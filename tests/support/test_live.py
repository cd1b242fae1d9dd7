"""A person's reply reaches the user live on whichever instance their chat is open: two app
instances on one database and one Redis (tests.chat.test_hub's ``instances``), the agent on one,
the user's WebSocket or event stream on the other. And exactly one of several agents claiming
at once gets the conversation (real HTTP requests, concurrently)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import websockets

from tests.chat.conftest import eventually
from tests.chat.test_hub import Instance, instances, prefix, proxy, redis  # noqa: F401 (fixtures)
from tests.chat.test_stream import parse_sse, recv, until
from tests.conftest import bearer, login, signed_in


async def _true(value: bool) -> bool:
    return value


async def _agent(http: httpx.AsyncClient, db: asyncpg.Connection, email: str) -> dict[str, str]:
    await signed_in(http, email)
    await db.execute("UPDATE users SET role = 'moderator' WHERE email = $1", email)
    return bearer((await login(http, email)).json())


async def _handed_over(http: httpx.AsyncClient, auth: dict[str, str]) -> int:
    r = await http.post("/api/v1/chat/send", headers=auth, json={"message": "I want to talk to a human"})
    assert r.json()["handoff"]["status"] == "waiting_for_agent"
    return int(r.json()["conversation_id"])


async def test_the_agents_reply_reaches_the_users_websocket_on_the_other_instance(
    instances: tuple[Instance, Instance],  # noqa: F811
    db: asyncpg.Connection,
) -> None:
    a, b = instances
    tokens = await signed_in(b.http)
    uid, user = tokens["user"]["id"], bearer(tokens)
    conv = await _handed_over(b.http, user)
    staff = await _agent(a.http, db, "agent@example.com")
    url = f"ws://{b.address}/api/v1/chat/ws/{uid}?token={tokens['access_token']}"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv(ws))["type"] == "pong"
        assert await b.hub.ready(uid)
        assert (await a.http.post(f"/api/v1/support/conversations/{conv}/claim", headers=staff)).status_code == 200
        joined = (await until(ws, "handoff"))[-1]
        assert joined["conversation_id"] == conv
        assert joined["handoff"]["status"] == "with_agent"
        assert joined["handoff"]["agent_name"] == "agent"
        assert joined["message"]["message_type"] == "system"
        r = await a.http.post(
            f"/api/v1/support/conversations/{conv}/reply", headers=staff, json={"content": "Hello from a person"}
        )
        assert r.status_code == 201
        frame = (await until(ws, "agent_message"))[-1]
        assert frame["message"]["content"] == "Hello from a person"
        assert frame["agent_name"] == "agent"
        assert frame["message"]["metadata"]["author"] == "agent"
        # The user's next message over the socket is relayed, not answered.
        await ws.send(json.dumps({"type": "message", "content": "thanks!", "conversation_id": conv}))
        frames = await until(ws, "response")
        assert [f["type"] for f in frames] == ["ack", "response"]
        assert frames[-1]["handoff"]["status"] == "with_agent"
        assert frames[-1]["content"] == ""
    view = (await a.http.get(f"/api/v1/support/conversations/{conv}", headers=staff)).json()
    assert view["messages"][-1]["content"] == "thanks!"


async def test_the_agents_reply_reaches_the_users_event_stream_on_the_other_instance(
    instances: tuple[Instance, Instance],  # noqa: F811
    db: asyncpg.Connection,
) -> None:
    a, b = instances
    user = bearer(await signed_in(b.http))
    conv = await _handed_over(b.http, user)
    staff = await _agent(a.http, db, "agent@example.com")
    events: list[dict[str, Any]] = []
    ready = asyncio.Event()

    async def listen() -> None:
        lines: list[str] = []
        async with b.http.stream("GET", f"/api/v1/conversations/{conv}/events", headers=user) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                lines.append(line)
                if line == "":
                    events[:] = parse_sse(lines)
                    if events and events[0]["event"] == "ready":
                        ready.set()
                    if any(e["event"] == "agent" for e in events):
                        return

    task = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 10)
    assert (await a.http.post(f"/api/v1/support/conversations/{conv}/claim", headers=staff)).status_code == 200
    r = await a.http.post(f"/api/v1/support/conversations/{conv}/reply", headers=staff, json={"content": "Hi!"})
    assert r.status_code == 201
    await asyncio.wait_for(task, 10)
    assert [e["event"] for e in events] == ["ready", "handoff", "agent"]
    assert events[1]["data"]["handoff"]["status"] == "with_agent"
    assert events[2]["data"]["message"]["content"] == "Hi!"
    assert events[2]["data"]["conversation_id"] == conv
    # Resolved: the stream ends after telling so; a conversation the assistant has ends at once.
    async with b.http.stream("GET", f"/api/v1/conversations/{conv}/events", headers=user) as r:
        lines: list[str] = []

        async def read_all() -> None:
            async for line in r.aiter_lines():
                lines.append(line)

        reading = asyncio.create_task(read_all())
        await eventually(lambda: _true("event: ready" in lines))  # listening (and subscribed) first
        resolved = await a.http.post(f"/api/v1/support/conversations/{conv}/resolve", headers=staff)
        assert resolved.status_code == 200
        await asyncio.wait_for(reading, 10)
    assert [e["event"] for e in parse_sse([*lines, ""])] == ["ready", "handoff"]
    async with b.http.stream("GET", f"/api/v1/conversations/{conv}/events", headers=user) as r:
        ended = parse_sse([*[line async for line in r.aiter_lines()], ""])
    assert [e["event"] for e in ended] == ["ready"]


async def test_agents_racing_to_claim_one_wins_the_others_get_409(
    instances: tuple[Instance, Instance],  # noqa: F811
    db: asyncpg.Connection,
) -> None:
    a, b = instances
    user = bearer(await signed_in(a.http))
    staff = [await _agent(a.http, db, f"agent{i}@example.com") for i in range(4)]
    for _ in range(5):
        conv = await _handed_over(a.http, user)
        # Half through each instance, all at once: each its own request, transaction and connection.
        results = await asyncio.gather(
            *(
                (a if i % 2 else b).http.post(f"/api/v1/support/conversations/{conv}/claim", headers=auth)
                for i, auth in enumerate(staff)
            )
        )
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409, 409, 409], [r.text for r in results]
        winner = next(r for r in results if r.status_code == 200).json()["agent_id"]
        assert await db.fetchval("SELECT assigned_agent_id FROM conversations WHERE id = $1", conv) == winner
        assert (
            await db.fetchval("SELECT agent_id FROM conversation_handoffs WHERE conversation_id = $1", conv) == winner
        )
        # One "joined" notice, not one per agent.
        notices = await db.fetchval(
            "SELECT count(*) FROM messages WHERE conversation_id = $1 "
            "AND metadata->'handoff'->>'status' = 'with_agent'",
            conv,
        )
        assert notices == 1
        await a.http.post(
            f"/api/v1/support/conversations/{conv}/resolve",
            headers=next(s for s, r in zip(staff, results, strict=True) if r.status_code == 200),
        )
