"""The roll-ups: figures counted from the source tables at three levels, quarter hours ("q"),
hours ("h") and UTC days ("d"), recomputed a whole UTC day at a time.

The series a dashboard draws (messages, answers by origin, feedback, flags, tokens, new users and
conversations: a few values each) are kept per quarter hour, so they can be cut into the local
days of any time zone (all are a whole number of quarter hours from UTC today). Figures with many
values (FAQs cited, response-time buckets, models, conversation lengths and languages), read as
totals of a period, are kept per hour: a period's whole UTC days are read from the day rows and
its ends from the hour rows. For the few zones a half or three quarters of an hour off (India,
Nepal, ...) those totals start and end on the hour before the period's.

A refresh of a range deletes the range's rows and counts its days again from ``messages``,
``message_feedback``, ``conversations`` and ``users``, in one transaction: running it twice over
the same range gives the same figures, and a crash half way leaves the previous ones.

The scheduled job (``refresh``) recomputes everything since the last run and at least the last
``settle_hours`` (answers still streaming, feedback and flags on recent messages), plus the days
of older messages and conversations that changed since: feedback given or changed, conversations
that went on. A moderator flagging an old message by hand is seen only within ``settle_hours``;
``refresh(full=True)`` (`helpline analytics-refresh --full`) recounts everything.

How an answer came about is read from what the chat stores (helpline.chat.service):
``model_used`` "faq" is a FAQ's own answer (a confident match, or the guard standing in with the
best article), "guard" an honest "I don't know", "moderation" a refusal of a flagged question; an
answer the output moderation replaced is marked ``output_flagged``; a failed one has status
failed; ``model_used`` "agent" is a person's reply after a hand-over (helpline.support), counted
apart and kept out of the model figures (answers per model, tokens, cost, response times).
Everything else came from the model. ORIGIN_SQL is that rule, in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpline.core.db import session_scope
from helpline.models.chat import FLAGGED_SQL

SLOT = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Response times go into buckets growing by 10%: a percentile read from them is within 5%.
LATENCY_BASE = 1.1
_ADVISORY_KEY = 0x616E616C  # "anal": one refresh at a time, across processes

ORIGINS = ("faq", "model", "refused", "failed", "agent")
ORIGIN_SQL = """CASE
    WHEN m.model_used = 'agent' THEN 'agent'
    WHEN m.status = 'failed' THEN 'failed'
    WHEN m.model_used IN ('moderation', 'guard') OR (m.metadata ->> 'output_flagged') = 'true'
         OR (m.metadata ->> 'refusal') = 'true' THEN 'refused'
    WHEN m.model_used = 'faq' THEN 'faq'
    ELSE 'model' END"""

# A conversation's outcome, by what is stored now: helpful or not helpful by its feedback; with
# none, abandoned when its last message is an answer that did not help (refused or failed).
# "escalated": handed to a person at least once (helpline.support's conversation_handoffs),
# checked first.
ESCALATED_SQL: str | None = "EXISTS (SELECT 1 FROM conversation_handoffs h WHERE h.conversation_id = c.id)"
RESOLUTIONS = ("helpful", "not_helpful", "abandoned", "escalated", "unrated")
LENGTH_BUCKETS = ((1, 2, "1-2"), (3, 4, "3-4"), (5, 9, "5-9"), (10, 19, "10-19"), (20, None, "20+"))


def slot_of(moment: datetime) -> datetime:
    """The start of the slot ``moment`` falls in."""
    return EPOCH + ((moment - EPOCH) // SLOT) * SLOT


def hour_of(moment: datetime) -> datetime:
    """The start of the hour ``moment`` falls in (UTC)."""
    return EPOCH + ((moment - EPOCH) // HOUR) * HOUR


def day_of(moment: datetime) -> datetime:
    """The start of the UTC day ``moment`` falls in."""
    return EPOCH + ((moment - EPOCH) // DAY) * DAY


def latency_bucket(ms: int) -> int:
    return math.floor(math.log(max(ms, 0) + 1) / math.log(LATENCY_BASE))


def latency_value(bucket: int) -> float:
    """A bucket's representative time in ms (its geometric middle)."""
    return float(LATENCY_BASE ** (bucket + 0.5) - 1)


def _bin(column: str, width: str = "15 minutes") -> str:
    # date_bin from a fixed UTC origin: the same bins whatever the session's TimeZone.
    return f"date_bin('{width}', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


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


