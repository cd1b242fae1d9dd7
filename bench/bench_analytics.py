"""The support dashboard on 1 million messages: how long the roll-up takes (full, then
incremental), and the dashboard's latency read from the roll-ups without any cache, against the
same figures computed by scanning ``messages`` for the period (the baseline), in the same run.

The data is made in the database with generate_series (about a minute): users, conversations of
ten messages (question, answer, ...) over 90 days, answers from FAQs, models, refusals and
failures with tokens, sources and response times, 5% of answers rated, 0.5% of questions
flagged, and unanswered questions. PostgreSQL is an embedded server in a temporary folder.

    uv run python bench/bench_analytics.py [--messages 1000000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from helpline.analytics import service
from helpline.analytics.period import make_period
from helpline.analytics.rollup import refresh
from helpline.core.config import load_settings
from helpline.core.embedded_pg import EmbeddedPostgres
from helpline.migrations import upgrade

DAYS = 90
SETTLE = timedelta(hours=48)

SEED = [
    "SELECT setseed(0.42)",
    """INSERT INTO users (email, username, hashed_password, created_at, is_guest)
       SELECT 'u' || i || '@bench.example', 'u' || i, 'x',
              now() - make_interval(days => {days}) + (i * make_interval(days => {days}) / {users}), i % 10 = 0
       FROM generate_series(1, {users}) i""",
    """INSERT INTO faqs (question, answer, status)
       SELECT 'Question ' || i, 'Answer ' || i, 'published' FROM generate_series(1, 200) i""",
    """INSERT INTO conversations (user_id, title, language, created_at, message_count, last_message_at)
       SELECT 1 + (i * 7919) % {users}, 'c', (ARRAY['en', 'en', 'en', 'es', 'fr', 'de'])[1 + i % 6],
              now() - make_interval(days => {days}) + (i * make_interval(days => {days}) / {conversations}),
              10, now() - make_interval(days => {days}) + (i * make_interval(days => {days}) / {conversations})
                  + interval '9 minutes'
       FROM generate_series(1, {conversations}) i""",
    # Ten messages per conversation: questions at even positions, answers at odd ones.
    """INSERT INTO messages (conversation_id, user_id, content, message_type, status, tokens_used, model_used,
                             response_time_ms, metadata, created_at)
       SELECT c.id, CASE WHEN p % 2 = 0 THEN c.user_id END,
              CASE WHEN p % 2 = 0 THEN 'How do I do thing ' || (c.id % 500) ELSE 'Here is how.' END,
              (CASE WHEN p % 2 = 0 THEN 'user' ELSE 'assistant' END)::message_type,
              (CASE WHEN p % 2 = 1 AND r.x < 0.01 THEN 'failed' ELSE 'sent' END)::message_status,
              CASE WHEN p % 2 = 1 AND r.x >= 0.35 THEN 200 + (r.y * 800)::int ELSE 0 END,
              CASE WHEN p % 2 = 0 THEN NULL WHEN r.x < 0.2 THEN 'faq' WHEN r.x < 0.3 THEN 'guard'
                   WHEN r.x < 0.35 THEN 'moderation' WHEN r.x < 0.7 THEN 'gpt-4o-mini' ELSE 'smollm2' END,
              CASE WHEN p % 2 = 1 THEN 20 + (r.y * r.y * 4000)::int END,
              CASE WHEN p % 2 = 0 AND r.y < 0.005 THEN '{{"flagged": true}}'::jsonb
                   WHEN p % 2 = 1 AND r.x >= 0.35 THEN jsonb_build_object(
                       'usage', jsonb_build_object('prompt_tokens', 150 + (r.y * 600)::int,
                                                   'completion_tokens', 50 + (r.y * 200)::int),
                       'sources', jsonb_build_array(jsonb_build_object('id', 1 + (r.y * 199)::int)))
                   WHEN p % 2 = 1 AND r.x < 0.2 THEN jsonb_build_object(
                       'sources', jsonb_build_array(jsonb_build_object('id', 1 + (r.y * 199)::int)))
              END,
              c.created_at + p * interval '1 minute'
       FROM conversations c CROSS JOIN generate_series(0, {per} - 1) p
       CROSS JOIN LATERAL (SELECT random() + p * 0 AS x, random() + c.id * 0 AS y) r""",
    """INSERT INTO message_feedback (message_id, user_id, helpful, created_at)
       SELECT m.id, c.user_id, random() < 0.7, m.created_at + interval '1 minute'
       FROM messages m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.message_type = 'assistant' AND random() < 0.05""",
    """INSERT INTO unanswered_questions (text, language, created_at)
       SELECT 'Unknown thing ' || (i % 300), 'en',
              now() - make_interval(days => {days}) + (i * make_interval(days => {days}) / 20000)
       FROM generate_series(1, 20000) i""",
]

# The baseline: the dashboard's main figures straight from the source tables for the period
# (what a dashboard without roll-ups does on every request): series per local day and totals.
BASELINE = [
    text(
        """
        SELECT date_trunc('day', m.created_at, :tz) AS day, m.message_type, m.model_used, m.status,
               count(*), sum(m.tokens_used), count(DISTINCT c.user_id)
        FROM messages m JOIN conversations c ON c.id = m.conversation_id
        WHERE m.created_at >= :lo AND m.created_at < :hi GROUP BY 1, 2, 3, 4
        """
    ),
    text(
        "SELECT count(DISTINCT c.user_id) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE m.created_at >= :lo AND m.created_at < :hi"
    ),
    text(
        "SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY response_time_ms) FROM messages "
        "WHERE message_type = 'assistant' AND created_at >= :lo AND created_at < :hi AND status <> 'failed'"
    ),
    text(
        "SELECT date_trunc('day', m.created_at, :tz), f.helpful, count(*) FROM message_feedback f "
        "JOIN messages m ON m.id = f.message_id WHERE m.created_at >= :lo AND m.created_at < :hi GROUP BY 1, 2"
    ),
    text(
        "SELECT s ->> 'id', count(*) FROM messages m, jsonb_array_elements(m.metadata -> 'sources') s "
        "WHERE m.message_type = 'assistant' AND jsonb_typeof(m.metadata -> 'sources') = 'array' "
        "AND m.created_at >= :lo AND m.created_at < :hi GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
    ),
    text(
        "SELECT count(*) FROM messages WHERE message_type = 'user' AND (metadata ->> 'flagged') = 'true' "
        "AND created_at >= :lo AND created_at < :hi"
    ),
]


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q * 100) - 1] * 1000


async def timed(call: Any, runs: int, warm: int = 3) -> list[float]:
    for _ in range(warm):
        await call()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        out.append(time.perf_counter() - start)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="a multiple of 10")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    conversations = args.messages // 10
    params = {"days": DAYS, "users": max(conversations // 5, 10), "conversations": conversations, "per": 10}

    with tempfile.TemporaryDirectory(prefix="helpline-bench-analytics-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg")
        url = pg.start()
        engine = create_async_engine(url)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        try:
            await asyncio.to_thread(upgrade, url)
            start = time.perf_counter()
            async with engine.begin() as conn:
                for stmt in SEED:
                    # Whole numbers from the command line, written into the statements.
                    await conn.execute(text(stmt.format(**params)))
            async with engine.connect() as conn:
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM ANALYZE"))
                counts = (
                    await conn.execute(
                        text(
                            "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM conversations), "
                            "(SELECT count(*) FROM users), (SELECT count(*) FROM message_feedback)"
                        )
                    )
                ).one()
            print(
                f"seeded {counts[0]:,} messages, {counts[1]:,} conversations, {counts[2]:,} users, "
                f"{counts[3]:,} ratings in {time.perf_counter() - start:.1f} s"
            )

            start = time.perf_counter()
            await refresh(maker, settle=SETTLE)
            full = time.perf_counter() - start
            start = time.perf_counter()
            await refresh(maker, settle=SETTLE)
            incremental = time.perf_counter() - start
            async with engine.connect() as conn:
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                    text("VACUUM ANALYZE analytics_counts, analytics_user_slots")
                )
                rows = (
                    await conn.execute(
                        text(
                            "SELECT (SELECT count(*) FROM analytics_counts), "
                            "(SELECT count(*) FROM analytics_user_slots)"
                        )
                    )
                ).one()
            print(f"roll-up: full {full:.1f} s; incremental (last {SETTLE.days} days) {incremental:.2f} s")
            print(f"roll-up rows: {rows[0]:,} counts, {rows[1]:,} user slots")

            settings = load_settings()
            today = datetime.now(UTC).date()

            async def select_one() -> None:
                async with maker() as session:
                    await session.execute(text("SELECT 1"))

            floor = await timed(select_one, args.runs * 3)
            print(
                f"\nfloor: a session's SELECT 1 round trip p50 {pct(floor, 0.5):.2f} ms, p95 {pct(floor, 0.95):.2f} ms"
                f" (the machine's load: {os.getloadavg()[0]:.1f})"
            )
            print(f"dashboard, no cache, {args.runs} runs each (ms)            p50       p95   baseline p50   ratio")
            for label, days, tz, gran in (
                ("30 days, by day, UTC", 30, "UTC", "day"),
                ("30 days, by day, Europe/Paris", 30, "Europe/Paris", "day"),
                ("90 days, by week, America/New_York", 90, "America/New_York", "week"),
            ):
                period = make_period(today - timedelta(days=days - 1), today, tz, gran)  # type: ignore[arg-type]

                async def rolled(p: Any = period) -> None:
                    async with maker() as session:
                        await service.dashboard(session, settings, p)

                async def scanned(p: Any = period) -> None:
                    async with maker() as session:
                        await _baseline(session, p.lo, p.hi, p.timezone)

                ours = await timed(rolled, args.runs)
                base = await timed(scanned, max(args.runs // 5, 3), warm=1)
                print(
                    f"{label:<44} {pct(ours, 0.5):8.1f}  {pct(ours, 0.95):8.1f}   {pct(base, 0.5):12.1f}"
                    f"   {pct(base, 0.5) / pct(ours, 0.5):5.1f}x"
                )
        finally:
            await engine.dispose()
            pg.release()


async def _baseline(session: AsyncSession, lo: datetime, hi: datetime, tz: str) -> None:
    for stmt in BASELINE:
        await session.execute(stmt, {"lo": lo, "hi": hi, "tz": tz} if ":tz" in str(stmt) else {"lo": lo, "hi": hi})


if __name__ == "__main__":
    asyncio.run(main())
