"""Throughput of Helpline's auth paths against a bare FastAPI baseline, in one run.

Run: ``uv run python bench/bench_auth.py [--duration S] [--quick]``. Prints figures only;
nothing here asserts on timing. What it does, one server at a time (this is a 2-core box):

1. a bare FastAPI app (bench/_bare_app.py) under uvicorn: ``GET /ping`` and ``POST /items``
   (a small Pydantic body), the baseline;
2. a real Helpline server (``helpline serve``, embedded PostgreSQL in a temp dir) with
   bcrypt cost 12 (the default): ``GET /health`` (middleware only, no database),
   ``GET /api/v1/users/me`` with a valid access token, ``POST /api/v1/auth/login``;
3. a second, fresh Helpline server with ``HELPLINE_AUTH_BCRYPT_ROUNDS=10``: the login again.

Load comes from ``wrk`` (one thread, keep-alive connections; a Lua script sets the method,
body and headers and prints the percentiles) when it is installed, otherwise from an
asyncio httpx client in this process, which is much slower itself: the figures say which.
All traffic goes to 127.0.0.1; every load loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import bcrypt

# Run as a script, this file's folder is on sys.path, not the checkout that holds "bench".
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BENCH_EMAIL,
    BENCH_PASSWORD,
    BenchError,
    LoadGenerator,
    LoadResult,
    Target,
    bare_server,
    install_signal_handlers,
    register_and_login,
)
from bench._common import helpline_server as _helpline_server

BARE_ITEM: dict[str, object] = {"name": "widget", "quantity": 3, "tags": ["red", "small"]}
DEFAULT_BCRYPT_ROUNDS = 12
FAST_BCRYPT_ROUNDS = 10


@contextlib.contextmanager
def helpline_server(rounds: int) -> Iterator[tuple[str, Path]]:
    """A fresh Helpline (own data dir, own embedded PostgreSQL) with bcrypt cost ``rounds``."""
    with _helpline_server(
        f"Helpline (bcrypt cost {rounds})",
        {"HELPLINE_AUTH_BCRYPT_ROUNDS": str(rounds)},
        prefix=f"helpline-bench-{rounds}-",
    ) as server:
        yield server.base, server.data_dir


def stored_bcrypt_cost(data_dir: Path, email: str) -> int | None:
    """The cost in the account's stored hash (what a login really pays), read from the database."""
    try:
        import asyncpg

        from helpline.core.embedded_pg import EmbeddedPostgres

        socket_dir = EmbeddedPostgres(data_dir / "pg").socket_dir()

        async def query() -> object:
            conn = await asyncpg.connect(host=str(socket_dir), user="postgres", database="postgres", timeout=5)
            try:
                return await conn.fetchval("SELECT hashed_password FROM users WHERE email = $1", email)
            finally:
                await conn.close()

        hashed = asyncio.run(query())
        return int(str(hashed).split("$")[2])  # $2b$12$...
    except Exception as exc:
        print(f"  (could not read the stored hash: {type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def bcrypt_reference(rounds: int, repeat: int) -> float:
    """Median seconds of one bcrypt.checkpw at ``rounds`` in this process (one core)."""
    hashed = bcrypt.hashpw(BENCH_PASSWORD.encode(), bcrypt.gensalt(rounds))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        bcrypt.checkpw(BENCH_PASSWORD.encode(), hashed)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# -- the run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    duration: int
    warmup: int
    connections: int
    login_connections: int
    tool: Literal["wrk", "httpx"]


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=None, help="seconds per measurement (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 s per measurement, 1 s warm-up")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    # bcrypt runs in threads: one login per core is its full throughput. More only queues, and
    # on this kind of VM oversubscribed threads make the figures erratic.
    parser.add_argument(
        "--login-connections",
        type=int,
        default=os.cpu_count() or 2,
        help="concurrent connections for login (default: one per CPU)",
    )
    parser.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "httpx"],
        default="auto",
        help="load generator (default: wrk if found)",
    )
    args = parser.parse_args(argv)
    duration = args.duration if args.duration is not None else (2 if args.quick else 5)
    if duration < 1 or args.connections < 1 or args.login_connections < 1:
        parser.error("--duration and connection counts must be at least 1")
    if duration > 120:
        parser.error("--duration is capped at 120 s")
    tool: Literal["wrk", "httpx"]
    if args.loadgen == "httpx" or (args.loadgen == "auto" and shutil.which("wrk") is None):
        tool = "httpx"
    elif shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install -y wrk)")
    else:
        tool = "wrk"
    return Options(duration, 1 if (args.quick or duration < 5) else 2, args.connections, args.login_connections, tool)


def login_target(base: str) -> Target:
    body = json.dumps({"login": BENCH_EMAIL, "password": BENCH_PASSWORD}).encode()
    return Target(base + "/api/v1/auth/login", "POST", {"Content-Type": "application/json"}, body)


