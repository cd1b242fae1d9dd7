"""One load run: a cluster (tests/cluster/launcher.py) on its own embedded PostgreSQL, Redis and
fake model, N users chatting for ``phases × seconds``, a fault per phase after the first (steady)
one, then the ledger check. Everything listens on 127.0.0.1 and is stopped at the end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.cluster import launcher

from bench._common import UNLIMITED_RULES, percentiles_ms, tree_cpu_seconds
from bench.load import faults as fx
from bench.load.client import TRANSPORTS, Recorder, Simulator, Transport, Turn
from bench.load.ledger import Ledger, check

PASSWORD = "Load-test-pass-123"
Model = Literal["fake", "local"]


@dataclass
class Options:
    users: int = 30
    seconds: float = 60.0  # per phase
    faults: Sequence[str] = fx.FAULTS
    fault_seconds: float = 5.0
    model: Model = "fake"
    think_s: float = 1.0
    word_delay_s: float = 0.02  # the fake model's pace between words
    transports: Sequence[Transport] = TRANSPORTS
    llm_timeout_s: float = 5.0
    recovery_s: float = 15.0
    settle_s: float = 60.0
    seed: int = 0
    root: Path | None = None  # where the cluster's files go (a temp dir, deleted, by default)
    database_url: str | None = None  # an existing migrated database (the test's); else our own


@dataclass
class PhaseStats:
    name: str
    start: float
    end: float
    turns: int = 0
    ok: int = 0
    per_transport: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    cpu_s_per_s: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def turns_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Report:
    options: dict[str, Any]
    machine: dict[str, Any]
    phases: list[PhaseStats] = field(default_factory=list)
    faults: list[fx.FaultResult] = field(default_factory=list)
    ledger: Ledger | None = None
    setup_errors: list[str] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.ledger and self.ledger.ok) and all(f.passed for f in self.faults)


def _stats(name: str, turns: list[Turn], start: float, end: float) -> PhaseStats:
    phase = PhaseStats(name, start, end, len(turns), sum(t.ok for t in turns))
    phase.failures = dict(Counter(t.outcome for t in turns if not t.ok))
    for transport in TRANSPORTS:
        mine = [t for t in turns if t.transport == transport]
        if not mine:
            continue
        done = [t.seconds for t in mine if t.outcome == "ok"]
        ttft = [x for t in mine if t.outcome == "ok" and (x := t.ttft) is not None]
        p = percentiles_ms(done)
        f = percentiles_ms(ttft)
        phase.per_transport[transport] = {
            "turns": len(mine),
            "ok": len(done),
            "ok_per_s": round(len(done) / (end - start), 2) if end > start else 0.0,
            "p50_ms": round(p[0], 1),
            "p95_ms": round(p[1], 1),
            "p99_ms": round(p[2], 1),
            "ttft_p50_ms": round(f[0], 1),
            "ttft_p95_ms": round(f[1], 1),
            "ttft_p99_ms": round(f[2], 1),
            "failures": dict(Counter(t.outcome for t in mine if not t.ok)),
        }
    return phase


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }


# -- set-up -------------------------------------------------------------------------------------


@contextlib.contextmanager
def fake_model(root: Path, word_delay_s: float) -> Iterator[tuple[str, str]]:
    """The fake OpenAI-compatible model as a process of its own: (its /v1 URL, its control URL)."""
    port = launcher.free_port()
    with (root / "llm.log").open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster.fake_llm", "--port", str(port), "--word-delay", str(word_delay_s)],
            cwd=launcher.ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        launcher.wait_port(port, proc, "the fake model")
        yield f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}/control"
    finally:
        launcher.stop_process(proc, timeout=10)


@contextlib.contextmanager
def own_database(root: Path) -> Iterator[tuple[Any, str]]:
    """An embedded PostgreSQL of the run's own (the postgres fault restarts it), migrated."""
    from helpline.core.embedded_pg import EmbeddedPostgres
    from helpline.migrations import upgrade

    pg = EmbeddedPostgres(root / "pg")
    pg.start()
    try:
        url = pg.url("helpline")

        async def create() -> None:
            import asyncpg

            conn = await asyncpg.connect(host=str(pg.socket_dir()), user="postgres", database="postgres")
            try:
                await conn.execute("CREATE DATABASE helpline")
            finally:
                await conn.close()

        asyncio.run(create())
        upgrade(url)
        yield pg, url
    finally:
        pg.release()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _env(opts: Options) -> dict[str, str]:
    env = {
        # Per-user limits out of the way (the limiter still runs on every message).
        "HELPLINE_LIMITS_RULES": UNLIMITED_RULES,
        "HELPLINE_LIMITS_RATE_PER_MINUTE": "1000000",
        "HELPLINE_LIMITS_RATE_PER_HOUR": "1000000",
        "HELPLINE_LIMITS_RATE_PER_DAY": "1000000",
        "HELPLINE_AUTH_REGISTER_LIMIT_PER_IP": "1000000/hour",
        "HELPLINE_AUTH_REGISTER_LIMIT_GLOBAL": "1000000/minute",
        "HELPLINE_AUTH_REFRESH_LIMIT_PER_IP": "1000000/minute",
        "HELPLINE_SERVER_MAX_CONNECTIONS_PER_IP": "100000",
        "HELPLINE_LLM_TIMEOUT_SECONDS": f"{opts.llm_timeout_s:g}",
    }
    if opts.model == "local":
        env |= {"HELPLINE_LLM_PROVIDER": "local", "HELPLINE_LLM_BASE_URL": "", "HELPLINE_LLM_API_KEY": ""}
    return env


