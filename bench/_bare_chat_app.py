"""The baselines for bench_chat.py: a bare FastAPI app with no middleware, database or auth.

Served by bench_chat.py as ``python -m uvicorn bench._bare_chat_app:app`` with the uvicorn
settings Helpline uses, so the gap to Helpline's chat endpoints is the app's own cost:

- ``POST /items``: validates a small Pydantic body (the same handler as bench/_bare_app.py);
- ``POST /sse?events=N``: validates a chat-like body, then streams N small ``token`` events with
  sse-starlette (as Helpline does: JSON data, ``<id>:<seq>`` event ids, the same ping interval);
- ``WS /ws``: echoes every text frame.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import FastAPI, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from bench._bare_app import create_item, ping

app = FastAPI(title="bench-bare-chat", docs_url=None, redoc_url=None, openapi_url=None)
app.get("/ping")(ping)
app.post("/items")(create_item)

WORDS = ("You", " said:", " hello", " there", " (I", " saw", " 3", " messages.)")


class ChatBody(BaseModel):
    message: str = Field(min_length=1, max_length=8000)
    conversation_id: int | None = Field(default=None, ge=1)


async def _events(conversation_id: int, count: int) -> AsyncIterator[ServerSentEvent]:
    for seq in range(1, count + 1):
        data = {"message_id": 1, "conversation_id": conversation_id, "content": WORDS[seq % len(WORDS)]}
        yield ServerSentEvent(data=json.dumps(data), event="token", id=f"1:{seq}")


@app.post("/sse")
async def sse(body: ChatBody, events: Annotated[int, Query(ge=1, le=1000)] = 8) -> EventSourceResponse:
    return EventSourceResponse(_events(body.conversation_id or 1, events), ping=15)


@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            await ws.send_text(await ws.receive_text())
    except WebSocketDisconnect:
        return
