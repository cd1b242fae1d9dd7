"""Cross-instance delivery: how long an answer's event takes from the hub of the instance that
generates it (A) to a user's WebSocket on another instance (B), through Redis, against the same
event reaching the user's socket on A itself (same-instance delivery, the baseline), measured on
the same events in the same run: idle, then under concurrent traffic.

Two "instances" are two uvicorn processes of bench/_hub_node.py: Helpline's Redis generation hub
behind a socket that forwards events as the chat socket does (bounded Listener, chat.ws.frame,
send_json). Probe users have one socket on A and one on B; A publishes their answers' tokens,
each carrying its publication time, and the client records when each frame arrives on each
socket (one machine, one clock). The load: ``--load-users`` other users with sockets on both
instances, and ``--load-streams`` answers being generated at any moment, alternately on A and
B, each token every 10 ms (about 100 events a second per stream, each delivered on both
instances). A also PUBLISHes each token's time as is, which the client receives straight from
Redis: the floor of one Redis pub/sub hop, without the hub. Target (issue 20): cross-instance p99
under 50 ms under load.

Run: ``uv run python bench/bench_ws_fanout.py [--redis URL] [--probes 20] [--events 50]
[--load-users 200] [--load-streams 10] [--rounds 5] [--no-gc-freeze]`` (``--redis``: a database it
uses under its own key prefix, default ``redis://127.0.0.1:6379/9``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import websockets
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import bare_server, install_signal_handlers


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def open_socket(host: str, user_id: int) -> ClientConnection:
    ws = await websockets.connect(f"ws://{host}/ws/{user_id}", proxy=None, ping_interval=None, open_timeout=30)
    ready = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert ready["type"] == "ready", ready
    return ws


async def latencies(ws: ClientConnection, into: list[float]) -> None:
    """Each token's delay (ms) from its publication to its arrival here, until the final frame."""
    while True:
        frame = json.loads(await ws.recv())
        now = time.time()
        if frame["type"] == "token":
            into.append((now - float(frame["content"])) * 1000)
        elif frame["type"] == "response":
            return


async def drain(ws: ClientConnection) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in ws:
            pass


async def raw_hop(redis: Redis, prefix: str, expected: int, into: list[float], subscribed: asyncio.Event) -> None:
    """The floor: the same times PUBLISHed as is by A, received here straight from Redis."""
    pubsub = redis.pubsub()
    await pubsub.psubscribe(f"{prefix}:raw:*")
    try:
        subscribed.set()
        async with asyncio.timeout(120):
            while len(into) < expected:
                # None also for the subscription's confirmation: then read on.
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30)
                if message is not None:
                    into.append((time.time() - float(message["data"])) * 1000)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def probe(
    http_a: httpx.AsyncClient, a: str, b: str, users: range, events: int, redis: Redis, prefix: str
) -> tuple[list[float], list[float], list[float]]:
    """Every probe user's answer published on A: (same-instance, cross-instance, raw Redis hop)
    latencies."""
    same: list[float] = []
    cross: list[float] = []
    raw: list[float] = []
    subscribed = asyncio.Event()
    floor = asyncio.create_task(raw_hop(redis, prefix, len(users) * events, raw, subscribed))
    await asyncio.wait_for(subscribed.wait(), 30)

    async def one(user_id: int) -> None:
        on_a, on_b = await open_socket(a, user_id), await open_socket(b, user_id)
        try:
            readers = [asyncio.create_task(latencies(on_a, same)), asyncio.create_task(latencies(on_b, cross))]
            r = await http_a.post(f"/publish/{user_id}", params={"events": events, "interval_ms": 10, "raw": True})
            r.raise_for_status()
            await asyncio.wait_for(asyncio.gather(*readers), 60)
        finally:
            await on_a.close()
            await on_b.close()

    await asyncio.gather(*(one(u) for u in users))
    await asyncio.wait_for(floor, 30)
    return same, cross, raw


async def load(https: list[httpx.AsyncClient], users: list[int], streams: int, stop: asyncio.Event) -> int:
    """``streams`` answers generated at all times, alternately on each instance; events published."""
    published = 0
    turn = itertools.count()

    async def stream() -> None:
        nonlocal published
        while not stop.is_set():
            i = next(turn)
            r = await https[i % 2].post(f"/publish/{users[i % len(users)]}", params={"events": 20, "interval_ms": 10})
            r.raise_for_status()
            published += 20

    await asyncio.gather(*(stream() for _ in range(streams)))
    return published


def row(name: str, samples: list[float], floor: list[float] | None) -> None:
    p50, p95, p99 = (pct(samples, q) for q in (0.50, 0.95, 0.99))
    ratio = f"{p99 / max(pct(floor, 0.99), 1e-9):.1f}x" if floor else ""
    print(f"| {name} | {len(samples):,} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {ratio} |", flush=True)


