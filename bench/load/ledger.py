"""After a run: what the clients were told against what the database holds.

- Every question the server accepted (the client was given its id) is stored exactly once, with
  the text the client sent.
- No question is stored twice: each carries a unique marker ``[lt-<hex>]``, counted per marker
  across the whole table, accepted or not (a request that failed may still have been stored, once).
- Every answer is final: ``sent``, ``failed`` or ``partial`` (a stopped answer is ``sent`` with
  ``stopped``); none left ``streaming`` or ``pending`` once the run has settled.
- Every accepted question has its answer (the assistant message the server named), and an answer
  the client saw finish as ``sent`` is stored ``sent``."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from bench.load.client import Turn

UNFINISHED = ("streaming", "pending")


@dataclass
class Ledger:
    accepted: int = 0
    stored_questions: int = 0
    lost: list[int] = field(default_factory=list)  # accepted question ids not stored (or other text)
    duplicated: list[str] = field(default_factory=list)  # markers stored more than once
    unfinished: list[int] = field(default_factory=list)  # answers still streaming or pending
    missing_answers: list[int] = field(default_factory=list)  # accepted answers not stored
    contradicted: list[int] = field(default_factory=list)  # seen "sent" by the client, stored otherwise
    answers_by_status: dict[str, int] = field(default_factory=dict)
    settle_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unfinished or self.missing_answers or self.contradicted)

    def lines(self) -> list[str]:
        verdict = "OK" if self.ok else "FAILED"
        out = [
            f"ledger {verdict}: {self.accepted} accepted questions, {self.stored_questions} stored by the load; "
            f"lost {len(self.lost)}, duplicated {len(self.duplicated)}, answers unfinished {len(self.unfinished)}, "
            f"answers missing {len(self.missing_answers)}, client/database disagree {len(self.contradicted)}",
            "  answers by status: " + ", ".join(f"{k} {v}" for k, v in sorted(self.answers_by_status.items())),
            f"  settled {self.settle_seconds:.1f} s after the load stopped",
        ]
        for name in ("lost", "duplicated", "unfinished", "missing_answers", "contradicted"):
            items = getattr(self, name)
            if items:
                out.append(f"  {name}: {items[:20]}{' ...' if len(items) > 20 else ''}")
        return out


async def unfinished_answers(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM messages WHERE message_type = 'assistant' AND status::text = ANY($1::text[])",
            list(UNFINISHED),
        )
    )


async def settle(dsn: str, timeout_s: float) -> float:
    """Wait (up to ``timeout_s``) until no answer is being generated any more; seconds waited."""
    started = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        while time.monotonic() - started < timeout_s:
            if not await unfinished_answers(conn):
                break
            await asyncio.sleep(0.5)  # polling the database: nothing here to wait on
    finally:
        await conn.close()
    return time.monotonic() - started


async def check(dsn: str, turns: list[Turn], settle_timeout_s: float) -> Ledger:
    ledger = Ledger(settle_seconds=await settle(dsn, settle_timeout_s))
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id, substring(content from '\\[lt-([0-9a-f]{12})\\]') AS marker FROM messages "
            "WHERE message_type = 'user' AND content LIKE '%[lt-%'"
        )
        by_marker = Counter(r["marker"] for r in rows)
        ledger.stored_questions = len(rows)
        ledger.duplicated = sorted(m for m, n in by_marker.items() if n > 1)
        stored_question = {r["id"]: r["marker"] for r in rows}
        accepted = [t for t in turns if t.accepted]
        ledger.accepted = len(accepted)
        ledger.lost = sorted(
            t.user_message_id
            for t in accepted
            if t.user_message_id is not None and stored_question.get(t.user_message_id) != t.marker
        )
        answers = {
            r["id"]: r["status"]
            for r in await conn.fetch(
                "SELECT id, status::text AS status FROM messages WHERE message_type = 'assistant'"
            )
        }
        ledger.answers_by_status = dict(Counter(answers.values()))
        ledger.unfinished = sorted(i for i, s in answers.items() if s in UNFINISHED)
        for t in accepted:
            if t.message_id is None or t.user_message_id == t.message_id:
                continue  # relayed to a person: no answer (not in this load)
            if t.message_id not in answers:
                ledger.missing_answers.append(t.message_id)
            elif t.status == "sent" and answers[t.message_id] != "sent":
                ledger.contradicted.append(t.message_id)
    finally:
        await conn.close()
    return ledger