# -- the run ------------------------------------------------------------------------------------


def _cpu_groups(cluster: launcher.Cluster[Any], pg: Any) -> dict[str, list[int]]:
    groups = {"instances": [p.pid for p in (cluster.a.proc, cluster.b.proc) if p is not None]}
    if pg is not None:
        pid = pg._running_pid()
        if pid:
            groups["postgres"] = [pid]
    if cluster.nginx is not None:
        groups["nginx"] = [cluster.nginx.pid]
    if cluster.redis.proc is not None:
        groups["redis"] = [cluster.redis.proc.pid]
    return groups


async def _load(cluster: launcher.Cluster[Any], pg: Any, llm_control: str | None, dsn: str, opts: Options) -> Report:
    faults = [f for f in opts.faults if not (opts.model == "local" and f in fx.UPSTREAM_FAULTS)]
    if pg is None:
        faults = [f for f in faults if f != "postgres"]
    report = Report(options={k: v for k, v in asdict(opts).items() if k not in ("root",)}, machine=_machine())
    report.options["faults"] = list(faults)
    recorder = Recorder()
    ctx = fx.Context(cluster, pg, llm_control, recorder, dsn, opts.llm_timeout_s, opts.recovery_s)
    sim = Simulator(cluster, recorder, think_s=opts.think_s, seed=opts.seed)
    loop = asyncio.get_running_loop()
    phases = ["steady", *faults]
    bounds: list[tuple[float, float]] = []  # each phase's (start, end), loop time = time.monotonic()
    results: list[fx.FaultResult] = []
    try:
        users = [
            asyncio.create_task(sim.user_loop(i, opts.transports[i % len(opts.transports)])) for i in range(opts.users)
        ]
        # Users sign up first (bcrypt, a burst), then chat: the steady phase starts once most have.
        await asyncio.sleep(min(30.0, 2.0 + opts.users * 0.05))
        groups = _cpu_groups(cluster, pg)
        for name in phases:
            phase_start = loop.time()
            if name == "steady":
                cpu_before = {k: tree_cpu_seconds(v) for k, v in groups.items()}
                cpu_before["load client"] = time.process_time()
                await asyncio.sleep(opts.seconds)
                cpu_after = {k: tree_cpu_seconds(v) for k, v in groups.items()}
                cpu_after["load client"] = time.process_time()
                bounds.append((phase_start, loop.time()))
                continue
            duration = opts.fault_seconds + (opts.llm_timeout_s if name == "upstream_hang" else 0.0)
            print(f"  phase {name}: injected at +{opts.seconds / 4:.0f} s for {duration:g} s", flush=True)
            result = await fx.run_fault(name, ctx, phase_start + opts.seconds / 4, duration)
            results.append(result)
            # The rest of the phase, and at least half a phase after the fault was lifted.
            await asyncio.sleep(
                max(0.0, phase_start + opts.seconds - loop.time(), opts.seconds / 2 - (loop.time() - result.restored))
            )
            bounds.append((phase_start, loop.time()))
        sim.deadline = time.monotonic()
        await asyncio.gather(*users, return_exceptions=True)
    finally:
        recorder.drop.active = False
        await sim.close()
    report.machine["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    for name, (p0, p1) in zip(phases, bounds, strict=True):
        in_phase = [t for t in recorder.turns if p0 <= t.started < p1]
        report.phases.append(_stats(name, in_phase, p0, p1))
    # CPU seconds per second of the steady phase, per process group.
    steady_s = bounds[0][1] - bounds[0][0]
    report.phases[0].cpu_s_per_s = {k: round((cpu_after[k] - cpu_before[k]) / steady_s, 2) for k in cpu_before}
    for result, phase in zip(results, report.phases[1:], strict=True):
        turns = [t for t in recorder.turns if phase.start <= t.started < phase.end]
        await fx.evaluate(result, ctx, turns, phase.end)
    report.faults = results
    report.turns = recorder.turns
    report.setup_errors = recorder.setup_errors
    report.ledger = await check(dsn, recorder.turns, opts.settle_s)
    return report


def run(opts: Options) -> Report:
    """Start everything, run the load and faults, check the ledger, stop everything."""
    own_root = opts.root is None
    root = Path(tempfile.mkdtemp(prefix="helpline-load-")) if opts.root is None else opts.root
    root.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.ExitStack() as stack:
            pg: Any = None
            if opts.database_url is None:
                pg, url = stack.enter_context(own_database(root))
            else:
                url = opts.database_url
            llm_url, control = ("", None)
            if opts.model == "fake":
                llm_url, control = stack.enter_context(fake_model(root, opts.word_delay_s))
            started = time.monotonic()
            cluster = stack.enter_context(
                launcher.launch(
                    root,
                    url,
                    None,
                    llm_url or "http://127.0.0.1:9/v1",
                    secret=secrets.token_urlsafe(36),
                    password=PASSWORD,
                    env=_env(opts),
                    per_address_limits=False,
                )
            )
            print(f"  cluster ready in {time.monotonic() - started:.1f} s (files in {root})", flush=True)
            return asyncio.run(_load(cluster, pg, control, _dsn(url), opts))
    finally:
        if own_root:
            shutil.rmtree(root, ignore_errors=True)


# -- output -------------------------------------------------------------------------------------


def print_report(report: Report, users: int) -> None:
    m = report.machine
    print(
        f"\nmachine: {m['cpus']} CPUs, {m['platform']}, load average {m['loadavg_before']} before, "
        f"{m['loadavg_after']} after"
    )
    print(f"{users} users on 2 instances ({users / 2:g} per instance)")
    if report.setup_errors:
        print(f"sign-up failures: {len(report.setup_errors)} (first: {report.setup_errors[0]})")
    for phase in report.phases:
        print(
            f"\nphase {phase.name}: {phase.turns} turns, {phase.ok} ok, {phase.turns_per_s:.1f} ok turns/s"
            + (f", failures {phase.failures}" if phase.failures else "")
        )
        for transport, s in phase.per_transport.items():
            print(
                f"  {transport:<4} {s['ok_per_s']:6.1f}/s  answer p50 {s['p50_ms']:7.0f}  p95 {s['p95_ms']:7.0f}  "
                f"p99 {s['p99_ms']:7.0f} ms   first token p50 {s['ttft_p50_ms']:6.0f}  p95 {s['ttft_p95_ms']:6.0f}"
                f"  p99 {s['ttft_p99_ms']:6.0f} ms"
            )
        if phase.cpu_s_per_s:
            print(f"  CPU seconds per second: {phase.cpu_s_per_s}")
    for fault in report.faults:
        verdict = "PASS" if fault.passed else "FAIL"
        print(f"\nfault {fault.name}: {verdict}  {json.dumps(fault.figures)}")
        for c in fault.checks:
            mark = "ok " if c.passed else ("late" if c.timing else "FAIL")
            print(f"  [{mark}] {c.name}  ({c.detail})")
    if report.ledger is not None:
        print()
        print("\n".join(report.ledger.lines()))


def to_json(report: Report) -> dict[str, Any]:
    return {
        "options": report.options,
        "machine": report.machine,
        "phases": [asdict(p) | {"turns_per_s": round(p.turns_per_s, 2)} for p in report.phases],
        "faults": [
            {"name": f.name, "passed": f.passed, "figures": f.figures, "checks": [asdict(c) for c in f.checks]}
            for f in report.faults
        ],
        "ledger": None if report.ledger is None else asdict(report.ledger) | {"ok": report.ledger.ok},
        "setup_errors": report.setup_errors,
    }


def install_signal_handlers() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