_FLAGGED = FLAGGED_SQL.replace("metadata", "m.metadata").replace("message_type", "m.message_type")
_MESSAGES_CTE = f"""
WITH m AS (
    SELECT m.id, m.conversation_id, m.message_type, m.status, m.model_used, m.tokens_used,
           m.response_time_ms, m.metadata, {_bin("m.created_at")} AS slot,
           {_bin("m.created_at", "1 hour")} AS hour, {ORIGIN_SQL} AS origin, ({_FLAGGED}) AS flagged
    FROM messages m
    WHERE m.created_at >= :lo AND m.created_at < :hi
), a AS (
    SELECT * FROM m WHERE message_type = 'assistant' AND status <> 'streaming'
), bot AS (
    SELECT * FROM a WHERE origin <> 'agent'
), src AS (
    SELECT a.id, a.hour, s ->> 'id' AS faq_id
    FROM a CROSS JOIN LATERAL jsonb_array_elements(
        CASE jsonb_typeof(a.metadata -> 'sources') WHEN 'array' THEN a.metadata -> 'sources' ELSE '[]'::jsonb END
    ) AS s
    WHERE s ->> 'id' IS NOT NULL
), fb AS (
    SELECT a.id, a.slot, f.helpful FROM a JOIN message_feedback f ON f.message_id = a.id
)
"""  # noqa: S608 - constants, no user input

# Series metrics (few values of dim) per quarter hour; the others, whose dims are many (FAQs,
# response-time buckets, models), per hour: the dashboards read them as totals of the period.
SERIES_METRICS = ("messages", "answers", "feedback", "flags", "tokens", "conversations", "users_new")
_COUNT_MESSAGES = text(
    f"""INSERT INTO analytics_counts (metric, level, slot, dim, value) {_MESSAGES_CTE}
SELECT 'messages', 'q', slot, message_type::text, count(*) FROM m GROUP BY slot, message_type
UNION ALL SELECT 'answers', 'q', slot, origin, count(*) FROM a GROUP BY slot, origin
UNION ALL SELECT 'tokens', 'q', slot, '', sum(tokens_used) FROM bot WHERE tokens_used > 0 GROUP BY slot
UNION ALL SELECT 'flags', 'q', slot, '', count(*) FROM m WHERE flagged GROUP BY slot
UNION ALL SELECT 'feedback', 'q', slot, CASE WHEN helpful THEN 'helpful' ELSE 'not_helpful' END, count(*)
    FROM fb GROUP BY 1, 2, 3, 4
UNION ALL SELECT 'answers_model', 'h', hour, coalesce(model_used, ''), count(*) FROM bot GROUP BY hour, model_used
UNION ALL SELECT 'tokens_in', 'h', hour, coalesce(model_used, ''),
    sum(coalesce((metadata -> 'usage' ->> 'prompt_tokens')::bigint, 0))
    FROM bot WHERE tokens_used > 0 GROUP BY hour, model_used
UNION ALL SELECT 'tokens_out', 'h', hour, coalesce(model_used, ''),
    sum(coalesce((metadata -> 'usage' ->> 'completion_tokens')::bigint, tokens_used))
    FROM bot WHERE tokens_used > 0 GROUP BY hour, model_used
UNION ALL SELECT 'latency', 'h', hour, floor(ln(greatest(response_time_ms, 0) + 1) / ln({LATENCY_BASE}))::int::text,
    count(*) FROM bot WHERE response_time_ms IS NOT NULL AND status <> 'failed' GROUP BY 1, 2, 3, 4
UNION ALL SELECT 'faq_sources', 'h', hour, faq_id, count(*) FROM src GROUP BY hour, faq_id
UNION ALL SELECT 'faq_thumbs_down', 'h', src.hour, src.faq_id, count(*)
    FROM src JOIN fb ON fb.id = src.id AND NOT fb.helpful GROUP BY src.hour, src.faq_id
"""  # noqa: S608 - constants, no user input
)

_COUNT_USERS_ACTIVE = text(
    f"""
INSERT INTO analytics_user_slots (user_id, slot, messages, questions, tokens)
SELECT c.user_id, {_bin("m.created_at")}, count(*), count(*) FILTER (WHERE m.message_type = 'user'),
       sum(m.tokens_used)
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.created_at >= :lo AND m.created_at < :hi
GROUP BY 1, 2
"""  # noqa: S608 - constants, no user input
)