async def run(a: str, b: str, args: argparse.Namespace, prefix: str) -> None:
    base = 1_000_000 + (uuid.uuid4().int % 1_000_000) * 1000
    probes = range(base, base + args.probes)
    load_users = list(range(base + 500, base + 500 + args.load_users))
    limits = httpx.Limits(max_connections=args.load_streams + args.probes + 10)
    async with (
        httpx.AsyncClient(base_url=f"http://{a}", timeout=60, limits=limits, trust_env=False) as http_a,
        httpx.AsyncClient(base_url=f"http://{b}", timeout=60, limits=limits, trust_env=False) as http_b,
    ):
        redis = Redis.from_url(args.redis)
        await probe(http_a, a, b, probes, 5, redis, prefix)  # warm-up: connections, subscriptions, code paths

        async def rounds() -> tuple[list[float], list[float], list[float]]:
            """``--rounds`` probes one after the other: the percentiles cover seconds, not the half
            second one probe lasts (where one stall of any process would be the whole p99)."""
            same: list[float] = []
            cross: list[float] = []
            raw: list[float] = []
            for _ in range(args.rounds):
                got = await probe(http_a, a, b, probes, args.events, redis, prefix)
                for into, samples in zip((same, cross, raw), got, strict=True):
                    into.extend(samples)
            return same, cross, raw

        idle_same, idle_cross, idle_raw = await rounds()

        sockets = [await open_socket(host, u) for u in load_users for host in (a, b)]
        cpu_before = [(await http.get("/gc")).json()["cpu_seconds"] for http in (http_a, http_b)]
        drains = [asyncio.create_task(drain(ws)) for ws in sockets]
        stop = asyncio.Event()
        started = time.perf_counter()
        loader = asyncio.create_task(load([http_a, http_b], load_users, args.load_streams, stop))
        await asyncio.sleep(2)  # the load reaches its pace
        busy_same, busy_cross, busy_raw = await rounds()
        stop.set()
        published = await loader
        seconds = time.perf_counter() - started
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*drains, return_exceptions=True)
        await redis.aclose()
        seen = [(await http.get("/gc")).json() for http in (http_a, http_b)]

    print(f"\nLoad: {published:,} events published in {seconds:.1f} s ({published / seconds:,.0f}/s, each delivered "
          f"to a socket on A and on B), {len(sockets):,} load sockets open.\n")  # fmt: skip
    print("| delivery, ms from publication on A | events | p50 | p95 | p99 | p99 vs same-instance |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    row("same instance (A's socket), idle", idle_same, None)
    row("one Redis hop, no hub (A PUBLISHes, this client SUBSCRIBEs), idle", idle_raw, idle_same)
    row("cross-instance (B's socket, via Redis), idle", idle_cross, idle_same)
    row("same instance, under load", busy_same, None)
    row("one Redis hop, no hub, under load", busy_raw, busy_same)
    row("cross-instance, under load", busy_cross, busy_same)
    for name, node, cpu in zip(("A", "B"), seen, cpu_before, strict=True):
        full = node["collections"]["2"]
        per_event = (node["cpu_seconds"] - cpu) * 1e6 / max(published + len(busy_cross), 1)
        print(f"Instance {name} ({node['parser']} parser): {per_event:.0f} µs of CPU per event published under load; "
              f"{node['frozen']:,} objects frozen after start; "
              f"{full[0]} full collections, longest {full[2]:.1f} ms, together {full[1]:.1f} ms; "
              f"{node['collections']['0'][0] + node['collections']['1'][0]} young ones, "
              f"together {node['collections']['0'][1] + node['collections']['1'][1]:.1f} ms.")  # fmt: skip
    p99 = pct(busy_cross, 0.99)
    verdict = "met" if p99 < 50 else "MISSED"
    added = statistics.median(busy_cross) - statistics.median(busy_same)
    print(f"\nTarget cross-instance p99 under 50 ms under load: {verdict} ({p99:.1f} ms; "
          f"median added by the Redis hop {added:.1f} ms).")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--probes", type=int, default=20, help="probe users (a socket on A and on B each)")
    parser.add_argument("--events", type=int, default=50, help="tokens per probe answer")
    parser.add_argument("--load-users", type=int, default=200)
    parser.add_argument("--load-streams", type=int, default=10, help="answers generated at once under load")
    parser.add_argument("--rounds", type=int, default=5, help="probes one after the other, idle and under load")
    parser.add_argument(
        "--no-gc-freeze", action="store_true", help="leave out the instances' gc.freeze() after start (to compare)"
    )
    args = parser.parse_args()
    install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="helpline-bench-fanout-"))
    env = {
        "BENCH_REDIS_URL": args.redis,
        "BENCH_PREFIX": f"hlbench:{uuid.uuid4().hex[:8]}",
        "BENCH_GC_FREEZE": "0" if args.no_gc_freeze else "1",
    }
    print(f"Cross-instance delivery through {args.redis}: {args.rounds} rounds of {args.probes} probe users "
          f"x {args.events} tokens, {args.load_users} load users, {args.load_streams} answers at once under load",
          flush=True)  # fmt: skip
    for name in ("a", "b"):
        (workdir / name).mkdir()
    # As `helpline serve` runs its sockets (core/server.py: no permessage-deflate).
    keep = ["--timeout-keep-alive", "600", "--ws-per-message-deflate", "false"]
    with (
        # Kept-alive connections stay open between the phases (uvicorn closes idle ones after 5 s,
        # which races with a request sent on one at that moment).
        bare_server(workdir / "a", app="bench._hub_node:app", label="instance A", env=env, uvicorn_args=keep) as a,
        bare_server(workdir / "b", app="bench._hub_node:app", label="instance B", env=env, uvicorn_args=keep) as b,
    ):
        asyncio.run(run(a.base.removeprefix("http://"), b.base.removeprefix("http://"), args, env["BENCH_PREFIX"]))


if __name__ == "__main__":
    main()
