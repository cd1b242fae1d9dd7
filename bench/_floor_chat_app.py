"""The floor for bench_chat.py: the least a chat turn that keeps what users send can do.

A bare FastAPI app like bench/_bare_chat_app.py, plus what no chat turn that stores its messages
can skip: the question is committed to PostgreSQL before the answer is made, and the answer is
committed after it. Nothing else: no auth, rate limit, history, retrieval, middleware, ORM or
generation task; plain asyncpg on a pool, two single-statement transactions per turn, into a table
of its own (``bench_floor_messages``) in the database of ``BENCH_FLOOR_DSN``, on the same
PostgreSQL (and so the same commit cost) Helpline uses in the run.

Served by bench_chat.py as ``python -m uvicorn bench._floor_chat_app:app`` with Helpline's
uvicorn settings. Its throughput over the bare baselines' is the most any implementation of the
turn could reach on this machine, so it says whether a target ratio against the bare endpoints
can be met here at all:

- ``POST /turn``: the turn, answered with JSON (against bare ``POST /items``);
- ``POST /sse-turn?events=N``: the turn, the answer streamed as N ``token`` events (bare ``/sse``);
- ``WS /ws-turn``: the turn per text frame, answered with one frame (bare ``/ws`` echo).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import FastAPI, Query, WebSocket, WebSocketDisconnect
from sse_starlette import EventSourceResponse, ServerSentEvent

from bench._bare_app import ping
from bench._bare_chat_app import WORDS, ChatBody

SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_floor_messages (
    id bigserial PRIMARY KEY,
    conversation_id integer NOT NULL,
    role text NOT NULL,
    content text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = "INSERT INTO bench_floor_messages (conversation_id, role, content) VALUES ($1, $2, $3) RETURNING id"
POOL: dict[str, asyncpg.Pool] = {}


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Helpline's pool size (20); the load is 16-32 concurrent turns.
    pool = await asyncpg.create_pool(os.environ["BENCH_FLOOR_DSN"], min_size=4, max_size=20)
    await pool.execute(SCHEMA)
    POOL["db"] = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(title="bench-floor-chat", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
app.get("/ping")(ping)


async def _store(body: ChatBody, role: str, content: str) -> int:
    """One message, committed (a single-statement transaction): one round trip."""
    return int(await POOL["db"].fetchval(INSERT, body.conversation_id or 1, role, content))


async def _turn(body: ChatBody) -> tuple[int, str]:
    """Store the question, make the answer, store it."""
    await _store(body, "user", body.message)
    answer = "".join(WORDS)
    return await _store(body, "assistant", answer), answer


@app.post("/turn")
async def turn(body: ChatBody) -> dict[str, object]:
    message_id, answer = await _turn(body)
    return {"message_id": message_id, "conversation_id": body.conversation_id or 1, "content": answer}


async def _events(body: ChatBody, count: int) -> AsyncIterator[ServerSentEvent]:
    """The question is stored before the first event and the answer after the last, as Helpline does."""
    question_id = await _store(body, "user", body.message)
    parts = []
    for seq in range(1, count + 1):
        parts.append(WORDS[seq % len(WORDS)])
        data = {"message_id": question_id + 1, "conversation_id": body.conversation_id or 1, "content": parts[-1]}
        yield ServerSentEvent(data=json.dumps(data), event="token", id=f"{question_id + 1}:{seq}")
    await _store(body, "assistant", "".join(parts))


@app.post("/sse-turn")
async def sse_turn(body: ChatBody, events: Annotated[int, Query(ge=1, le=1000)] = 8) -> EventSourceResponse:
    return EventSourceResponse(_events(body, events), ping=15)


@app.websocket("/ws-turn")
async def ws_turn(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            frame = json.loads(await ws.receive_text())
            body = ChatBody(message=frame["content"], conversation_id=frame.get("conversation_id"))
            message_id, answer = await _turn(body)
            await ws.send_text(json.dumps({"type": "response", "message_id": message_id, "content": answer}))
    except WebSocketDisconnect:
        return
