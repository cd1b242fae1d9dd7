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
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import bcrypt
import httpx

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 10.0
# Hard cap per load worker, on top of the time limit.
MAX_REQUESTS_PER_WORKER = 1_000_000

BENCH_EMAIL = "bench@example.com"
# Not "Bench-pass-123": Helpline refuses a password containing the email's local part ("bench").
BENCH_PASSWORD = "Load-test-pass-123"
BARE_ITEM: dict[str, object] = {"name": "widget", "quantity": 3, "tags": ["red", "small"]}
DEFAULT_BCRYPT_ROUNDS = 12
FAST_BCRYPT_ROUNDS = 10

Method = Literal["GET", "POST"]
# (ok responses, failed requests, elapsed seconds, [p50, p95, p99] in ms)
RawLoad = tuple[int, int, float, list[float]]


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    name: str
    server: str
    tool: str
    connections: int
    seconds: float
    ok: int  # 2xx/3xx responses
    failed: int  # other statuses, socket errors, timeouts
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Target:
    url: str
    method: Method = "GET"
    headers: Mapping[str, str] | None = None
    body: bytes | None = None


# -- load generators -----------------------------------------------------------------------


def _lua_string(value: str) -> str:
    if "]==]" in value:
        raise BenchError("value cannot be embedded in the wrk Lua script")
    return f"[==[{value}]==]"


