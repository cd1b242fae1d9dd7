from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from helpline.models.base import Base, CreatedAt, Timestamps
from helpline.models.enums import (
    HandoffStatus,
    MessageStatus,
    MessageType,
    handoff_status,
    message_status,
    message_type,
)

# A user's message the moderation flagged (chat.service) or staff flagged by hand (moderation):
# the moderation queue's rows, and its partial index's predicate.
FLAGGED_SQL = "message_type = 'user' AND (metadata ->> 'flagged') = 'true'"


class Conversation(Timestamps, Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(10), server_default="en", nullable=False)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    tags: Mapped[list[str] | None] = mapped_column(JSONB)
    message_count: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    total_tokens: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    duration_seconds: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), nullable=False)
    is_archived: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), nullable=False)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Human handoff (helpline.support): who answers, which person has it, since when, and the
    # address a guest gave to be told of a reply.
    handoff_status: Mapped[HandoffStatus] = mapped_column(
        handoff_status, server_default=HandoffStatus.bot.value, nullable=False
    )
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    contact_email: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        Index("idx_conversations_user_id", "user_id"),
        Index("idx_conversations_created_at", text("created_at DESC")),
        # Keyset pagination of a user's list, most recent activity first.
        Index("ix_conversations_user_recent", "user_id", text("last_message_at DESC"), text("id DESC")),
        # The retention job finds conversations untouched since a cutoff (privacy.retention).
        Index("ix_conversations_last_touched", text("greatest(created_at, updated_at, last_message_at)")),
        # The agents' inbox: conversations handed to a person, oldest first (a few among many).
        Index(
            "ix_conversations_handoff_queue",
            "handoff_status",
            "escalated_at",
            postgresql_where=text("handoff_status IN ('waiting_for_agent', 'with_agent')"),
        ),
    )


class Message(CreatedAt, Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text, nullable=False)
    message_type: Mapped[MessageType] = mapped_column(message_type, nullable=False)
    status: Mapped[MessageStatus] = mapped_column(
        message_status, server_default=MessageStatus.sent.value, nullable=False
    )
    tokens_used: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    model_used: Mapped[str | None] = mapped_column(String(100))
    response_time_ms: Mapped[int | None] = mapped_column(Integer)
    # "metadata" is reserved on declarative classes; the column keeps the spec's name.
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The id a client gave a user's message (chat.once: a repeated send stores nothing new).
    client_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("idx_messages_conversation_id", "conversation_id"),
        Index("idx_messages_created_at", text("created_at DESC")),
        Index("idx_messages_user_id", "user_id"),
        # History tails and keyset pages read (conversation_id, id) in order.
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # The moderation queue: users' flagged messages, newest first (a few among many).
        Index("ix_messages_flagged", text("id DESC"), postgresql_where=text(FLAGGED_SQL)),
        # Conversation search in message text (ILIKE '%q%'): trigrams (0024_message_search).
        Index(
            "ix_messages_content_trgm", "content", postgresql_using="gin", postgresql_ops={"content": "gin_trgm_ops"}
        ),
        Index(
            "uq_messages_user_client_id",
            "user_id",
            "client_id",
            unique=True,
            postgresql_where=text("client_id IS NOT NULL"),
        ),
    )


class MessageFeedback(CreatedAt, Base):
    """A user's verdict on one assistant answer; one per user and message, changeable."""

    __tablename__ = "message_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    helpful: Mapped[bool] = mapped_column(Boolean, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("message_id", "user_id", name="uq_message_feedback_message_user"),)


class Handoff(Base):
    """One hand-over of a conversation to a person, start to end: the timings analytics reads
    (escalation, first reply by a person, resolution). A conversation handed over again later
    gets another row."""

    __tablename__ = "conversation_handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    # user (asked), phrase (asked in a message), not_helpful, no_source, flagged, keyword
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    escalated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # resolved (by a person), handed_back (to the assistant)
    outcome: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        Index("ix_conversation_handoffs_conversation_id", "conversation_id"),
        Index("ix_conversation_handoffs_escalated_at", "escalated_at"),
        # At most one open hand-over per conversation.
        Index(
            "uq_conversation_handoffs_open",
            "conversation_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class ConversationNote(CreatedAt, Base):
    """An agent's internal note on a conversation: never shown to its user."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (Index("ix_conversation_notes_conversation_id", "conversation_id", "id"),)
