"""The roll-ups: figures per 15-minute slot, recomputed slot by slot from the source tables.

A refresh of a range deletes the range's rows and counts its slots again from ``messages``,
``message_feedback``, ``conversations`` and ``users``, in one transaction: running it twice over
the same range gives the same figures, and a crash half way leaves the previous ones.

The scheduled job (``refresh``) recomputes everything since the last run and at least the last
``settle_hours`` (answers still streaming, feedback and flags on recent messages), plus the slots
of older messages and conversations that changed since: feedback given or changed, conversations
that went on. A moderator flagging an old message by hand is seen only within ``settle_hours``;
``refresh(full=True)`` (`helpline analytics-refresh --full`) recounts everything.

How an answer came about is read from what the chat stores (helpline.chat.service):
``model_used`` "faq" is a FAQ's own answer (a confident match, or the guard standing in with the
best article), "guard" an honest "I don't know", "moderation" a refusal of a flagged question; an
answer the output moderation replaced is marked ``output_flagged``; a failed one has status
failed. Everything else came from the model. ORIGIN_SQL is that rule, in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpline.core.db import session_scope
from helpline.models.chat import FLAGGED_SQL

SLOT = timedelta(minutes=15)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Response times go into buckets growing by 10%: a percentile read from them is within 5%.
LATENCY_BASE = 1.1
_ADVISORY_KEY = 0x616E616C  # "anal": one refresh at a time, across processes

ORIGINS = ("faq", "model", "refused", "failed")
ORIGIN_SQL = """CASE
    WHEN m.status = 'failed' THEN 'failed'
    WHEN m.model_used IN ('moderation', 'guard') OR (m.metadata ->> 'output_flagged') = 'true'
         OR (m.metadata ->> 'refusal') = 'true' THEN 'refused'
    WHEN m.model_used = 'faq' THEN 'faq'
    ELSE 'model' END"""

# A conversation's outcome, by what is stored now: helpful or not helpful by its feedback; with
# none, abandoned when its last message is an answer that did not help (refused or failed).
# "escalated" is counted when human handoff exists: ESCALATED_SQL is then a condition on ``c``
# (the handoff package's table), checked first.
ESCALATED_SQL: str | None = None
RESOLUTIONS = ("helpful", "not_helpful", "abandoned", "escalated", "unrated")
LENGTH_BUCKETS = ((1, 2, "1-2"), (3, 4, "3-4"), (5, 9, "5-9"), (10, 19, "10-19"), (20, None, "20+"))


def slot_of(moment: datetime) -> datetime:
    """The start of the slot ``moment`` falls in."""
    return EPOCH + ((moment - EPOCH) // SLOT) * SLOT


def latency_bucket(ms: int) -> int:
    return math.floor(math.log(max(ms, 0) + 1) / math.log(LATENCY_BASE))


def latency_value(bucket: int) -> float:
    """A bucket's representative time in ms (its geometric middle)."""
    return float(LATENCY_BASE ** (bucket + 0.5) - 1)


def _slot_sql(column: str) -> str:
    return f"date_bin('15 minutes', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


def _length_sql() -> str:
    cases = " ".join(
        f"WHEN c.message_count >= {lo}" + (f" AND c.message_count <= {hi}" if hi else "") + f" THEN '{label}'"
        for lo, hi, label in LENGTH_BUCKETS
    )
    return f"CASE {cases} ELSE '0' END"


def _resolution_sql() -> str:
    escalated = f"WHEN {ESCALATED_SQL} THEN 'escalated' " if ESCALATED_SQL else ""
    return (
        "CASE " + escalated + "WHEN fb.helpful THEN 'helpful' WHEN fb.unhelpful THEN 'not_helpful' "
        "WHEN last.origin IN ('refused', 'failed') THEN 'abandoned' ELSE 'unrated' END"
    )


_MESSAGES_CTE = f"""
WITH m AS (
    SELECT m.id, m.conversation_id, m.message_type, m.status, m.model_used, m.tokens_used,
           m.response_time_ms, m.metadata, {_slot_sql("m.created_at")} AS slot,
           {ORIGIN_SQL} AS origin,
           ({FLAGGED_SQL.replace("metadata", "m.metadata").replace("message_type", "m.message_type")}) AS flagged
    FROM messages m
    WHERE m.created_at >= :lo AND m.created_at < :hi
), a AS (
    SELECT * FROM m WHERE message_type = 'assistant' AND status <> 'streaming'
), src AS (
    SELECT a.id, a.slot, s ->> 'id' AS faq_id
    FROM a CROSS JOIN LATERAL jsonb_array_elements(
        CASE jsonb_typeof(a.metadata -> 'sources') WHEN 'array' THEN a.metadata -> 'sources' ELSE '[]'::jsonb END
    ) AS s
    WHERE s ->> 'id' IS NOT NULL
), fb AS (
    SELECT a.id, a.slot, f.helpful FROM a JOIN message_feedback f ON f.message_id = a.id
)
"""  # noqa: S608 - constants, no user input

