"""A user's conversations: keyset-paginated lists, messages, rename/archive/tag, delete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, exists, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from helpline.conversations.schemas import ConversationUpdate
from helpline.core.cursors import decode_cursor, encode_cursor, int4
from helpline.core.errors import BadRequest, NotFound
from helpline.models import Conversation, Message, MessageFeedback, UnansweredQuestion

Status = Literal["active", "archived", "all"]


def like(q: str) -> str:
    """An ILIKE pattern that finds `q` as written (LIKE's own characters escaped)."""
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_conversations(
    session: AsyncSession, user_id: int, *, status: Status, q: str | None, cursor: str | None, limit: int
) -> tuple[list[Conversation], str | None]:
    """Most recent activity first; keyset on (last_message_at, id) so deep pages stay cheap."""
    stmt = (
        select(Conversation)
        .where(Conversation.user_id == user_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit + 1)
    )
    if status != "all":
        stmt = stmt.where(Conversation.is_archived.is_(status == "archived"))
    if q:
        # The title or any message's text; messages.content has a trigram index (0024_message_search),
        # so a substring of 3+ characters is found without reading every message.
        pattern = like(q)
        in_text = exists().where(Message.conversation_id == Conversation.id, Message.content.ilike(pattern))
        stmt = stmt.where(or_(Conversation.title.ilike(pattern), in_text))
    if cursor:
        ts, cid = decode_cursor(cursor, datetime.fromisoformat, int4)
        stmt = stmt.where(tuple_(Conversation.last_message_at, Conversation.id) < tuple_(ts, cid))
    rows = list((await session.scalars(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    next_cursor = (
        encode_cursor(last.last_message_at.isoformat(), last.id) if more and last and last.last_message_at else None
    )
    return rows, next_cursor


async def get_owned(session: AsyncSession, user_id: int, conversation_id: int) -> Conversation:
    """The conversation if it is this user's; otherwise 404 (whether or not it exists)."""
    conv = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    )
    if conv is None:
        raise NotFound("No such conversation")
    return conv


async def messages_page(
    session: AsyncSession, conversation_id: int, user_id: int, *, before: int | None, limit: int
) -> tuple[list[tuple[Message, bool | None]], int | None]:
    """The newest ``limit`` messages before ``before`` (returned oldest first), each with
    ``user_id``'s feedback on it (None: none given), and the next cursor."""
    stmt = (
        select(Message, MessageFeedback.helpful)
        .outerjoin(MessageFeedback, (MessageFeedback.message_id == Message.id) & (MessageFeedback.user_id == user_id))
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(Message.id < before)
    rows: list[tuple[Message, bool | None]] = [(m, helpful) for m, helpful in (await session.execute(stmt)).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    return rows, (rows[0][0].id if more and rows else None)


async def all_messages(session: AsyncSession, conversation_id: int, limit: int) -> list[Message]:
    """The conversation's first ``limit`` messages, oldest first (for an export)."""
    stmt = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def update(session: AsyncSession, conv: Conversation, data: ConversationUpdate) -> Conversation:
    changes = data.model_dump(exclude_unset=True)
    for key in ("title", "is_archived"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null")
    if "tags" in changes and changes["tags"] is not None:
        changes["tags"] = list(dict.fromkeys(t.strip() for t in changes["tags"] if t.strip()))
    for key, value in changes.items():
        setattr(conv, key, value)
    if "is_archived" in changes:
        conv.is_active = not changes["is_archived"]
    await session.flush()
    await session.refresh(conv)
    return conv


async def remove(session: AsyncSession, conv: Conversation) -> list[int]:
    """Delete the conversation; returns its messages' ids, whose answer streams the caller
    forgets (``GenerationHub.erase``)."""
    return await delete_conversations(session, [conv.id])


async def delete_conversations(db: AsyncSession | AsyncConnection, ids: Sequence[int]) -> list[int]:
    """Delete these conversations with everything of theirs: messages and feedback (ON DELETE
    CASCADE) and the unanswered questions asked in them. Returns the messages' ids: their answer
    streams (Redis or in process) are the caller's to erase once this is committed or about to be."""
    if not ids:
        return []
    message_ids = list((await db.scalars(select(Message.id).where(Message.conversation_id.in_(ids)))).all())
    # They would go by CASCADE too; deleted by name so that the rule is stated here.
    await db.execute(delete(UnansweredQuestion).where(UnansweredQuestion.conversation_id.in_(ids)))
    await db.execute(delete(Conversation).where(Conversation.id.in_(ids)))
    return message_ids
