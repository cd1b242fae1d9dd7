"""A scripted OpenAI-compatible server (chat completions streamed over SSE or not, models,
moderations) on a real 127.0.0.1 port, for the openai provider and moderator tests.

The requested model name picks the behaviour, so tests running against the one server never
interfere: ``ok-<id>`` answers, ``flaky2-<id>`` answers 429 twice then succeeds, ``down-<id>``
always fails with 500, ``hang-<id>`` never answers, ``stall-<id>`` stops after one chunk,
``break-<id>`` drops the connection after two chunks, ``errorevent-<id>`` sends an error event
mid-stream, ``truncated-<id>`` ends without a finish reason, ``nousage-<id>`` omits usage,
``long-<id>`` streams slowly, ``auth-<id>``/``missing-<id>``/``bad-<id>`` answer 401/404/400.

``/v1/embeddings`` answers every text with a deterministic vector that is not unit-length, of the
requested ``dimensions`` or else ``EMBEDDING_WIDTH``, base64-encoded when asked. Besides the error
scenarios above (``flaky2``, ``quota``, ``down``, ``auth``, ``missing``, ``bad``, ``hang``), the model
name can ask for ``floats-<id>`` (plain floats even when base64 was asked, as some compatible
servers do), ``shuffled-<id>`` (results in reverse order, with their indexes), ``short-<id>`` (one
embedding too few), ``zero-<id>`` (a zero vector), ``empty-<id>`` (no data at all)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

ANSWER = ["Hello", ", ", "world", "!"]
PROMPT_TOKENS, COMPLETION_TOKENS = 17, 4
EMBEDDING_WIDTH = 12  # what the scripted server returns when no `dimensions` is asked for


def scripted_embedding(text: str, width: int) -> list[float]:
    """The scripted server's vector for ``text``: deterministic, never unit-length."""
    rng = random.Random(hashlib.blake2b(text.encode()).digest())
    return [rng.uniform(-3.0, 3.0) for _ in range(width)]


@dataclass
class Upstream:
    """What the scripted server saw, per model name."""

    url: str
    requests: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    finished: dict[str, str] = field(default_factory=dict)  # model -> "complete" | "aborted"
    embedding_inputs: dict[str, list[list[str]]] = field(default_factory=dict)  # model -> each request's texts

    def unique(self, scenario: str) -> str:
        return f"{scenario}-{uuid.uuid4().hex[:8]}"

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return False


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": f"{model}-snapshot",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def _usage_chunk(model: str) -> str:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": f"{model}-snapshot",
        "choices": [],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
    }
    return f"data: {json.dumps(body)}\n\n"