_COUNT_MESSAGES = text(
    f"""INSERT INTO analytics_counts (metric, slot, dim, value) {_MESSAGES_CTE}
SELECT 'messages', slot, message_type::text, count(*) FROM m GROUP BY slot, message_type
UNION ALL SELECT 'answers', slot, origin, count(*) FROM a GROUP BY slot, origin
UNION ALL SELECT 'answers_model', slot, coalesce(model_used, ''), count(*) FROM a GROUP BY slot, model_used
UNION ALL SELECT 'tokens_in', slot, coalesce(model_used, ''),
    sum(coalesce((metadata -> 'usage' ->> 'prompt_tokens')::bigint, 0))
    FROM a WHERE tokens_used > 0 GROUP BY slot, model_used
UNION ALL SELECT 'tokens_out', slot, coalesce(model_used, ''),
    sum(coalesce((metadata -> 'usage' ->> 'completion_tokens')::bigint, tokens_used))
    FROM a WHERE tokens_used > 0 GROUP BY slot, model_used
UNION ALL SELECT 'latency', slot, floor(ln(greatest(response_time_ms, 0) + 1) / ln({LATENCY_BASE}))::int::text,
    count(*) FROM a WHERE response_time_ms IS NOT NULL AND status <> 'failed' GROUP BY 1, 2, 3
UNION ALL SELECT 'flags', slot, '', count(*) FROM m WHERE flagged GROUP BY slot
UNION ALL SELECT 'feedback', slot, CASE WHEN helpful THEN 'helpful' ELSE 'not_helpful' END, count(*)
    FROM fb GROUP BY 1, 2, 3
UNION ALL SELECT 'faq_sources', slot, faq_id, count(*) FROM src GROUP BY slot, faq_id
UNION ALL SELECT 'faq_thumbs_down', src.slot, src.faq_id, count(*)
    FROM src JOIN fb ON fb.id = src.id AND NOT fb.helpful GROUP BY src.slot, src.faq_id
"""  # noqa: S608 - constants, no user input
)

_COUNT_USERS_ACTIVE = text(
    f"""
INSERT INTO analytics_user_slots (user_id, slot, messages, questions, tokens)
SELECT c.user_id, {_slot_sql("m.created_at")}, count(*), count(*) FILTER (WHERE m.message_type = 'user'),
       sum(m.tokens_used)
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.created_at >= :lo AND m.created_at < :hi
GROUP BY 1, 2
"""  # noqa: S608 - constants, no user input
)

_COUNT_CONVERSATIONS = text(
    f"""
INSERT INTO analytics_counts (metric, slot, dim, value)
WITH c AS (
    SELECT c.id, c.language, c.message_count, {_slot_sql("c.created_at")} AS slot
    FROM conversations c WHERE c.created_at >= :lo AND c.created_at < :hi
), r AS (
    SELECT c.slot, {_resolution_sql()} AS resolution
    FROM c
    LEFT JOIN LATERAL (
        SELECT bool_or(f.helpful) AS helpful, bool_or(NOT f.helpful) AS unhelpful
        FROM messages m JOIN message_feedback f ON f.message_id = m.id WHERE m.conversation_id = c.id
    ) fb ON true
    LEFT JOIN LATERAL (
        SELECT {ORIGIN_SQL} AS origin FROM messages m
        WHERE m.conversation_id = c.id AND m.message_type = 'assistant' AND m.status <> 'streaming'
        ORDER BY m.id DESC LIMIT 1
    ) last ON true
)
SELECT 'conversations', slot, '', count(*) FROM c GROUP BY slot
UNION ALL SELECT 'conv_language', slot, split_part(lower(language), '-', 1), count(*) FROM c GROUP BY 1, 2, 3
UNION ALL SELECT 'conv_length', c.slot, {_length_sql()}, count(*) FROM c GROUP BY 1, 2, 3
UNION ALL SELECT 'conv_resolution', slot, resolution, count(*) FROM r GROUP BY slot, resolution
UNION ALL SELECT 'users_new', {_slot_sql("u.created_at")}, CASE WHEN u.is_guest THEN 'guest' ELSE 'registered' END,
    count(*) FROM users u WHERE u.created_at >= :lo AND u.created_at < :hi GROUP BY 1, 2, 3
"""  # noqa: S608 - constants, no user input
)

