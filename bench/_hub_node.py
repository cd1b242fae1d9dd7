"""One "instance" for bench_ws_fanout.py: Helpline's generation hub (the Redis one when
BENCH_REDIS_URL is set, else the in-process one) behind a WebSocket that forwards the user's
events as the chat socket does (a bounded ``Listener``, ``chat.ws.frame``, ``send_json``), and an
HTTP route that publishes a generation's events on this instance's hub, each token carrying its
publication time (``time.time()``) as its content (and, asked to, also PUBLISHed as is: the
floor of one Redis hop). No accounts, no database: only the delivery."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from redis.asyncio import Redis
from redis.utils import HIREDIS_AVAILABLE

from helpline.chat.ws import frame
from helpline.core import gcpause
from helpline.platform.hub import GenerationHub, Hub
from helpline.platform.redis_hub import RedisGenerationHub

URL = os.environ.get("BENCH_REDIS_URL") or None
# As the app does after start-up (core.gcpause.settle); BENCH_GC_FREEZE=0 leaves it out, to compare.
GC_FREEZE = os.environ.get("BENCH_GC_FREEZE", "1") != "0"
PREFIX = os.environ.get("BENCH_PREFIX", "hlbench")
QUEUED_FRAMES = 1024  # HELPLINE_WS_MAX_QUEUED_FRAMES's default


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    hub: Hub = RedisGenerationHub.from_url(URL, prefix=PREFIX) if URL else GenerationHub()
    app.state.hub = hub
    app.state.raw = Redis.from_url(URL) if URL else None
    if GC_FREEZE:
        gcpause.settle()
    gc.callbacks.append(_gc_observed)  # after settle's own collection: only those while serving
    try:
        yield
    finally:
        await hub.drain(timeout=5)
        if app.state.raw is not None:
            await app.state.raw.aclose()


app = FastAPI(lifespan=lifespan)
# Collections seen since the start, by generation: how many, their total and longest pause (ms).
GC_SEEN: dict[int, list[float]] = {0: [0, 0.0, 0.0], 1: [0, 0.0, 0.0], 2: [0, 0.0, 0.0]}
_gc_began = [0.0]


def _gc_observed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_began[0] = time.perf_counter()
        return
    pause = (time.perf_counter() - _gc_began[0]) * 1000
    seen = GC_SEEN[info["generation"]]
    seen[0] += 1
    seen[1] += pause
    seen[2] = max(seen[2], pause)


@app.get("/gc")
async def gc_seen() -> dict[str, object]:
    return {
        "frozen": gc.get_freeze_count(),
        "collections": {str(g): v for g, v in GC_SEEN.items()},
        "cpu_seconds": time.process_time(),
        "parser": "hiredis" if HIREDIS_AVAILABLE else "python",
    }


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@app.websocket("/ws/{user_id}")
async def listen(ws: WebSocket, user_id: int) -> None:
    hub: Hub = ws.app.state.hub
    await ws.accept()
    with hub.listen(user_id, QUEUED_FRAMES) as listener:
        if isinstance(hub, RedisGenerationHub):
            await hub.ready(user_id)  # subscribed: other instances' events reach this socket
        await ws.send_json({"type": "ready"})

        async def send() -> None:
            while True:
                await ws.send_json(frame(await listener.get()))

        sender = asyncio.create_task(send())
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender


@app.post("/publish/{user_id}")
async def publish(user_id: int, events: int = 20, interval_ms: float = 10.0, raw: bool = False) -> dict[str, int]:
    """A generation's tokens; with ``raw``, each token's time is also PUBLISHed as is on
    ``{prefix}:raw:<user_id>`` (the floor: one Redis pub/sub hop, no hub)."""
    hub: Hub = app.state.hub
    gen = hub.open(random.randrange(1, 2**48), 1, user_id)
    for _ in range(events):
        now = repr(time.time())
        await hub.publish(gen, "token", {"content": now})
        if raw and app.state.raw is not None:
            await app.state.raw.publish(f"{PREFIX}:raw:{user_id}", now)
        await asyncio.sleep(interval_ms / 1000)
    await hub.publish(gen, "response", {"content": "done"}, final=True)
    return {"message_id": gen.message_id}
