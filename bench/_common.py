"""What the benchmarks share: servers (a bare uvicorn app, a real Helpline on a temp data dir),
load generation (wrk, or an asyncio httpx client), CPU accounting, percentiles, account set-up.

Every server listens on 127.0.0.1 only and is stopped (and its temp dir deleted) when its
``with`` block ends; every load loop is bounded in time and count.
"""

from __future__ import annotations

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import asyncpg
import httpx

from helpline.core.config import DEFAULT_RULES

if TYPE_CHECKING:
    from helpline.core.embedded_pg import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_TIMEOUT_S = float(os.environ.get("BENCH_READY_TIMEOUT_S", "60"))  # longer on a busy shared machine
STOP_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = float(os.environ.get("BENCH_REQUEST_TIMEOUT_S", "10"))
# Hard cap per load worker, on top of the time limit.
MAX_REQUESTS_PER_WORKER = 1_000_000

# Every default API rate-limit rule (core/config.py DEFAULT_RULES), far above any load here.
UNLIMITED_RULES = json.dumps(dict.fromkeys(DEFAULT_RULES, "1000000000/minute"))

BENCH_EMAIL = "bench@example.com"
# Not "Bench-pass-123": Helpline refuses a password containing the email's local part ("bench").
BENCH_PASSWORD = "Load-test-pass-123"

Method = Literal["GET", "POST"]
Tool = Literal["wrk", "httpx"]


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


def install_signal_handlers() -> None:
    """A SIGTERM (say, from make or CI) unwinds like Ctrl-C, so the servers are stopped and deleted.

    Started as a background job ("cmd &" in a script), we inherit SIGINT ignored, and so would
    the servers: then the SIGINT that stops them gracefully would do nothing until uvicorn
    installs its own handler. A Python handler here is reset to the default in each child."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawLoad:
    ok: int  # 2xx/3xx responses
    failed: int  # other statuses, socket errors, timeouts
    seconds: float
    percentiles_ms: list[float]  # p50, p95, p99
    counted: int = 0  # occurrences of Target.count in the ok response bodies


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
    counted: int = 0
    server_cpu: float | None = None  # CPU seconds per wall second of the server's processes
    db_cpu: float | None = None  # the same for its PostgreSQL (Helpline only)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def counted_per_s(self) -> float:
        return self.counted / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Target:
    url: str
    method: Method = "GET"
    headers: Mapping[str, str] | None = None
    body: bytes | None = None
    # Rotated per request (request i sends variants[i % n]): extra headers and body of each.
    variants: Sequence[tuple[Mapping[str, str], bytes]] = ()
    # Count the occurrences of this text in the successful responses' bodies (e.g. SSE events).
    count: str | None = None


# -- CPU accounting ------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a live process, from /proc (Linux only)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def tree_cpu_seconds(root_pids: Sequence[int]) -> float:
    """CPU seconds used so far by these processes and their live children (not grandchildren)."""
    roots = set(root_pids)
    total = 0.0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            stat = _proc_stat(int(entry.name))
            if stat is not None and (int(entry.name) in roots or stat[0] in roots):
                total += stat[1]
    return total


@dataclass
class CpuWatch:
    """CPU used by groups of processes (the server, its PostgreSQL) across a measurement."""

    groups: dict[str, list[int]] = field(default_factory=dict)

    def snapshot(self) -> dict[str, float]:
        return {name: tree_cpu_seconds(pids) for name, pids in self.groups.items()}


# -- load generators -----------------------------------------------------------------------


def _lua_string(value: str) -> str:
    if "]==]" in value:
        raise BenchError("value cannot be embedded in the wrk Lua script")
    return f"[==[{value}]==]"


def _lua_table(mapping: Mapping[str, str]) -> str:
    # Spaces inside the brackets: "[[" would open a Lua long string.
    return "{" + ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in mapping.items()) + "}"


_WRK_VARIANTS = """
local variants = {%s}
local prepared = {}
local sent = 0
function init(args)
  for i, v in ipairs(variants) do
    local headers = {}
    for k, value in pairs(wrk.headers) do headers[k] = value end
    for k, value in pairs(v.headers) do headers[k] = value end
    prepared[i] = wrk.format(nil, nil, headers, v.body)
  end
