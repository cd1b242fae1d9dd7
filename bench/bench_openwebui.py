"""Helpline next to Open WebUI, both in front of the same instant OpenAI-compatible upstream
(bench/_instant_upstream.py), in one run: time to first token and completed answers per second,
one request at a time and under load.

Run: ``uv run python bench/bench_openwebui.py [--quick] [--duration S] [--connections N]``.
Needs Open WebUI in a venv of its own, never a project dependency:

    uv venv bench/.openwebui
    uv pip install --python bench/.openwebui/bin/python --only-binary :all: open-webui==0.12.4

(``--openwebui PATH`` for another install). bench/.openwebui is gitignored (about 7 GB: Open
WebUI brings torch and CUDA wheels). It runs offline here: ``OFFLINE_MODE`` and
``HF_HUB_OFFLINE`` are set, and ``RAG_EMBEDDING_ENGINE=openai`` so that it loads no local
embedding model at start (none is used by a plain chat completion).

What each side does per request:

- Open WebUI: ``POST /api/chat/completions`` with a signed-up admin's JWT, streamed, in one
  worker with its default SQLite. It checks the user and the model, applies its filters and
  proxies the upstream's stream. It stores nothing: its web front end saves the chat with
  separate calls, which this endpoint's callers do not make.
- Helpline: ``POST /api/v1/chat/stream`` with a user's JWT, in existing conversations (rotated),
  the default configuration except the model (``HELPLINE_LLM_PROVIDER=openai`` at the upstream):
  rate limit, local moderation of the question and the answer, the question and the answer stored
  in PostgreSQL, FAQ retrieval (cached: the same question each time; a new question each time is
  also measured one at a time), the grounded-answer guard, then the answer's events.

Time to first token: from sending the request to the first content (Open WebUI: the first
``data:`` chunk with non-empty ``delta.content``; Helpline: the first ``event: token``), from this
process with httpx, one stream at a time (p50/p95), and under load (N streams at once from this
process, for D seconds: completed answers per second and their time to first token). Completed
answers/s are also measured with wrk (one thread, keep-alive), which does not use this process's
CPU: the figures to compare for throughput. The servers run one at a time; the upstream runs
throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from bench._common import (
    HOST,
    REQUEST_TIMEOUT_S,
    BenchError,
    CpuWatch,
    LoadGenerator,
    Server,
    Target,
    bare_server,
    free_port,
    helpline_server,
    install_signal_handlers,
    percentiles_ms,
    register_and_login,
    running_server,
)

HERE = Path(__file__).resolve().parent
QUESTION = "The tracking page says delivered but I have no parcel, what now?"  # reaches the model (bench_chat.py)
HUGE = "100000000"
OPENWEBUI_VERSION = "0.12.4"


@dataclass
class Side:
    name: str
    url: str  # the streaming endpoint
    variants: list[tuple[Mapping[str, str], bytes]]  # (headers, body) rotated per request
    marker: bytes  # the first content in the stream
    new_variants: list[tuple[Mapping[str, str], bytes]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def _first_content(side: Side, chunk: bytes) -> bool:
    return side.marker in chunk


async def _stream(
    client: httpx.AsyncClient, side: Side, headers: Mapping[str, str], body: bytes
) -> tuple[float, float]:
    """(seconds to the first content, seconds to the end) of one streamed answer."""
    t0 = time.perf_counter()
    first: float | None = None
    seen = b""
    async with client.stream(
        "POST", side.url, headers={**headers, "Content-Type": "application/json"}, content=body
    ) as r:
        if r.status_code != 200:
            raise BenchError(f"{side.name}: {side.url} answered {r.status_code}: {(await r.aread())[:300]!r}")
        async for chunk in r.aiter_bytes():
            if first is None:
                seen = seen[-64:] + chunk
                if _first_content(side, seen):
                    first = time.perf_counter() - t0
    end = time.perf_counter() - t0
    if first is None:
        raise BenchError(f"{side.name}: a stream without content")
    return first, end


def _client() -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    return httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, trust_env=False, limits=limits)


async def one_at_a_time(side: Side, variants: Sequence[tuple[Mapping[str, str], bytes]], n: int) -> list[float]:
    firsts = []
    async with _client() as client:
        for i in range(n + 5):
            headers, body = variants[i % len(variants)]
            first, _ = await _stream(client, side, headers, body)
            if i >= 5:
                firsts.append(first)
    return firsts


async def under_load(side: Side, streams: int, seconds: float) -> tuple[int, float, list[float]]:
    """``streams`` clients, each sending its next request when its answer is complete."""
    firsts: list[float] = []
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker(k: int, client: httpx.AsyncClient) -> None:
        nonlocal done
        i = k
        while time.perf_counter() < stop_at:
            headers, body = side.variants[i % len(side.variants)]
            first, _ = await _stream(client, side, headers, body)
            if time.perf_counter() <= stop_at:
                done += 1
                firsts.append(first)
            i += streams

    async with _client() as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k, client) for k in range(streams)))
        elapsed = time.perf_counter() - t0
    return done, elapsed, firsts


def _p(values: Sequence[float]) -> tuple[float, float]:
    p50, p95, _ = percentiles_ms(values)
    return p50, p95


def measure(side: Side, opts: argparse.Namespace, gen: LoadGenerator, cpu: CpuWatch) -> None:
    print(f"\n{side.name}", flush=True)
    firsts = asyncio.run(one_at_a_time(side, side.variants, opts.samples))
    side.figures["ttft_1"] = _p(firsts)
    print(f"  one at a time: first token p50 {side.figures['ttft_1'][0]:.2f} ms, p95 {side.figures['ttft_1'][1]:.2f}")
    if side.new_variants:
        fresh = asyncio.run(one_at_a_time(side, side.new_variants, opts.samples))
        side.figures["ttft_new"] = _p(fresh)
        print(f"  one at a time, a new question each time: first token p50 {side.figures['ttft_new'][0]:.2f} ms")
    asyncio.run(under_load(side, opts.connections, 1.0))  # warm-up
    before = cpu.snapshot()
    done, elapsed, load_firsts = asyncio.run(under_load(side, opts.connections, opts.duration))
    after = cpu.snapshot()
    use = {k: (after[k] - before[k]) / elapsed for k in before}
    side.figures["load_aps"] = done / elapsed
    side.figures["ttft_load"] = _p(load_firsts)
    side.figures["cpu_per_answer_ms"] = {k: v / (done / elapsed) * 1000 for k, v in use.items()}
    cpus = ", ".join(f"{k} {v:.2f} cores" for k, v in use.items())
    print(
        f"  {opts.connections} streams at once (httpx, this process): {done / elapsed:.1f} answers/s, first token "
        f"p50 {side.figures['ttft_load'][0]:.2f} ms, p95 {side.figures['ttft_load'][1]:.2f}  ({cpus})",
        flush=True,
    )
    target = Target(side.url, "POST", {"Content-Type": "application/json"}, variants=side.variants, count=None)
    result = gen.measure(f"{side.name} (wrk)", side.name, target, opts.connections, opts.duration, 1, cpu)
    side.figures["wrk_aps"] = result.rps
    side.figures["wrk_cpu"] = (result.server_cpu, result.db_cpu)


def _owui_env(data_dir: Path, upstream: str) -> dict[str, str]:
    env = _common.clean_env(
        DATA_DIR=str(data_dir),
        WEBUI_SECRET_KEY=secrets.token_urlsafe(32),
        OPENAI_API_BASE_URL=upstream + "/v1",
        OPENAI_API_KEY="sk-bench",
        ENABLE_OLLAMA_API="false",
        OFFLINE_MODE="true",
        HF_HUB_OFFLINE="1",
        RAG_EMBEDDING_ENGINE="openai",
        GLOBAL_LOG_LEVEL="WARNING",
        ENABLE_VERSION_UPDATE_CHECK="false",
    )
    return env


@contextmanager
def openwebui(opts: argparse.Namespace, workdir: Path, upstream: str) -> Iterator[Server]:
    binary = Path(opts.openwebui) / "bin" / "open-webui"
    if not binary.exists():
        raise BenchError(f"Open WebUI is not installed at {opts.openwebui} (see this script's docstring)")
    port = free_port()
    data_dir = workdir / "openwebui"
    data_dir.mkdir()
    cmd = [str(binary), "serve", "--host", HOST, "--port", str(port)]
    _common.READY_TIMEOUT_S = 300.0  # imports torch, runs its migrations: 1-2 minutes on a busy 2-core VM
    with running_server(
        "Open WebUI", cmd, _owui_env(data_dir, upstream), data_dir, workdir / "openwebui.log", port, "/health"
    ) as s:
        yield s


def _owui_token(base: str) -> str:
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        r = client.post(
            "/api/v1/auths/signup",
            json={"name": "bench", "email": "bench@example.com", "password": "Load-test-pass-123"},
        )
        if r.status_code != 200:
            raise BenchError(f"Open WebUI signup answered {r.status_code}: {r.text[:300]}")
        token = str(r.json()["token"])
        models = client.get("/api/models", headers={"Authorization": f"Bearer {token}"}).json()
        if not any(m.get("id") == "instant" for m in models.get("data", [])):
            raise BenchError(f"Open WebUI does not list the upstream's model: {str(models)[:300]}")
        return token


def _helpline_side(base: str, n_conversations: int) -> Side:
    token = register_and_login(base)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        cids = []
        for _ in range(n_conversations):
            r = client.post("/api/v1/chat/send", json={"message": QUESTION}, headers=auth)
            guarded = (r.json().get("guard") or {}) if r.status_code == 200 else {}
            if r.status_code != 200 or guarded.get("reason") in ("no_source", "language_unsupported"):
                raise BenchError(f"Helpline chat/send did not call the model: {r.status_code} {r.text[:300]}")
            cids.append(int(r.json()["conversation_id"]))
    body = [json.dumps({"message": QUESTION, "conversation_id": c}).encode() for c in cids]
    new = [
        json.dumps({"message": f"{QUESTION} (ref {secrets.token_hex(4)})", "conversation_id": cids[i % len(cids)]})
        for i in range(400)
    ]
    return Side(
        "Helpline /api/v1/chat/stream",
        base + "/api/v1/chat/stream",
        [(auth, b) for b in body],
        b"event: token",
        new_variants=[(auth, b.encode()) for b in new],
    )


def _owui_side(base: str, token: str) -> Side:
    body = json.dumps({"model": "instant", "stream": True, "messages": [{"role": "user", "content": QUESTION}]})
    return Side(
        "Open WebUI /api/chat/completions",
        base + "/api/chat/completions",
        [({"Authorization": f"Bearer {token}"}, body.encode())],
        b'"delta": {"content": "',
    )


def report(sides: list[Side], opts: argparse.Namespace) -> None:
    hl, ow = sides
    print(f"\nHelpline / Open WebUI, one run (load average at the end {os.getloadavg()[0]:.1f})")
    rows = [
        ("first token p50, one at a time (ms; lower is better)", "ttft_1", 0, True),
        ("first token p95, one at a time (ms)", "ttft_1", 1, True),
        (f"first token p50 under {opts.connections} streams (ms)", "ttft_load", 0, True),
        (f"answers/s, {opts.connections} streams, httpx (higher is better)", "load_aps", None, False),
        (f"answers/s, {opts.connections} connections, wrk", "wrk_aps", None, False),
    ]
    for label, key, idx, lower in rows:
        a, b = hl.figures.get(key), ow.figures.get(key)
        if idx is not None:
            a = a[idx] if isinstance(a, tuple) else None
            b = b[idx] if isinstance(b, tuple) else None
        if not isinstance(a, float) or not isinstance(b, float):
            continue
        ratio = b / a if lower else a / b
        print(f"  {label:<58} Helpline {a:8.2f}  Open WebUI {b:8.2f}  Helpline ahead by {ratio:.2f}×")
    for side in sides:
        cpu = side.figures.get("cpu_per_answer_ms", {})
        parts = ", ".join(f"{k} {v:.2f} ms" for k, v in cpu.items())
        print(f"  CPU per answer under load, {side.name}: {parts}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per load, 30 samples one at a time")
    parser.add_argument("--duration", type=int, default=None, help="seconds per load measurement (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="streams at once under load (default 16)")
    parser.add_argument("--openwebui", default=str(HERE / ".openwebui"), help="Open WebUI's venv")
    opts = parser.parse_args()
    opts.duration = opts.duration or (3 if opts.quick else 5)
    opts.samples = 30 if opts.quick else 100
    if shutil.which("wrk") is None:
        print("bench_openwebui: wrk is not installed (make wrk)", file=sys.stderr)
        return 1
    install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="bench-openwebui-"))
    gen = LoadGenerator("wrk", workdir)
    print(f"load average at the start: {os.getloadavg()[0]:.1f}; Open WebUI {OPENWEBUI_VERSION} from {opts.openwebui}")
    try:
        with bare_server(workdir, "bench._instant_upstream:app", "instant upstream", ready_path="/v1/models") as up:
            settings = {
                "HELPLINE_LLM_PROVIDER": "openai",
                "HELPLINE_LLM_BASE_URL": up.base + "/v1",
                "HELPLINE_LLM_API_KEY": "sk-bench",
                "HELPLINE_LLM_MODEL": "instant",
                "HELPLINE_LIMITS_RATE_PER_MINUTE": HUGE,
                "HELPLINE_LIMITS_RATE_PER_HOUR": HUGE,
                "HELPLINE_LIMITS_RATE_PER_DAY": HUGE,
                "HELPLINE_LIMITS_CONVERSATION_MAX_MESSAGES": HUGE,
                "HELPLINE_AUTH_BCRYPT_ROUNDS": "4",
            }
            sides = []
            with helpline_server("Helpline (default configuration, the instant upstream)", settings) as hl:
                side = _helpline_side(hl.base, max(2 * opts.connections, 32))
                measure(side, opts, gen, hl.cpu_watch())
                sides.append(side)
            with openwebui(opts, workdir, up.base) as ow:
                side = _owui_side(ow.base, _owui_token(ow.base))
                measure(side, opts, gen, CpuWatch({"server": [ow.pid]}))
                sides.append(side)
    except BenchError as exc:
        print(f"bench_openwebui: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(sides, opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
