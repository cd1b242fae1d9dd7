"""Where a chat turn's CPU goes: py-spy samples the Helpline server while it answers streamed
turns one at a time, and the samples are grouped into the turn's stages (the table in
bench/README.md, "profile_turn.py").

Run: ``uv run python bench/profile_turn.py [--turns 150] [--moderation local|off] [--phase P] [--keep DIR]``.
Needs py-spy (``uv tool install py-spy``, or any py-spy binary; it is not a project dependency).

One Helpline (fake model, as bench_chat.py runs it; moderation local by default, the default
configuration), one account, a new conversation each turn. Two phases, each under its own recording: a new
question each turn (``… (ref 1a2b3c4d)``: the query embedding and the search run every time), then
the same question again (both cached). For each it prints the server process's CPU per turn (from
/proc: every thread, native ones included), the first-token p50 seen by the client, and the
sampled CPU per turn by stage. A sample's stage is the first rule below whose marker is in its
stack, so a statement's SQLAlchemy and asyncpg frames count for the stage that runs it; what
asyncpg and the event loop do in their own callbacks (reading results off the socket) cannot be
tied to a statement and has a line of its own. Native threads py-spy does not see (the ONNX
embedder's intra-op threads) are the difference between the two totals.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BenchError,
    helpline_server,
    register_and_login,
    tree_cpu_seconds,
    wait_idle,
)

# It reaches the model: with the default reranker (e5) it clears the guard's relevance bar, and no
# FAQ is close enough to be the answer itself. Each turn starts a conversation, so no history
# (follow-up search, "I don't know" hand-overs) changes what a turn does.
QUESTION = "The tracking page says delivered but I have no parcel, what now?"
HUGE = "100000000"
SETTINGS = {
    "HELPLINE_LLM_PROVIDER": "fake",
    "HELPLINE_LIMITS_RATE_PER_MINUTE": HUGE,
    "HELPLINE_LIMITS_RATE_PER_HOUR": HUGE,
    "HELPLINE_LIMITS_RATE_PER_DAY": HUGE,
    "HELPLINE_LIMITS_CONVERSATION_MAX_MESSAGES": HUGE,
    "HELPLINE_AUTH_BCRYPT_ROUNDS": "4",
}

# (stage, markers): a sample belongs to the first stage with a marker in its stack.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("moderation (question and answer)", ("ai/moderation.py", "profanity_check", "sklearn")),
    ("query embedding (ONNX MiniLM, its thread)", ("ai/embeddings/", "onnxruntime", "tokenizers")),
    ("search statement (SQLAlchemy, asyncpg, result)", ("faqs/search.py",)),
    ("grounding, other (query vector cache, deps)", ("chat/grounding.py", "faqs/embeddings.py", "faqs/backends.py")),
    ("question's language (py3langid)", ("question_language", "py3langid")),
    ("guard (answer check)", ("chat/guard.py",)),
    ("prompt (context builder, token counts)", ("build_messages", "ai/context.py", "ai/prompts.py")),
    ("store the question (start_turn statement)", ("start_turn",)),
    ("store the answer (finish_turn statement)", ("finish_turn",)),
    ("rate limit (chat and API)", ("ratelimit.py", "platform/limits.py")),
    ("auth (JWT, caller)", ("helpline/auth/", "core/security.py")),
    ("answer's events (hub, SSE encoding)", ("platform/hub.py", "sse_starlette")),
    ("chat router and service, other", ("helpline/chat/",)),
    ("fake model", ("providers/fake",)),
    ("Helpline middleware", ("helpline/core/", "helpline/platform/")),
    ("metrics (prometheus_client)", ("prometheus_client",)),
    (
        "HTTP: uvicorn, Starlette, FastAPI, Pydantic",
        # uvicorn's protocols, not uvicorn: Server.run is on every stack of the event loop's thread.
        ("uvicorn/protocols", "starlette", "fastapi", "pydantic", "h11", "httptools"),
    ),
    ("driver callbacks (asyncpg protocol, not tied to a statement)", ("asyncpg",)),
    ("Redis client", ("redis/",)),
]
OTHER = "event loop and other (asyncio, uvloop, logging)"


def stage_of(stack: str) -> str:
    for stage, markers in STAGES:
        if any(m in stack for m in markers):
            return stage
    return OTHER


def read_samples(path: Path) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """py-spy's raw (collapsed) output, ``frame;frame;... count`` per line: samples by stage, and
    by the innermost Helpline function on the stack (where in Helpline's code the time goes)."""
    counts: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            counts[stage_of(stack)] += int(n)
            frames = [f for f in stack.split(";") if "helpline/" in f]
            ours[frames[-1].split(" (")[0] + " (" + frames[-1].rsplit("helpline/", 1)[-1] if frames else "-"] += int(n)
    return counts, ours


def _body(message: str) -> dict[str, object]:
    return {"message": message}


async def _turns(base: str, token: str, messages: list[str]) -> list[float]:
    """One streamed turn at a time; seconds to the first token event of each."""
    firsts: list[float] = []
    missed: list[bytes] = []
    headers = {"Authorization": f"Bearer {token}"}
    # The first turns load the models the server loads lazily (the reranker): a minute on a busy VM.
    async with httpx.AsyncClient(base_url=base, timeout=120, trust_env=False) as client:
        for message in messages:
            t0 = time.perf_counter()
            first = None
            async with client.stream("POST", "/api/v1/chat/stream", json=_body(message), headers=headers) as r:
                if r.status_code != 200:
                    raise BenchError(f"chat/stream answered {r.status_code}: {(await r.aread())[:300]!r}")
                body = b""
                async for chunk in r.aiter_bytes():
                    body += chunk
                    if first is None and b"event: token" in body:
                        first = time.perf_counter() - t0
            if b'"model_used": "fake-echo"' not in body:
                missed.append(body[-200:])
            firsts.append(first if first is not None else float("nan"))
    if missed:
        print(f"  note: {len(missed)} of {len(messages)} turns did not reach the model, e.g. {missed[0]!r}")
    return firsts


def _phase(
    label: str, pid: int, base: str, token: str, msgs: list[str], spy: str, rate: int, keep: Path | None = None
) -> None:
    out = Path(tempfile.mkdtemp(prefix="profile-turn-")) / "samples.txt"
    asyncio.run(_turns(base, token, msgs[:10]))  # warm-up
    wait_idle(pid)
    record = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)  # py-spy attaches
    cpu0 = tree_cpu_seconds([pid])
    firsts = asyncio.run(_turns(base, token, msgs[10:]))
    cpu = tree_cpu_seconds([pid]) - cpu0
    time.sleep(0.3)
    record.send_signal(2)  # SIGINT: py-spy writes its file and exits
    _, err = record.communicate(timeout=60)
    if not out.exists():
        raise BenchError(f"py-spy wrote nothing: {err.decode()[-500:]}")
    samples, ours = read_samples(out)
    turns = len(msgs) - 10
    total = sum(samples.values())
    print(f"\n{label}: {turns} turns, one at a time")
    print(f"  first token p50 {statistics.median(firsts) * 1000:.2f} ms (client side)")
    print(f"  server process CPU per turn (all threads, /proc): {cpu / turns * 1000:.3f} ms")
    print(f"  sampled CPU per turn (py-spy at {rate} Hz, Python threads): {total / rate / turns * 1000:.3f} ms")
    print(f"  {'stage':<62}{'ms/turn':>9}{'share':>8}")
    for stage, n in samples.most_common():
        print(f"  {stage:<62}{n / rate / turns * 1000:>9.3f}{n / total:>8.1%}")
    print("  innermost Helpline function on the stack, top 12:")
    for where, n in ours.most_common(12):
        print(f"    {where[:88]:<90}{n / rate / turns * 1000:>9.3f}")
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        kept = keep / ("new.txt" if "new" in label else "same.txt")
        shutil.copyfile(out, kept)
        print(f"  py-spy's samples (collapsed stacks): {kept}")
    shutil.rmtree(out.parent, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=150, help="turns per phase (default 150)")
    parser.add_argument("--moderation", choices=["local", "off"], default="local")
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second (default 1000)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="the py-spy binary (default: on PATH)")
    parser.add_argument("--phase", choices=["both", "new", "same"], default="both", help="which phases to run")
    parser.add_argument("--keep", type=Path, help="keep py-spy's samples in this directory (new.txt, same.txt)")
    args = parser.parse_args()
    if not args.py_spy or not os.access(args.py_spy, os.X_OK):
        print("profile_turn: py-spy not found (uv tool install py-spy, or --py-spy PATH)", file=sys.stderr)
        return 1
    settings = {**SETTINGS, "HELPLINE_MODERATION_PROVIDER": args.moderation}
    with helpline_server(f"Helpline (fake model, moderation {args.moderation})", settings) as hl:
        token = register_and_login(hl.base)
        n = args.turns + 10
        new = [f"{QUESTION} (ref {secrets.token_hex(4)})" for _ in range(n)]
        same = [QUESTION] * n
        print(json.dumps({"moderation": args.moderation, "load": os.getloadavg()}))
        if args.phase in ("both", "new"):
            _phase("A new question each turn", hl.pid, hl.base, token, new, args.py_spy, args.rate, args.keep)
        if args.phase in ("both", "same"):
            _phase(
                "The same question again (embedding and search cached)",
                hl.pid,
                hl.base,
                token,
                same,
                args.py_spy,
                args.rate,
                args.keep,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
