"""SSE and WebSocket over a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from helpline.core.runtime import Runtime
from tests.chat.conftest import eventually
from tests.chat.fakes import ScriptedProvider
from tests.conftest import signed_in


def parse_sse(lines: list[str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "data" in current:
                current["data"] = json.loads(current["data"])
                events.append(current)
            current = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        current[key] = value.lstrip(" ")
    return events


async def read_events(response: httpx.Response, stop_after: int | None = None) -> list[dict[str, Any]]:
    lines: list[str] = []
    async for line in response.aiter_lines():
        lines.append(line)
        if stop_after is not None and line == "" and len(parse_sse(lines)) >= stop_after:
            break
    return parse_sse([*lines, ""])


@pytest.fixture
async def http(live_server: str) -> Any:
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as c:
        yield c


async def test_sse_streams_tokens_then_the_stored_message(http: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.llm = ScriptedProvider()
    tokens = await signed_in(http)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with http.stream("POST", "/api/v1/chat/stream", headers=auth, json={"message": "hi"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = await read_events(r)
    kinds = [e["event"] for e in events]
    assert kinds == ["typing", "token", "token", "token", "token", "token", "response"]
    message_id = events[0]["data"]["message_id"]
    assert [e["id"] for e in events] == [f"{message_id}:{i}" for i in range(1, 8)]
    text = "".join(e["data"]["content"] for e in events if e["event"] == "token")
    final = events[-1]["data"]
    assert final["content"] == text == "Hello there, how can I help?"
    assert final["status"] == "sent"


async def test_disconnect_mid_stream_loses_nothing_and_reconnect_resumes(
    http: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    gate = asyncio.Event()
    runtime.llm = ScriptedProvider(gate=gate)
    tokens = await signed_in(http)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with http.stream("POST", "/api/v1/chat/stream", headers=auth, json={"message": "hi"}) as r:
        first = await read_events(r, stop_after=2)  # typing + first token, then the client drops
    last_id = first[-1]["id"]
    message_id = first[0]["data"]["message_id"]
    gate.set()  # the model goes on after the client has left

    async def stored() -> bool:
        return bool(await db.fetchval("SELECT status::text FROM messages WHERE id = $1", message_id) == "sent")

    await eventually(stored)
    async with http.stream("GET", f"/api/v1/chat/stream/{message_id}", headers={**auth, "Last-Event-ID": last_id}) as r:
        rest = await read_events(r)
    text = "".join(e["data"]["content"] for e in first + rest if e["event"] == "token")
    assert text == "Hello there, how can I help?"
    assert rest[-1]["event"] == "response"
    assert int(rest[0]["id"].split(":")[1]) == int(last_id.split(":")[1]) + 1


async def test_resume_while_still_generating(http: httpx.AsyncClient, runtime: Runtime) -> None:
    gate = asyncio.Event()
    runtime.llm = ScriptedProvider(gate=gate)
    tokens = await signed_in(http)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with http.stream("POST", "/api/v1/chat/stream", headers=auth, json={"message": "hi"}) as r:
        first = await read_events(r, stop_after=2)
    asyncio.get_running_loop().call_later(0.2, gate.set)
    # EventSource-style reconnect: POST again with Last-Event-ID resumes instead of sending anew
    async with http.stream(
        "POST", "/api/v1/chat/stream", headers={**auth, "Last-Event-ID": first[-1]["id"]}, json={"message": "hi"}
    ) as r:
        rest = await read_events(r)
    assert (
        "".join(e["data"]["content"] for e in first + rest if e["event"] == "token") == "Hello there, how can I help?"
    )


async def test_finished_answer_replays_from_the_database(
    http: httpx.AsyncClient, runtime: Runtime, client: httpx.AsyncClient
) -> None:
    tokens = await signed_in(http)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    sent = (await http.post("/api/v1/chat/send", headers=auth, json={"message": "hi"})).json()
    await runtime.hub.erase([sent["message_id"]])  # forgotten here, as if another instance had generated it
    async with http.stream("GET", f"/api/v1/chat/stream/{sent['message_id']}", headers=auth) as r:
        events = await read_events(r)
    assert [e["event"] for e in events] == ["response"]
    assert events[0]["data"]["content"] == sent["content"]
    other = await signed_in(http, "other@example.com")
    r = await http.get(
        f"/api/v1/chat/stream/{sent['message_id']}", headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert r.status_code == 404
    r = await http.get(f"/api/v1/chat/stream/{sent['message_id']}", headers={**auth, "Last-Event-ID": "garbage"})
    assert r.status_code == 400
    # POST with Last-Event-ID resumes: someone else's answer, or one that cannot exist, is a
    # plain 404 or 400 before any event, not a stream that breaks after its 200
    other_auth = {"Authorization": f"Bearer {other['access_token']}"}
    for headers, last_id, status in (
        (other_auth, f"{sent['message_id']}:1", 404),
        (auth, "424242:1", 404),
        (auth, f"{2**31}:1", 400),
        (auth, f"{sent['message_id']}:-1", 400),
    ):
        r = await http.post(
            "/api/v1/chat/stream", headers={**headers, "Last-Event-ID": last_id}, json={"message": "hi"}
        )
        assert r.status_code == status, (last_id, r.text)


async def ws_connect(server: str, user_id: int, token: str | None) -> Any:
    query = f"?token={token}" if token else ""
    return await websockets.connect(f"ws://{server}/api/v1/chat/ws/{user_id}{query}")


async def recv(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))


async def until(ws: Any, kind: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await recv(ws)
        frames.append(frame)
        if frame["type"] == kind:
            return frames


async def test_websocket_chat_in_the_spec_format(live_server: str, http: httpx.AsyncClient) -> None:
    tokens = await signed_in(http)
    uid = tokens["user"]["id"]
    async with await ws_connect(live_server, uid, tokens["access_token"]) as ws:
        await ws.send(json.dumps({"type": "message", "content": "Hello, how can you help me?", "language": "en"}))
        frames = await until(ws, "response")
        kinds = [f["type"] for f in frames]
        assert kinds[0] == "ack"
        assert "typing" in kinds
        assert "token" in kinds
        response = frames[-1]
        for key in ("content", "conversation_id", "message_id", "timestamp"):
            assert key in response
        assert response["content"] == "".join(f["content"] for f in frames if f["type"] == "token")
        # the conversation goes on over the same socket
        await ws.send(
            json.dumps({"type": "message", "content": "more", "conversation_id": response["conversation_id"]})
        )
        second = (await until(ws, "response"))[-1]
        assert second["conversation_id"] == response["conversation_id"]


async def test_websocket_invalid_frames_keep_the_socket_usable(live_server: str, http: httpx.AsyncClient) -> None:
    tokens = await signed_in(http)
    async with await ws_connect(live_server, tokens["user"]["id"], tokens["access_token"]) as ws:
        for bad in ("not json", json.dumps({"type": "dance"}), json.dumps({"type": "message", "content": ""}),
                    json.dumps({"type": "message", "content": "x", "conversation_id": 424242}),
                    json.dumps({"type": "message", "content": "x", "conversation_id": 2**31}),
                    # valid JSON, but PostgreSQL cannot store a NUL: the turn fails, the socket stays
                    json.dumps({"type": "message", "content": "a\u0000b"})):  # fmt: skip
            await ws.send(bad)
            frame = await recv(ws)
            assert frame["type"] == "error", frame
            assert frame["detail"]
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv(ws))["type"] == "pong"


async def test_websocket_auth_by_first_frame_and_every_socket_of_the_user(
    live_server: str, http: httpx.AsyncClient
) -> None:
    tokens = await signed_in(http)
    uid = tokens["user"]["id"]
    async with (
        await ws_connect(live_server, uid, None) as phone,
        await ws_connect(live_server, uid, tokens["access_token"]) as laptop,
    ):
        await phone.send(json.dumps({"type": "auth", "token": tokens["access_token"]}))
        authenticated = await recv(phone)  # an auth frame is answered
        assert authenticated["type"] == "authenticated"
        assert authenticated["expires_at"]
        await phone.send(json.dumps({"type": "ping"}))
        assert (await recv(phone))["type"] == "pong"
        await laptop.send(json.dumps({"type": "message", "content": "from the laptop"}))
        on_laptop = (await until(laptop, "response"))[-1]
        on_phone = (await until(phone, "response"))[-1]
        assert on_phone["message_id"] == on_laptop["message_id"]


@pytest.mark.parametrize(
    ("which", "code"), [("other_user", 4403), ("no_token", 4401), ("bad_token", 4401), ("refresh", 4401)]
)
async def test_websocket_refuses_the_wrong_caller(
    live_server: str, http: httpx.AsyncClient, which: str, code: int
) -> None:
    tokens = await signed_in(http)
    uid = tokens["user"]["id"]
    token = {
        "other_user": tokens["access_token"],
        "no_token": None,
        "bad_token": "abc.def.ghi",
        "refresh": tokens["refresh_token"],
    }[which]
    target = uid + 1 if which == "other_user" else uid
    async with await ws_connect(live_server, target, token) as ws:
        if which == "no_token":
            await ws.send(json.dumps({"type": "message", "content": "hi"}))
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == code
