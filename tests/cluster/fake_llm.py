"""An OpenAI-compatible chat server on a real port for the cluster's instances, whose answers the
test can hold mid-stream: a question containing ``hold:<key>`` streams its first words, then
waits until the test calls ``release(key)``. Other questions are answered at once (or with
``word_delay`` seconds between words, a model's pace).

A fault switch (``mode``, or ``POST /control {"mode": ..., "word_delay": ...}`` from another
process): ``ok``; ``error``, every request answered 500 at once; ``hang``, every request accepted
and then nothing sent (until the mode changes back or ``HANG_SECONDS`` pass). The load suite
(bench/load) runs it as a process of its own: ``python -m tests.cluster.fake_llm --port P``."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

HELD_AFTER = 2  # words streamed before a held answer waits
HANG_SECONDS = 600.0
MODES = ("ok", "error", "hang")


def answer_for(question: str) -> str:
    """What the model answers (the test compares stored answers with it)."""
    return f"Here is the answer to: {question.strip()[:80]}"


class FakeLLM:
    def __init__(self) -> None:
        self.url = ""
        self._gates: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.held: set[str] = set()  # keys whose answer is waiting now
        self.mode = "ok"  # the fault switch (MODES)
        self.word_delay = 0.0
        self.requests = 0

    def _gate(self, key: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(key, threading.Event())

    def release(self, key: str) -> None:
        self._gate(key).set()

    def release_all(self) -> None:
        with self._lock:
            gates = list(self._gates.values())
        for gate in gates:
            gate.set()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> Response:
            return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "test"}]})

        @app.post("/control")
        async def control(request: Request) -> Response:
            body = await request.json()
            if body.get("mode") in MODES:
                self.mode = body["mode"]
            if "word_delay" in body:
                self.word_delay = float(body["word_delay"])
            return JSONResponse({"mode": self.mode, "word_delay": self.word_delay, "requests": self.requests})

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            self.requests += 1
            if self.mode == "error":
                return JSONResponse({"error": {"message": "upstream fault (injected)", "type": "server_error"}}, 500)
            if self.mode == "hang":
                waited = 0.0
                while self.mode == "hang" and waited < HANG_SECONDS:
                    await asyncio.sleep(0.1)
                    waited += 0.1
            body = await request.json()
            question = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
            hold = re.search(r"hold:(\w+)", question)
            words = answer_for(question).split(" ")

            def chunk(delta: dict[str, str], finish: str | None = None) -> str:
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
                return "data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0,
                                              "model": "fake", "choices": [choice]}) + "\n\n"  # fmt: skip

            async def events() -> AsyncIterator[str]:
                yield chunk({"role": "assistant", "content": ""})
                for i, word in enumerate(words):
                    if hold and i == HELD_AFTER:
                        gate = self._gate(hold.group(1))
                        self.held.add(hold.group(1))
                        await asyncio.to_thread(gate.wait, 60)  # a threading.Event: the test sets it
                        self.held.discard(hold.group(1))
                    if self.word_delay:
                        await asyncio.sleep(self.word_delay)
                    yield chunk({"content": word if i == 0 else " " + word})
                yield chunk({}, "stop")
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        return app


@contextmanager
def fake_llm() -> Iterator[FakeLLM]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = FakeLLM()
    llm.url = f"http://127.0.0.1:{port}/v1"
    config = uvicorn.Config(llm.app(), host="127.0.0.1", port=port, log_level="critical", log_config=None,
                            timeout_graceful_shutdown=1)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-llm", daemon=True)  # its own event loop
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the fake LLM server did not start"
        time.sleep(0.01)
    try:
        yield llm
    finally:
        llm.release_all()
        server.should_exit = True
        thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description="The fake OpenAI-compatible model, as a process of its own")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--word-delay", type=float, default=0.0)
    args = parser.parse_args()
    llm = FakeLLM()
    llm.word_delay = args.word_delay
    uvicorn.run(llm.app(), host="127.0.0.1", port=args.port, log_level="warning", log_config=None)


if __name__ == "__main__":
    main()
