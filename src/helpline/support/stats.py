"""Handoff figures for the analytics dashboard (wired in by the analytics package): how often
conversations went to a person, and how fast people answered and resolved them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_STATS = text(
    """
    WITH h AS (
        SELECT conversation_id, escalated_at, first_reply_at, ended_at, outcome
        FROM conversation_handoffs
        WHERE escalated_at >= :start AND escalated_at < :end
    )
    SELECT
        (SELECT count(*) FROM h) AS escalations,
        (SELECT count(DISTINCT conversation_id) FROM h) AS escalated_conversations,
        (SELECT count(*) FROM conversations WHERE created_at >= :start AND created_at < :end) AS conversations,
        (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM first_reply_at - escalated_at))
         FROM h WHERE first_reply_at IS NOT NULL) AS first_reply_p50,
        (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM ended_at - escalated_at))
         FROM h WHERE outcome = 'resolved') AS resolution_p50,
        (SELECT count(*) FROM h WHERE outcome = 'resolved') AS resolved,
        (SELECT count(*) FROM h WHERE ended_at IS NULL) AS open
    """
)


@dataclass(frozen=True, slots=True)
class HandoffStats:
    escalations: int  # hand-overs that started in the range
    conversations: int  # conversations started in the range
    escalation_rate: float | None  # conversations handed over / conversations started (None: none started)
    first_reply_p50_seconds: float | None  # escalation to the first reply by a person, median
    resolution_p50_seconds: float | None  # escalation to resolution, median (resolved ones)
    resolved: int
    open: int  # still waiting for or with a person


async def handoff_stats(session: AsyncSession, start: datetime, end: datetime) -> HandoffStats:
    """The figures for hand-overs that started in [start, end): counts, the share of the range's
    conversations handed to a person, and the medians of time to first human reply and to
    resolution (in seconds; None when there are none)."""
    row = (await session.execute(_STATS, {"start": start, "end": end})).one()
    conversations = int(row.conversations)
    return HandoffStats(
        escalations=int(row.escalations),
        conversations=conversations,
        escalation_rate=(int(row.escalated_conversations) / conversations) if conversations else None,
        first_reply_p50_seconds=None if row.first_reply_p50 is None else float(row.first_reply_p50),
        resolution_p50_seconds=None if row.resolution_p50 is None else float(row.resolution_p50),
        resolved=int(row.resolved),
        open=int(row.open),
    )
