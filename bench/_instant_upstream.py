"""An instant OpenAI-compatible upstream for bench_openwebui.py: ``GET /v1/models`` and
``POST /v1/chat/completions`` (streamed over SSE or not), answering at once with a fixed reply
in 8 chunks, usage included. Helpline and Open WebUI are both pointed at it, so neither waits
for a model and the difference is what each stack adds.

Serve: ``uvicorn bench._instant_upstream:app --port P`` (one worker). Plain Starlette: the same
for both sides, and far cheaper than either (it prints its own CPU per request in the bench)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "instant"
REPLY = "Your parcel should be with your neighbour; ask them, and if not, we will open a claim for you."
CHUNKS = 8
_WORDS = REPLY.split(" ")
_PER = -(-len(_WORDS) // CHUNKS)
PIECES = [(" " if i else "") + " ".join(_WORDS[i : i + _PER]) for i in range(0, len(_WORDS), _PER)]
COMPLETION_TOKENS = len(_WORDS)


async def models(_: Request) -> Response:
    return JSONResponse(
        {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "bench"}]}
    )


def _chunk(cid: str, created: int, delta: dict[str, str], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL, "choices": [choice]}
    return b"data: " + json.dumps(data).encode() + b"\n\n"


async def completions(request: Request) -> Response:
    body = await request.json()
    prompt_tokens = sum(len(str(m.get("content", "")).split()) + 3 for m in body.get("messages", []))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": prompt_tokens + COMPLETION_TOKENS,
    }
    cid, created = f"chatcmpl-{time.monotonic_ns()}", int(time.time())
    if not body.get("stream"):
        message = {"role": "assistant", "content": REPLY}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return JSONResponse(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": MODEL,
                "choices": [choice],
                "usage": usage,
            }
        )

    async def events() -> AsyncIterator[bytes]:
        yield _chunk(cid, created, {"role": "assistant", "content": ""})
        for piece in PIECES:
            yield _chunk(cid, created, {"content": piece})
        yield _chunk(cid, created, {}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL, "choices": []}
            yield b"data: " + json.dumps({**data, "usage": usage}).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


app = Starlette(
    routes=[
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", completions, methods=["POST"]),
    ]
)
