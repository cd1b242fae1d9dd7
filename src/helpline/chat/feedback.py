"""Helpful / not-helpful verdicts on answers, for analytics and for phrasings suggested to staff
(a "helpful" answer that cited a FAQ suggests the user's question as one: faqs/suggestions.py)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core.config import SupportSettings
from helpline.core.errors import NotFound
from helpline.faqs.suggestions import on_feedback
from helpline.models import Conversation, Message, MessageFeedback, MessageType
from helpline.support.live import Notice
from helpline.support.service import after_feedback


async def record_feedback(
    session: AsyncSession,
    user_id: int,
    message_id: int,
    helpful: bool,
    comment: str | None,
    *,
    support: SupportSettings,
) -> tuple[MessageFeedback, bool, list[Notice]]:
    """Store the verdict; then whether to offer a person, and the notices of a hand-over a
    repeated "Not helpful" made (helpline.support.service.after_feedback)."""
    owned = await session.scalar(
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.id == message_id,
            Conversation.user_id == user_id,
            Message.message_type == MessageType.assistant,
        )
    )
    if owned is None:
        raise NotFound("No such answer")
    stmt = (
        insert(MessageFeedback)
        .values(message_id=message_id, user_id=user_id, helpful=helpful, comment=comment)
        .on_conflict_do_update(
            constraint="uq_message_feedback_message_user",
            set_={"helpful": helpful, "comment": comment, "updated_at": func.now()},
        )
        .returning(MessageFeedback)
    )
    row: MessageFeedback = (await session.execute(stmt)).scalar_one()
    await on_feedback(session, user_id=user_id, answer_id=message_id, helpful=helpful)
    offer, notices = await after_feedback(session, support, message_id, helpful)
    return row, offer, notices