def _error(status: int, message: str, code: str | None = None, **headers: str) -> JSONResponse:
    body = {"error": {"message": message, "type": "test_error", "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def build_app(state: Upstream) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        if request.headers.get("authorization") == "Bearer bad-key":
            return _error(401, "Incorrect API key provided")
        return JSONResponse({"object": "list", "data": [{"id": "ok", "object": "model", "owned_by": "test"}]})

    @app.post("/v1/moderations")
    async def moderations(request: Request) -> Response:
        body = await request.json()
        state.requests["moderations"] += 1
        if request.headers.get("authorization") == "Bearer bad-key":
            return _error(401, "Incorrect API key provided")
        text = str(body["input"]).lower()
        hit = "kill" in text
        names = ["harassment", "harassment/threatening", "self-harm", "violence"]
        return JSONResponse(
            {
                "id": "modr-test",
                "model": body.get("model", "omni-moderation-latest"),
                "results": [
                    {
                        "flagged": hit,
                        "categories": {n: hit and n == "violence" for n in names},
                        "category_scores": {n: (0.93 if hit and n == "violence" else 0.01) for n in names},
                    }
                ],
            }
        )

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        body = await request.json()
        model: str = body["model"]
        scenario = model.split("-", 1)[0]
        state.requests[model] += 1
        state.bodies[model] = body
        seen = state.requests[model]
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        state.embedding_inputs.setdefault(model, []).append(texts)
        fast_retry = {"retry-after-ms": "10"}
        if request.headers.get("authorization") == "Bearer bad-key" or scenario == "auth":
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        if scenario == "flaky2" and seen <= 2:
            return _error(429, "Rate limit reached, slow down", "rate_limit_exceeded", **fast_retry)
        if scenario == "quota":
            return _error(429, "You exceeded your current quota", "insufficient_quota", **fast_retry)
        if scenario == "down":
            return _error(500, "The server had an error", **fast_retry)
        if scenario == "missing":
            return _error(404, f"The model `{model}` does not exist", "model_not_found")
        if scenario == "bad":
            return _error(400, "This model's maximum context length is 8192 tokens", "context_length_exceeded")
        if scenario == "hang":
            await asyncio.sleep(30)
        width = int(body.get("dimensions") or EMBEDDING_WIDTH)
        vectors = [scripted_embedding(text, width) for text in texts]
        if scenario == "zero":
            vectors[0] = [0.0] * width
        if scenario == "short":
            vectors = vectors[:-1]
        if scenario == "empty":
            vectors = []
        as_base64 = body.get("encoding_format") == "base64" and scenario != "floats"
        data: list[dict[str, Any]] = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else v,
            }
            for i, v in enumerate(vectors)
        ]
        if scenario == "shuffled":
            data.reverse()
        tokens = sum(len(t.split()) for t in texts)
        return JSONResponse(
            {
                "object": "list",
                "model": model,
                "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Response:
        body = await request.json()
        model: str = body["model"]
        scenario = model.split("-", 1)[0]
        state.requests[model] += 1
        state.bodies[model] = body
        seen = state.requests[model]
        fast_retry = {"retry-after-ms": "10"}
        if scenario == "flaky2" and seen <= 2:
            return _error(429, "Rate limit reached, slow down", "rate_limit_exceeded", **fast_retry)
        if scenario == "quota":
            return _error(429, "You exceeded your current quota", "insufficient_quota", **fast_retry)
        if scenario == "down":
            return _error(500, "The server had an error", **fast_retry)
        if scenario == "auth":
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        if scenario == "missing":
            return _error(404, f"The model `{model}` does not exist", "model_not_found")
        if scenario == "bad":
            return _error(400, "This model's maximum context length is 8192 tokens", "context_length_exceeded")
        if scenario == "hang":
            await asyncio.sleep(30)
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": f"{model}-snapshot",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(ANSWER)},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": PROMPT_TOKENS,
                        "completion_tokens": COMPLETION_TOKENS,
                        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                    },
                }
            )

        async def events() -> AsyncIterator[str]:
            finished = "aborted"
            try:
                yield _chunk(model, {"role": "assistant", "content": ""})
                pieces = ANSWER * 25 if scenario == "long" else ANSWER
                for i, piece in enumerate(pieces):
                    if scenario == "stall" and i == 1:
                        await asyncio.sleep(30)
                    if scenario == "break" and i == 2:
                        raise ConnectionResetError("scripted upstream crash")  # drops the connection
                    if scenario == "errorevent" and i == 2:
                        yield f"data: {json.dumps({'error': {'message': 'The model is overloaded'}})}\n\n"
                        return
                    if scenario == "long":
                        await asyncio.sleep(0.02)
                    yield _chunk(model, {"content": piece})
                if scenario == "truncated":
                    finished = "complete"
                    return
                yield _chunk(model, {}, "stop")
                include_usage = (body.get("stream_options") or {}).get("include_usage")
                if include_usage and scenario != "nousage":
                    yield _usage_chunk(model)
                yield "data: [DONE]\n\n"
                finished = "complete"
            finally:
                state.finished[model] = finished

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = Upstream(url=f"http://127.0.0.1:{port}/v1")
    config = uvicorn.Config(
        build_app(state),
        host="127.0.0.1",
        port=port,
        log_level="critical",
        log_config=None,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    # Its own thread and event loop: the tests' loops come and go per test.
    thread = threading.Thread(target=server.run, name="scripted-openai", daemon=True)
    thread.start()
    if not state.wait_for(lambda: server.started, timeout=10):
        raise RuntimeError("the scripted OpenAI server did not start")
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=5)
