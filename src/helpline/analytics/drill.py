"""The conversations behind a figure (a list: dates, language, length; no text), and reading a
conversation that got a thumbs-down, for administrators, read-only and audited.

A drill-down is a page of a list, not an aggregate: it reads the source tables for the period
and stops at ``limit`` rows (keyset on the conversation id, newest first)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.analytics.period import Period
from helpline.analytics.rollup import ORIGIN_SQL
from helpline.analytics.schemas import DrillItem, DrillPage, Figure, TranscriptMessage, TranscriptRead
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.cursors import decode_cursor, encode_cursor, int4
from helpline.core.errors import NotFound
from helpline.models import User
from helpline.models.chat import FLAGGED_SQL

_ANSWERS = "m.message_type = 'assistant' AND m.status <> 'streaming'"
# Which messages of the period make a conversation count for each figure (``m`` a message).
_FIGURES: dict[str, str] = {
    "thumbs_down": "EXISTS (SELECT 1 FROM message_feedback f WHERE f.message_id = m.id AND NOT f.helpful)",
    "helpful": "EXISTS (SELECT 1 FROM message_feedback f WHERE f.message_id = m.id AND f.helpful)",
    "refused": f"{_ANSWERS} AND ({ORIGIN_SQL}) = 'refused'",
    "faq": f"{_ANSWERS} AND ({ORIGIN_SQL}) = 'faq'",
    "model": f"{_ANSWERS} AND ({ORIGIN_SQL}) = 'model'",
    "failed": f"{_ANSWERS} AND ({ORIGIN_SQL}) = 'failed'",
    "agent": f"{_ANSWERS} AND ({ORIGIN_SQL}) = 'agent'",
    "flagged": FLAGGED_SQL.replace("metadata", "m.metadata").replace("message_type", "m.message_type"),
}
_THUMBS_DOWN = (
    "EXISTS (SELECT 1 FROM messages m JOIN message_feedback f ON f.message_id = m.id "
    "WHERE m.conversation_id = c.id AND NOT f.helpful)"
)

# One statement per figure, built once from the constants above (a figure is one of their keys).
_DRILL = {
    figure: text(
        f"""
        SELECT c.id, c.created_at, c.language, c.message_count, c.last_message_at, {_THUMBS_DOWN} AS readable
        FROM conversations c
        WHERE c.id IN (
            SELECT m.conversation_id FROM messages m
            WHERE m.created_at >= :lo AND m.created_at < :hi AND {condition}
        ) AND (CAST(:before AS integer) IS NULL OR c.id < :before)
        ORDER BY c.id DESC LIMIT :limit
        """  # noqa: S608 - constants, no user input
    )
    for figure, condition in _FIGURES.items()
}
_READABLE = text(f"SELECT c.id, c.language, c.created_at FROM conversations c WHERE c.id = :cid AND {_THUMBS_DOWN}")  # noqa: S608


async def conversations_behind(
    session: AsyncSession, period: Period, figure: Figure, *, cursor: str | None, limit: int
) -> DrillPage:
    """Conversations with a message of ``period`` counted in ``figure``, newest first."""
    before = decode_cursor(cursor, int4)[0] if cursor else None
    stmt = _DRILL[figure]
    rows = (await session.execute(stmt, {"lo": period.lo, "hi": period.hi, "before": before, "limit": limit + 1})).all()
    items = [
        DrillItem(
            conversation_id=r.id,
            started_at=r.created_at,
            language=r.language,
            message_count=r.message_count,
            last_message_at=r.last_message_at,
            readable=bool(r.readable),
        )
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor(items[-1].conversation_id) if len(rows) > limit else None
    return DrillPage(figure=figure, items=items, next_cursor=next_cursor)


_TRANSCRIPT = text(
    f"""
    SELECT m.id, m.message_type::text AS role, m.content, m.created_at,
           CASE WHEN m.message_type = 'assistant' THEN {ORIGIN_SQL} END AS origin,
           (SELECT bool_and(f.helpful) FROM message_feedback f WHERE f.message_id = m.id) AS helpful
    FROM messages m WHERE m.conversation_id = :cid ORDER BY m.id
    """  # noqa: S608 - constants, no user input
)


async def read_thumbs_down(session: AsyncSession, actor: User, conversation_id: int, client: Client) -> TranscriptRead:
    """A conversation with at least one answer rated not helpful, read-only, for an administrator;
    the read is written to the audit trail. Any other conversation is a 404 (as a missing one):
    staff read only what a user's thumbs-down put in front of them."""
    row = (
        await session.execute(
            _READABLE,
            {"cid": conversation_id},
        )
    ).first()
    if row is None:
        raise NotFound("No conversation with a thumbs-down has this id")
    messages = (await session.execute(_TRANSCRIPT, {"cid": conversation_id})).all()
    audit.record(
        session,
        "analytics.conversation_read",
        actor_user_id=actor.id,
        target_type="conversation",
        target_id=conversation_id,
        client=client,
        details={"reason": "thumbs_down", "messages": len(messages)},
    )
    return TranscriptRead(
        conversation_id=row.id,
        language=row.language,
        started_at=row.created_at,
        messages=[
            TranscriptMessage(
                id=m.id, role=m.role, content=m.content, created_at=m.created_at, origin=m.origin, helpful=m.helpful
            )
            for m in messages
        ],
    )