def _wrk_script(target: Target) -> str:
    lines = [f"wrk.method = {_lua_string(target.method)}"]
    for name, value in (target.headers or {}).items():
        # Spaces inside the brackets: "[[" would open a Lua long string.
        lines.append(f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}")
    if target.body is not None:
        lines.append(f"wrk.body = {_lua_string(target.body.decode())}")
    lines.append(
        """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "status": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "timeout": %d, "p50_us": %.1f, "p95_us": %.1f, "p99_us": %.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""
    )
    return "\n".join(lines)


def run_wrk(target: Target, connections: int, seconds: int, workdir: Path) -> RawLoad:
    """(ok, failed, elapsed s, [p50, p95, p99] ms) from one wrk run."""
    script = workdir / "bench.lua"
    script.write_text(_wrk_script(target))
    cmd = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", f"{REQUEST_TIMEOUT_S:g}s",
        "-s", str(script), target.url,
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {' '.join(cmd)}") from None
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-500:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    sock_errors = int(data["connect"]) + int(data["read"]) + int(data["write"]) + int(data["timeout"])
    ok = int(data["requests"]) - int(data["status"])
    failed = int(data["status"]) + sock_errors
    ms = [float(data[k]) / 1000 for k in ("p50_us", "p95_us", "p99_us")]
    return ok, failed, int(data["duration_us"]) / 1e6, ms


async def _httpx_load(target: Target, connections: int, seconds: float) -> RawLoad:
    latencies: list[float] = []
    counts = {"ok": 0, "failed": 0}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            for _ in range(MAX_REQUESTS_PER_WORKER):
                if time.perf_counter() >= deadline:
                    return
                t0 = time.perf_counter()
                try:
                    response = await client.request(
                        target.method, target.url, headers=target.headers, content=target.body
                    )
                except httpx.HTTPError:
                    counts["failed"] += 1
                    await asyncio.sleep(0.01)  # a dead server must not turn this into a busy loop
                    continue
                latencies.append(time.perf_counter() - t0)
                counts["ok" if response.is_success else "failed"] += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    return counts["ok"], counts["failed"], elapsed, percentiles_ms(latencies)


def percentiles_ms(latencies_s: list[float]) -> list[float]:
    if not latencies_s:
        return [float("nan")] * 3
    if len(latencies_s) == 1:
        return [latencies_s[0] * 1000] * 3
    cuts = statistics.quantiles(latencies_s, n=100, method="inclusive")
    return [cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000]


class LoadGenerator:
    def __init__(self, tool: Literal["wrk", "httpx"], workdir: Path) -> None:
        self.tool = tool
        self.workdir = workdir

    def run(self, target: Target, connections: int, seconds: int) -> RawLoad:
        if self.tool == "wrk":
            return run_wrk(target, connections, seconds, self.workdir)
        return asyncio.run(_httpx_load(target, connections, seconds))

    def measure(
        self, name: str, server: str, target: Target, connections: int, seconds: int, warmup: int
    ) -> LoadResult:
        if warmup > 0:
            self.run(target, connections, warmup)
        ok, failed, elapsed, (p50, p95, p99) = self.run(target, connections, seconds)
        result = LoadResult(name, server, self.tool, connections, elapsed, ok, failed, p50, p95, p99)
        note = f"  ({failed} FAILED)" if failed else ""
        print(f"  {name:<34} {result.rps:>9.1f} req/s  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms{note}", flush=True)
        if ok == 0:
            raise BenchError(f"{name}: no successful response (is the endpoint answering 2xx?)")
        return result


# -- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without HELPLINE_* (a developer's settings must not leak in), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env["HELPLINE_ENV_FILE"] = ""  # and no .env file either
    env.update(extra)
    return env


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    # The first admin's one-time password is printed on start: keep it out of our output.
    kept = [ln for ln in text.splitlines() if "password:" not in ln]
    return "\n".join(kept[-lines:])


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (a graceful stop; Helpline stops its PostgreSQL then), escalating if it hangs."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGINT, STOP_TIMEOUT_S), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            print(f"  warning: pid {proc.pid} still running after {sig.name}", file=sys.stderr)


@contextlib.contextmanager
def running_server(
    label: str, cmd: list[str], env: Mapping[str, str], cwd: Path, log_path: Path, port: int, ready_path: str
) -> Iterator[str]:
    """Start ``cmd``, wait until GET ready_path answers 200, yield its base URL, stop it."""
    base = f"http://{HOST}:{port}"
    started = time.perf_counter()
    with log_path.open("wb") as log:
        # Own session: a Ctrl-C on the benchmark reaches us only, and we stop the server in order.
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = started + READY_TIMEOUT_S
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if proc.poll() is not None:
                    raise BenchError(f"{label} exited with {proc.returncode}:\n{_log_tail(log_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(base + ready_path).status_code == 200:
                        break
                if time.perf_counter() > deadline:
                    raise BenchError(f"{label} not ready within {READY_TIMEOUT_S:g} s:\n{_log_tail(log_path)}")
                time.sleep(0.2)
        print(f"  {label} ready on {base} in {time.perf_counter() - started:.1f} s", flush=True)
        yield base
    finally:
        stop_process(proc)


def bare_server(workdir: Path) -> contextlib.AbstractContextManager[str]:
    port = free_port()
    # Helpline's uvicorn settings: one worker, default (auto) loop and http, no server header,
    # proxy headers from 127.0.0.1, uvicorn's access log off (Helpline disables it too).
    cmd = [
        sys.executable, "-m", "uvicorn", "bench._bare_app:app", "--host", HOST, "--port", str(port),
        "--workers", "1", "--log-level", "warning", "--no-access-log", "--no-server-header",
        "--proxy-headers", "--forwarded-allow-ips", HOST,
    ]  # fmt: skip
    return running_server("bare FastAPI", cmd, clean_env(), ROOT, workdir / "bare.log", port, "/ping")


def _helpline_cmd() -> list[str]:
    script = Path(sys.executable).parent / "helpline"
    if script.exists():
        return [str(script)]
    found = shutil.which("helpline")
    return [found] if found else [sys.executable, "-m", "helpline.cli"]


@contextlib.contextmanager
def helpline_server(rounds: int) -> Iterator[tuple[str, Path]]:
    """A fresh Helpline (own data dir, own embedded PostgreSQL) with bcrypt cost ``rounds``."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"helpline-bench-{rounds}-"))
    port = free_port()
    env = clean_env(
        HELPLINE_DATA_DIR=str(data_dir),
        HELPLINE_LOG_LEVEL="WARNING",
        HELPLINE_SECRET_KEY=secrets.token_urlsafe(36),  # 48 characters
        HELPLINE_AUTH_BCRYPT_ROUNDS=str(rounds),
    )
    cmd = [*_helpline_cmd(), "serve", "--port", str(port)]
    try:
        # cwd is the data dir, so no ./var or .env of the checkout is involved.
        with running_server(
            f"Helpline (bcrypt cost {rounds})",
            cmd,
            env,
            data_dir,
            data_dir / "server.log",
            port,
            "/health/ready",
        ) as base:
            yield base, data_dir
    finally:
        if (data_dir / "pg" / "postmaster.pid").exists():
            # The server did not stop its PostgreSQL (killed?): stop it before deleting its files.
            print("  embedded PostgreSQL still running: helpline db-stop", file=sys.stderr)
            subprocess.run(
                [*_helpline_cmd(), "db-stop"],
                env=env,
                cwd=data_dir,
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(data_dir, ignore_errors=True)


# -- Helpline set-up -----------------------------------------------------------------------


def register_and_login(base: str, email: str = BENCH_EMAIL, password: str = BENCH_PASSWORD) -> str:
    """Create the bench account; return an access token."""
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        r = client.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "password": password,
                "data_processing_consent": True,
                "gdpr_consent": True,
            },
        )
        if r.status_code != 201:
            raise BenchError(f"register answered {r.status_code}: {r.text[:300]}")
        r = client.post("/api/v1/auth/login", json={"login": email, "password": password})
        if r.status_code != 200:
            raise BenchError(f"login answered {r.status_code}: {r.text[:300]}")
        token = r.json().get("access_token")
        if not isinstance(token, str):
            raise BenchError("login answered 200 without an access_token")
        r = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 200:
            raise BenchError(f"users/me with a fresh token answered {r.status_code}: {r.text[:300]}")
        return token


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
        with bare_server(workdir) as base:
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
    # A SIGTERM (say, from make or CI) unwinds like Ctrl-C, so the servers are stopped and deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Started as a background job ("cmd &" in a script), we inherit SIGINT ignored, and so would
    # the servers: then the SIGINT that stops them gracefully would do nothing until uvicorn
    # installs its own handler. A Python handler here is reset to the default in each child.
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