def run(opts: Options) -> list[LoadResult]:
    results: list[LoadResult] = []
    workdir = Path(tempfile.mkdtemp(prefix="helpline-bench-"))
    gen = LoadGenerator(opts.tool, workdir)
    conns, login_conns, secs, warm = opts.connections, opts.login_connections, opts.duration, opts.warmup
    try:
        print("bare FastAPI (bench/_bare_app.py)", flush=True)
        with bare_server(workdir) as bare:
            base = bare.base
            results.append(gen.measure("GET /ping", "bare", Target(base + "/ping"), conns, secs, warm))
            body = json.dumps(BARE_ITEM).encode()
            post = Target(base + "/items", "POST", {"Content-Type": "application/json"}, body)
            results.append(gen.measure("POST /items (pydantic body)", "bare", post, conns, secs, warm))

        for rounds in (DEFAULT_BCRYPT_ROUNDS, FAST_BCRYPT_ROUNDS):
            server = f"helpline-{rounds}"
            print(f"\nHelpline, HELPLINE_AUTH_BCRYPT_ROUNDS={rounds}", flush=True)
            with helpline_server(rounds) as (base, data_dir):
                token = register_and_login(base)
                cost = stored_bcrypt_cost(data_dir, BENCH_EMAIL)
                print(f"  stored hash of {BENCH_EMAIL}: bcrypt cost {cost if cost else 'unknown'}", flush=True)
                if rounds == DEFAULT_BCRYPT_ROUNDS:
                    results.append(
                        gen.measure("GET /health (no db)", server, Target(base + "/health"), conns, secs, warm)
                    )
                    me = Target(base + "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
                    results.append(gen.measure("GET /api/v1/users/me", server, me, conns, secs, warm))
                name = f"POST /api/v1/auth/login (cost {cost or rounds})"
                results.append(gen.measure(name, server, login_target(base), login_conns, secs, warm))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def report(results: list[LoadResult], opts: Options, ref: dict[int, float], total_s: float) -> None:
    print(f"\nResults ({opts.tool}, {opts.duration} s per measurement, {os.cpu_count()} CPUs, all on 127.0.0.1)")
    header = (
        f"{'measurement':<34} {'server':<12} {'conns':>5} {'req/s':>9} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'fail':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<34} {r.server:<12} {r.connections:>5} {r.rps:>9.1f} "
            f"{r.p50_ms:>8.2f} {r.p95_ms:>8.2f} {r.p99_ms:>8.2f} {r.failed:>5}"
        )

    by_key = {(r.server, r.name.split(" (")[0]): r.rps for r in results}
    bare_get = by_key.get(("bare", "GET /ping"))
    bare_post = by_key.get(("bare", "POST /items"))
    health = by_key.get((f"helpline-{DEFAULT_BCRYPT_ROUNDS}", "GET /health"))
    me = by_key.get((f"helpline-{DEFAULT_BCRYPT_ROUNDS}", "GET /api/v1/users/me"))
    login12 = by_key.get((f"helpline-{DEFAULT_BCRYPT_ROUNDS}", "POST /api/v1/auth/login"))
    login10 = by_key.get((f"helpline-{FAST_BCRYPT_ROUNDS}", "POST /api/v1/auth/login"))
    ratios = [
        ("Helpline GET /health / bare GET", health, bare_get),
        ("Helpline GET users/me / bare GET", me, bare_get),
        ("Helpline GET users/me / Helpline GET /health", me, health),
        (f"login cost {DEFAULT_BCRYPT_ROUNDS} / bare POST", login12, bare_post),
        (f"login cost {FAST_BCRYPT_ROUNDS} / bare POST", login10, bare_post),
        (f"login cost {FAST_BCRYPT_ROUNDS} / login cost {DEFAULT_BCRYPT_ROUNDS}", login10, login12),
    ]
    print("\nRatios (req/s over req/s)")
    if opts.tool == "httpx":
        print("  (httpx client: it saturates before the fast servers do, so ratios of fast endpoints are low)")
    for label, num, den in ratios:
        value = f"{num / den:.4f}" if num and den else "n/a"
        print(f"  {label:<46} {value:>8}")

    cpus = os.cpu_count() or 1
    print("\nbcrypt.checkpw in one thread here: ", end="")
    print(", ".join(f"cost {k}: {v * 1000:.0f} ms" for k, v in sorted(ref.items(), reverse=True)), end="")
    print(f"  (login ceiling with {cpus} cores: ", end="")
    print(", ".join(f"cost {k} ~{cpus / v:.1f}/s" for k, v in sorted(ref.items(), reverse=True)) + ")")
    print(f"Total wall time: {total_s:.0f} s")


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    started = time.perf_counter()
    print(
        f"Helpline auth benchmark: load generator {opts.tool}, {opts.duration} s per measurement "
        f"(+{opts.warmup} s warm-up), {opts.connections} connections ({opts.login_connections} for login)",
        flush=True,
    )
    if opts.tool == "httpx":
        print("  note: wrk not used; the in-process httpx client is itself a bottleneck on 2 cores", flush=True)
    install_signal_handlers()
    ref = {r: bcrypt_reference(r, 3) for r in (DEFAULT_BCRYPT_ROUNDS, FAST_BCRYPT_ROUNDS)}
    try:
        results = run(opts)
    except BenchError as exc:
        print(f"bench_auth: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench_auth: interrupted (servers stopped)", file=sys.stderr)
        return 130
    report(results, opts, ref, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
