"""The faults injected during a run, what each should do to the users, and how that is checked.

Each fault is injected a quarter into its phase and lifted ``fault_seconds`` later (the instance
started again, Redis or PostgreSQL started again, the model answering again, clients staying).
What a user should notice (the checks), besides the ledger that holds for every phase:

- ``kill``: instance A is SIGKILLed. Answers in flight on A drop; their clients resume them on B
  and get them settled (failed, retryable), never left waiting. New turns go to B (nginx passes
  a refused connection on), so turns keep succeeding while A is down.
- ``redis``: the cluster's Redis is stopped and started again, empty. Turns are either served
  or refused with a clear error, none hangs; turns succeed again once it is back.
- ``postgres``: the embedded PostgreSQL is stopped (pg_ctl -m fast) and started again. Turns
  are refused with a clear error while it is down (nothing half-stored), none hangs; turns
  succeed again once it is back.
- ``upstream_500``: the model answers every request with 500. Turns are accepted and their
  answers end ``failed`` with the reason, not as transport errors; answers are whole again after.
- ``upstream_hang``: the model accepts requests and sends nothing. Answers end ``failed`` after
  the model timeout, none hangs; answers are whole again after.
- ``drop``: SSE and WebSocket clients leave after their answer's first token and never come
  back. Their answers are still generated to the end and stored ``sent``."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx

from bench.load.client import Recorder, Turn

if TYPE_CHECKING:
    from tests.cluster.launcher import Cluster

    from helpline.core.embedded_pg import EmbeddedPostgres

FAULTS = ("kill", "redis", "postgres", "upstream_500", "upstream_hang", "drop")
UPSTREAM_FAULTS = ("upstream_500", "upstream_hang")
CLEAR_ERRORS = ("http_500", "http_502", "http_503", "http_504", "ws_", "stream_dropped", "resume_failed", "ws_connect")


@dataclass
class Context:
    cluster: Cluster[Any]
    pg: EmbeddedPostgres | None
    llm_control: str | None  # the fake model's control URL
    recorder: Recorder
    dsn: str
    llm_timeout_s: float
    recovery_s: float  # the "recovery within N seconds" bound reported (and checked by the bench)


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""
    timing: bool = False  # a bound on time: reported by the bench, never asserted by the test


@dataclass
class FaultResult:
    name: str
    injected: float = 0.0  # monotonic times
    restored: float = 0.0  # the fault lifted and the component ready again
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks if not c.timing)


async def _llm_mode(ctx: Context, mode: str) -> None:
    assert ctx.llm_control is not None, "upstream faults need the fake model"
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(ctx.llm_control, json={"mode": mode})
        r.raise_for_status()


async def _kill(ctx: Context) -> None:
    ctx.cluster.a.signal(signal.SIGKILL)
    await asyncio.to_thread(ctx.cluster.a.wait, 30)


async def _restart_a(ctx: Context) -> None:
    await asyncio.to_thread(lambda: ctx.cluster.a.start().ready())


async def _redis_down(ctx: Context) -> None:
    await asyncio.to_thread(ctx.cluster.redis.stop)


async def _redis_up(ctx: Context) -> None:
    await asyncio.to_thread(ctx.cluster.redis.start)


async def _pg_down(ctx: Context) -> None:
    assert ctx.pg is not None, "the postgres fault needs the load suite's own embedded PostgreSQL"
    await asyncio.to_thread(ctx.pg.stop)


async def _pg_up(ctx: Context) -> None:
    assert ctx.pg is not None
    await asyncio.to_thread(ctx.pg.start)


async def _drop_on(ctx: Context) -> None:
    ctx.recorder.drop.active = True


async def _drop_off(ctx: Context) -> None:
    ctx.recorder.drop.active = False


Action = Callable[[Context], Awaitable[None]]


def _actions(name: str) -> tuple[Action, Action]:
    async def mode_error(ctx: Context) -> None:
        await _llm_mode(ctx, "error")

    async def mode_hang(ctx: Context) -> None:
        await _llm_mode(ctx, "hang")

    async def mode_ok(ctx: Context) -> None:
        await _llm_mode(ctx, "ok")

    return {
        "kill": (_kill, _restart_a),
        "redis": (_redis_down, _redis_up),
        "postgres": (_pg_down, _pg_up),
        "upstream_500": (mode_error, mode_ok),
        "upstream_hang": (mode_hang, mode_ok),
        "drop": (_drop_on, _drop_off),
    }[name]


async def run_fault(name: str, ctx: Context, at: float, fault_seconds: float) -> FaultResult:
    """Inject ``name`` at monotonic time ``at``, lift it ``fault_seconds`` later."""
    inject, restore = _actions(name)
    result = FaultResult(name)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, at - loop.time()))
    result.injected = loop.time()
    await inject(ctx)
    await asyncio.sleep(max(0.0, result.injected + fault_seconds - loop.time()))
    await restore(ctx)
    result.restored = loop.time()
    return result


# -- what the users noticed --------------------------------------------------------------------


def _failures(turns: list[Turn]) -> Counter[str]:
    return Counter(t.outcome for t in turns if not t.ok)


async def evaluate(result: FaultResult, ctx: Context, turns: list[Turn], phase_end: float) -> None:
    """Fill ``result``'s figures and checks from the turns started in its phase."""
    t0, t1 = result.injected, result.restored
    failed = [t for t in turns if not t.ok and t.ended >= t0]
    during = [t for t in turns if t0 <= t.started < t1]
    after = [t for t in turns if t.started >= t1]
    result.figures = {
        "turns": len(turns),
        "ok": sum(t.ok for t in turns),
        "failures": dict(_failures(turns)),
        "fault_s": round(t1 - t0, 2),
        "ok_while_down": sum(t.ok for t in during),
        "first_failure_after_fault_s": round(min(t.ended for t in failed) - t0, 2) if failed else None,
        "last_failure_after_fault_s": round(max(t.ended for t in failed) - t0, 2) if failed else None,
        "last_failure_after_restore_s": round(max(0.0, max(t.ended for t in failed) - t1), 2) if failed else 0.0,
        "first_ok_after_restore_s": round(min(t.ended for t in after if t.ok) - t1, 2)
        if any(t.ok for t in after)
        else None,
    }
    checks = result.checks
    hung = [t for t in turns if t.outcome == "hung"]
    checks.append(Check("no turn hangs", not hung, f"{len(hung)} hung"))
    recovered = [t for t in after if t.ok]
    checks.append(Check("turns succeed again after the fault", bool(recovered), f"{len(recovered)} ok after"))
    late = [t for t in after if not t.ok and t.started >= t1 + ctx.recovery_s]
    checks.append(
        Check(
            f"recovered within {ctx.recovery_s:g} s (no failure of a turn started later)",
            not late,
            f"{len(late)} failed later: {dict(_failures(late))}",
            timing=True,
        )
    )
    unclear = [t for t in failed if t.outcome.startswith("error:") and not t.outcome[6:].startswith(CLEAR_ERRORS)]
    checks.append(Check("failures are clear errors", not unclear, f"{dict(_failures(unclear))}"))

    if result.name == "kill":
        checks.append(
            Check("the other instance serves while one is down", any(t.ok for t in during), f"{len(during)} started")
        )
        resumed = [t for t in turns if t.resumed]
        settled = [t for t in resumed if t.status is not None]
        checks.append(
            Check(
                "answers cut off by the kill are resumed and settled",
                len(settled) == len(resumed),
                f"{len(settled)}/{len(resumed)} resumed streams got a final event",
            )
        )
        grace = 5.0
        late_kill = [t for t in during if not t.ok and t.started >= t0 + grace]
        checks.append(
            Check(
                f"no turn started {grace:g} s after the kill fails",
                not late_kill,
                f"{dict(_failures(late_kill))}",
                timing=True,
            )
        )
    if result.name in UPSTREAM_FAULTS:
        # Turns started while the model is down: accepted, and their answer ended failed (the
        # error told), not a transport error. A margin at each end for turns straddling the switch.
        # Turns wholly inside the fault (begun after it, over before it was lifted) asked the model
        # while it was down. One still waiting for the model at the switch may get its answer.
        inner = [t for t in during if t.started >= t0 + 0.5 and t.ended <= t1]
        wrong = [t for t in inner if t.outcome not in ("answer_failed", "dropped")]
        checks.append(
            Check(
                "answers end failed with the reason while the model is down",
                bool(inner) and not wrong,
                f"{len(inner)} turns, not failed: {dict(Counter(t.outcome for t in wrong))}",
            )
        )
        told = [t for t in inner if t.outcome == "answer_failed" and not t.error]
        checks.append(Check("a failed answer says why", not told, f"{len(told)} without an error"))
    if result.name == "drop":
        dropped = [t for t in turns if t.dropped and t.message_id is not None]
        checks.append(Check("clients dropped mid-stream", bool(dropped), f"{len(dropped)} dropped"))
        if dropped:
            conn = await asyncpg.connect(ctx.dsn)
            try:
                rows = await conn.fetch(
                    "SELECT status::text AS status FROM messages WHERE id = ANY($1::int[])",
                    [t.message_id for t in dropped],
                )
            finally:
                await conn.close()
            statuses = Counter(r["status"] for r in rows)
            checks.append(
                Check(
                    "the answers of clients that left are stored whole (sent)",
                    statuses == {"sent": len(dropped)},
                    f"{dict(statuses)}",
                )
            )