_COUNT_CONVERSATIONS = text(
    f"""
INSERT INTO analytics_counts (metric, level, slot, dim, value)
WITH c AS (
    SELECT c.id, c.language, c.message_count, {_bin("c.created_at")} AS slot,
           {_bin("c.created_at", "1 hour")} AS hour
    FROM conversations c WHERE c.created_at >= :lo AND c.created_at < :hi
), r AS (
    SELECT c.hour, {_resolution_sql()} AS resolution
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
SELECT 'conversations', 'q', slot, '', count(*) FROM c GROUP BY slot
UNION ALL SELECT 'conv_language', 'h', hour, split_part(lower(language), '-', 1), count(*) FROM c GROUP BY 1, 2, 3, 4
UNION ALL SELECT 'conv_length', 'h', c.hour, {_length_sql()}, count(*) FROM c GROUP BY 1, 2, 3, 4
UNION ALL SELECT 'conv_resolution', 'h', hour, resolution, count(*) FROM r GROUP BY hour, resolution
UNION ALL SELECT 'users_new', 'q', {_bin("u.created_at")}, CASE WHEN u.is_guest THEN 'guest' ELSE 'registered' END,
    count(*) FROM users u WHERE u.created_at >= :lo AND u.created_at < :hi GROUP BY 1, 2, 3, 4
"""  # noqa: S608 - constants, no user input
)

# The coarser levels, summed from the finer ones: series per hour, everything per UTC day.
_SERIES_HOURS = text(
    f"""
INSERT INTO analytics_counts (metric, level, slot, dim, value)
SELECT metric, 'h', {_bin("slot", "1 hour")}, dim, sum(value) FROM analytics_counts
WHERE level = 'q' AND slot >= :lo AND slot < :hi GROUP BY 1, 2, 3, 4
"""  # noqa: S608 - constants, no user input
)
_DAYS = text(
    f"""
INSERT INTO analytics_counts (metric, level, slot, dim, value)
SELECT metric, 'd', {_bin("slot", "1 day")}, dim, sum(value) FROM analytics_counts
WHERE level = 'h' AND slot >= :lo AND slot < :hi GROUP BY 1, 2, 3, 4
"""  # noqa: S608 - constants, no user input
)

_CLEAR_COUNTS = text("DELETE FROM analytics_counts WHERE slot >= :lo AND slot < :hi")  # every level
_CLEAR_USERS = text("DELETE FROM analytics_user_slots WHERE slot >= :lo AND slot < :hi")

# Slots of older rows that changed since the last run: answers whose feedback was given or
# changed, conversations that went on (their figures are counted in the slot they began in).
_LATE_DAYS = text(
    f"""
SELECT DISTINCT {_bin("m.created_at", "1 day")} AS day FROM message_feedback f JOIN messages m ON m.id = f.message_id
WHERE greatest(f.created_at, f.updated_at) >= :since AND m.created_at < :before
UNION
SELECT DISTINCT {_bin("c.created_at", "1 day")} FROM conversations c
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
    """Recount the UTC days from ``lo``'s to ``hi``'s (a partial day is recounted whole, so each
    level, quarter hours, hours and days, is complete for every day it has). Flushes nothing of
    its own: the caller's transaction holds it all."""
    lo = day_of(lo)
    hi = day_of(hi) + (DAY if day_of(hi) != hi else timedelta(0))
    params = {"lo": lo, "hi": hi}
    await session.execute(_CLEAR_COUNTS, params)
    await session.execute(_CLEAR_USERS, params)
    await session.execute(_COUNT_MESSAGES, params)
    await session.execute(_COUNT_CONVERSATIONS, params)
    await session.execute(_SERIES_HOURS, params)
    await session.execute(_DAYS, params)
    await session.execute(_COUNT_USERS_ACTIVE, params)


def _merge(days: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Runs of consecutive days as [lo, hi) ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for d in sorted(days):
        if ranges and ranges[-1][1] == d:
            ranges[-1] = (ranges[-1][0], d + DAY)
        else:
            ranges.append((d, d + DAY))
    return ranges


async def refresh(
    maker: async_sessionmaker[AsyncSession], *, settle: timedelta, now: datetime | None = None, full: bool = False
) -> RefreshReport:
    """Bring the roll-ups up to ``now``: the recent range and the older slots that changed since
    the last run (see the module's docstring). One transaction; concurrent runs wait in turn."""
    now = now or datetime.now(UTC)
    hi = day_of(now) + DAY  # the day in progress is counted too, and again next time
    report: RefreshReport | None = None
    async for session in session_scope(maker):
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
        until = await session.scalar(text("SELECT refreshed_until FROM analytics_state WHERE id = 1 FOR UPDATE"))
        if full or until is None:
            lo = await session.scalar(_FIRST)
            ranges = [(day_of(lo), hi)] if lo is not None else []
            if full:
                await session.execute(text("DELETE FROM analytics_counts"))
                await session.execute(text("DELETE FROM analytics_user_slots"))
        else:
            lo = day_of(min(until, now) - settle)
            late = [d for (d,) in (await session.execute(_LATE_DAYS, {"since": until - SLOT, "before": lo})).all()]
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