end
function request()
  sent = sent + 1
  return prepared[(sent %% #prepared) + 1]
end
"""

_WRK_COUNT = """
counted = 0
function response(status, headers, body)
  if status < 400 and body then
    local pos = 1
    while true do
      local s, e = string.find(body, %s, pos, true)
      if not s then break end
      counted = counted + 1
      pos = e + 1
    end
  end
end
"""

_WRK_DONE = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local e = summary.errors
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("counted") or 0) end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "status": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "timeout": %d, "p50_us": %.1f, "p95_us": %.1f, "p99_us": %.1f, "counted": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), total))
end
"""


def _wrk_script(target: Target) -> str:
    lines = [f"wrk.method = {_lua_string(target.method)}"]
    for name, value in (target.headers or {}).items():
        lines.append(f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}")
    if target.body is not None:
        lines.append(f"wrk.body = {_lua_string(target.body.decode())}")
    if target.variants:
        items = ", ".join(
            f"{{headers = {_lua_table(headers)}, body = {_lua_string(body.decode())}}}"
            for headers, body in target.variants
        )
        lines.append(_WRK_VARIANTS % items)
    if target.count is not None:
        lines.append(_WRK_COUNT % _lua_string(target.count))
    lines.append(_WRK_DONE)
    return "\n".join(lines)


def run_wrk(target: Target, connections: int, seconds: int, workdir: Path) -> RawLoad:
    """One wrk run (one thread, keep-alive connections)."""
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
    return RawLoad(ok, failed, int(data["duration_us"]) / 1e6, ms, int(data["counted"]))


async def _httpx_load(target: Target, connections: int, seconds: float) -> RawLoad:
    latencies: list[float] = []
    counts = {"ok": 0, "failed": 0, "counted": 0, "sent": 0}
    variants = list(target.variants) or [({}, target.body or b"")]
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            for _ in range(MAX_REQUESTS_PER_WORKER):
                if time.perf_counter() >= deadline:
                    return
                extra, body = variants[counts["sent"] % len(variants)]
                counts["sent"] += 1
                headers = {**(target.headers or {}), **extra}
                content = body if (target.variants or target.body is not None) else None
                t0 = time.perf_counter()
                try:
                    response = await client.request(target.method, target.url, headers=headers, content=content)
                except httpx.HTTPError:
                    counts["failed"] += 1
                    await asyncio.sleep(0.01)  # a dead server must not turn this into a busy loop
                    continue
                latencies.append(time.perf_counter() - t0)
                counts["ok" if response.is_success else "failed"] += 1
                if target.count is not None and response.is_success:
                    counts["counted"] += response.text.count(target.count)

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    return RawLoad(counts["ok"], counts["failed"], elapsed, percentiles_ms(latencies), counts["counted"])


def percentiles_ms(latencies_s: Sequence[float]) -> list[float]:
    """[p50, p95, p99] in milliseconds (NaN when there is no sample)."""
    if not latencies_s:
        return [float("nan")] * 3
    if len(latencies_s) == 1:
        return [latencies_s[0] * 1000] * 3
    cuts = statistics.quantiles(latencies_s, n=100, method="inclusive")
    return [cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000]


class LoadGenerator:
    def __init__(self, tool: Tool, workdir: Path) -> None:
        self.tool = tool
        self.workdir = workdir

    def run(self, target: Target, connections: int, seconds: int) -> RawLoad:
        if self.tool == "wrk":
            return run_wrk(target, connections, seconds, self.workdir)
        return asyncio.run(_httpx_load(target, connections, seconds))

    def measure(
        self,
        name: str,
        server: str,
        target: Target,
        connections: int,
        seconds: int,
        warmup: int,
        cpu: CpuWatch | None = None,
        require_ok: bool = True,
    ) -> LoadResult:
        """One measurement after a warm-up; ``cpu`` adds the server's CPU use. With ``require_ok``
        a measurement without a single successful response is an error."""
        if warmup > 0:
            self.run(target, connections, warmup)
        before = cpu.snapshot() if cpu else {}
        raw = self.run(target, connections, seconds)
        after = cpu.snapshot() if cpu else {}
        usage = {k: (after[k] - before[k]) / raw.seconds for k in before} if raw.seconds > 0 else {}
        p50, p95, p99 = raw.percentiles_ms
        result = LoadResult(
            name, server, self.tool, connections, raw.seconds, raw.ok, raw.failed, p50, p95, p99,
            raw.counted, usage.get("server"), usage.get("db"),
        )  # fmt: skip
        note = f"  ({raw.failed} FAILED)" if raw.failed else ""
        print(f"  {name:<34} {result.rps:>9.1f} req/s  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms{note}", flush=True)
        if raw.ok == 0 and require_ok:
            raise BenchError(f"{name}: no successful response (is the endpoint answering 2xx?)")
        return result


# -- servers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    base: str  # http://127.0.0.1:PORT
    pid: int


@dataclass(frozen=True)
class HelplineServer:
    base: str
    pid: int
    data_dir: Path

    def postmaster_pid(self) -> int | None:
        """The embedded PostgreSQL's main process (its backends are its children)."""
        try:
            return int((self.data_dir / "pg" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cpu_watch(self, server_pid: int | None = None) -> CpuWatch:
        """The CPU of ``server_pid`` (default: this Helpline) and of this embedded PostgreSQL."""
        pg = self.postmaster_pid()
        return CpuWatch({"server": [server_pid or self.pid], **({"db": [pg]} if pg else {})})

    def _pg(self) -> EmbeddedPostgres:
        from helpline.core.embedded_pg import EmbeddedPostgres

        return EmbeddedPostgres(self.data_dir / "pg")

    def socket_dir(self) -> Path:
        return self._pg().socket_dir()

    def url(self, database: str = "postgres") -> str:
        """This embedded PostgreSQL's SQLAlchemy URL, as the app makes it (Unix socket, superuser)."""
        return self._pg().url(database)

    def dsn(self, database: str = "postgres") -> str:
        """The same for asyncpg and libpq (no SQLAlchemy driver name)."""
        return self.url(database).replace("postgresql+asyncpg://", "postgresql://", 1)

    async def connect(self, database: str = "postgres") -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn(database), timeout=10)


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


def wait_idle(pid: int, idle_share: float = 0.05, limit_s: float = 600.0) -> float:
    """Wait until the server ``pid`` (and its children) idles, below ``idle_share`` of a core for
    a second; returns the seconds waited. After a start Helpline embeds the knowledge base's
    passages for the reranker in the background (faqs.rerank.warm_passages): seconds to minutes
    of CPU, on a thread of the server, that a measurement begun at once would count as its own."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        before = tree_cpu_seconds([pid])
        time.sleep(1.0)
        if tree_cpu_seconds([pid]) - before < idle_share:
            break
    waited = time.monotonic() - t0
    if waited > 1.5:
        print(f"  (waited {waited:.0f} s for the server's background work to end)", flush=True)
    return waited


def log_tail(path: Path, lines: int = 25) -> str:
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
) -> Iterator[Server]:
    """Start ``cmd``, wait until GET ready_path answers 200, yield it, stop it."""
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
                    raise BenchError(f"{label} exited with {proc.returncode}:\n{log_tail(log_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(base + ready_path).status_code == 200:
                        break
                if time.perf_counter() > deadline:
                    raise BenchError(f"{label} not ready within {READY_TIMEOUT_S:g} s:\n{log_tail(log_path)}")
                time.sleep(0.2)
        print(f"  {label} ready on {base} in {time.perf_counter() - started:.1f} s", flush=True)
        yield Server(base, proc.pid)
    finally:
        stop_process(proc)


def bare_server(
    workdir: Path,
    app: str = "bench._bare_app:app",
    label: str = "bare FastAPI",
    ready_path: str = "/ping",
    env: Mapping[str, str] | None = None,
    uvicorn_args: Sequence[str] = (),
) -> contextlib.AbstractContextManager[Server]:
    """A bare app (``module:attribute`` importable from the checkout) under uvicorn, with ``env``
    added to its environment and ``uvicorn_args`` to its command line."""
    port = free_port()
    # Helpline's uvicorn settings: one worker, default (auto) loop and http, no server header,
    # proxy headers from 127.0.0.1, uvicorn's access log off (Helpline disables it too).
    cmd = [
        sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port),
        "--workers", "1", "--log-level", "warning", "--no-access-log", "--no-server-header",
        "--proxy-headers", "--forwarded-allow-ips", HOST, *uvicorn_args,
    ]  # fmt: skip
    log_name = app.split(":")[0].rsplit(".", 1)[-1].lstrip("_") + ".log"
    return running_server(label, cmd, clean_env(**(env or {})), ROOT, workdir / log_name, port, ready_path)


def helpline_cmd() -> list[str]:
    script = Path(sys.executable).parent / "helpline"
    if script.exists():
        return [str(script)]
    found = shutil.which("helpline")
    return [found] if found else [sys.executable, "-m", "helpline.cli"]


@contextlib.contextmanager
def helpline_server(
    label: str, settings: Mapping[str, str], prefix: str = "helpline-bench-", data_dir: Path | None = None
) -> Iterator[HelplineServer]:
    """A Helpline with these HELPLINE_* settings (a random secret key unless they set one) and its
    own embedded PostgreSQL: in a fresh temp data dir, deleted afterwards, or in ``data_dir``,
    which the caller owns (a second server on it reuses the database)."""
    own_dir = data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix=prefix)) if data_dir is None else data_dir
    port = free_port()
    env = clean_env(
        HELPLINE_DATA_DIR=str(data_dir),
        HELPLINE_LOG_LEVEL="WARNING",
        HELPLINE_SECRET_KEY=secrets.token_urlsafe(36),  # 48 characters
        # API rate limits stay on (each request pays its check) but never refuse a benchmark's load.
        HELPLINE_LIMITS_RULES=UNLIMITED_RULES,
    )
    env.update(settings)
    cmd = [*helpline_cmd(), "serve", "--port", str(port)]
    try:
        # cwd is the data dir, so no ./var or .env of the checkout is involved.
        with running_server(label, cmd, env, data_dir, data_dir / "server.log", port, "/health/ready") as server:
            yield HelplineServer(server.base, server.pid, data_dir)
    finally:
        if (data_dir / "pg" / "postmaster.pid").exists():
            # The server did not stop its PostgreSQL (killed?): stop it before deleting its files.
            print("  embedded PostgreSQL still running: helpline db-stop", file=sys.stderr)
            subprocess.run(
                [*helpline_cmd(), "db-stop"], env=env, cwd=data_dir, capture_output=True, timeout=60, check=False
            )
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


# -- Helpline set-up -----------------------------------------------------------------------


def register_and_login(base: str, email: str = BENCH_EMAIL, password: str = BENCH_PASSWORD) -> str:
    """Create an account; return an access token. (Registration answers 202 whether or not the
    email was taken, so the login after it is what tells.)"""
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
        if r.status_code != 202:
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