_CLEAR_COUNTS = text("DELETE FROM analytics_counts WHERE slot >= :lo AND slot < :hi")
_CLEAR_USERS = text("DELETE FROM analytics_user_slots WHERE slot >= :lo AND slot < :hi")

# Slots of older rows that changed since the last run: answers whose feedback was given or
# changed, conversations that went on (their figures are counted in the slot they began in).
_LATE_SLOTS = text(
    f"""
SELECT DISTINCT {_slot_sql("m.created_at")} AS slot FROM message_feedback f JOIN messages m ON m.id = f.message_id
WHERE greatest(f.created_at, f.updated_at) >= :since AND m.created_at < :before
UNION
SELECT DISTINCT {_slot_sql("c.created_at")} FROM conversations c
WHERE c.last_message_at >= :since AND c.created_at < :before
"""  # noqa: S608 - constants, no user input
)
_FIRST = text(
    "SELECT least((SELECT min(created_at) FROM messages), (SELECT min(created_at) FROM conversations), "
    "(SELECT min(created_at) FROM users))"
)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    ranges: int
    lo: datetime | None
    hi: datetime
    version: int

    def as_dict(self) -> dict[str, object]:
        return {
            "ranges": self.ranges,
            "from": self.lo.isoformat() if self.lo else None,
            "until": self.hi.isoformat(),
            "version": self.version,
        }


async def refresh_range(session: AsyncSession, lo: datetime, hi: datetime) -> None:
    """Recount the slots from ``lo``'s to the one before ``hi``'s end (both rounded out to whole
    slots). Flushes nothing of its own: the caller's transaction holds it all."""
    lo = slot_of(lo)
    hi = slot_of(hi) + (SLOT if slot_of(hi) != hi else timedelta(0))
    params = {"lo": lo, "hi": hi}
    await session.execute(_CLEAR_COUNTS, params)
    await session.execute(_CLEAR_USERS, params)
    await session.execute(_COUNT_MESSAGES, params)
    await session.execute(_COUNT_USERS_ACTIVE, params)
    await session.execute(_COUNT_CONVERSATIONS, params)


def _merge(slots: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Runs of consecutive slots as [lo, hi) ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for s in sorted(slots):
        if ranges and ranges[-1][1] == s:
            ranges[-1] = (ranges[-1][0], s + SLOT)
        else:
            ranges.append((s, s + SLOT))
    return ranges


async def refresh(
    maker: async_sessionmaker[AsyncSession], *, settle: timedelta, now: datetime | None = None, full: bool = False
) -> RefreshReport:
    """Bring the roll-ups up to ``now``: the recent range and the older slots that changed since
    the last run (see the module's docstring). One transaction; concurrent runs wait in turn."""
    now = now or datetime.now(UTC)
    hi = slot_of(now) + SLOT  # the slot in progress is counted too, and again next time
    report: RefreshReport | None = None
    async for session in session_scope(maker):
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
        until = await session.scalar(text("SELECT refreshed_until FROM analytics_state WHERE id = 1 FOR UPDATE"))
        if full or until is None:
            lo = await session.scalar(_FIRST)
            ranges = [(slot_of(lo), hi)] if lo is not None else []
            if full:
                await session.execute(text("DELETE FROM analytics_counts"))
                await session.execute(text("DELETE FROM analytics_user_slots"))
        else:
            lo = slot_of(min(until, now) - settle)
            late = [s for (s,) in (await session.execute(_LATE_SLOTS, {"since": until - SLOT, "before": lo})).all()]
            ranges = [*_merge(late), (lo, hi)]
        for start, end in ranges:
            await refresh_range(session, start, end)
        version = await session.scalar(
            text(
                "UPDATE analytics_state SET version = version + 1, refreshed_until = :hi, refreshed_at = now() "
                "WHERE id = 1 RETURNING version"
            ),
            {"hi": now},
        )
        report = RefreshReport(len(ranges), ranges[0][0] if ranges else None, hi, int(version or 0))
    assert report is not None
    return report
