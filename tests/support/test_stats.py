"""The analytics hook: escalation rate, time to first human reply and resolution time (p50)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from helpline.core.runtime import Runtime
from helpline.support.stats import handoff_stats

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_figures_for_a_date_range(runtime: Runtime, db: asyncpg.Connection) -> None:
    uid = await db.fetchval(
        "INSERT INTO users (email, username, hashed_password) VALUES ('u@example.com', 'u', 'x') RETURNING id"
    )
    convs = [
        await db.fetchval("INSERT INTO conversations (user_id, created_at) VALUES ($1, $2) RETURNING id", uid, T0)
        for _ in range(4)
    ]
    minute = timedelta(minutes=1)
    rows = [
        # conversation, escalated, first reply after, ended after, outcome
        (convs[0], T0, 2 * minute, 10 * minute, "resolved"),
        (convs[1], T0, 4 * minute, 30 * minute, "resolved"),
        (convs[2], T0, 6 * minute, None, None),  # still with a person
        (convs[3], T0 - timedelta(days=40), minute, minute, "resolved"),  # before the range
    ]
    for conv, at, reply, ended, outcome in rows:
        await db.execute(
            "INSERT INTO conversation_handoffs (conversation_id, reason, escalated_at, first_reply_at, ended_at, "
            "outcome) VALUES ($1, 'user', $2, $3, $4, $5)",
            conv,
            at,
            at + reply,
            at + ended if ended else None,
            outcome,
        )
    async with runtime.sessionmaker() as session:
        stats = await handoff_stats(session, T0 - timedelta(days=1), T0 + timedelta(days=1))
        empty = await handoff_stats(session, T0 + timedelta(days=5), T0 + timedelta(days=6))
    assert stats.escalations == 3
    assert stats.conversations == 4
    assert stats.escalation_rate == 0.75
    assert stats.first_reply_p50_seconds == 240.0
    assert stats.resolution_p50_seconds == 20 * 60.0  # median of 10 and 30 minutes
    assert (stats.resolved, stats.open) == (2, 1)
    assert (empty.escalations, empty.escalation_rate, empty.first_reply_p50_seconds) == (0, None, None)
