from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from helpline.models.base import Base, CreatedAt, Timestamps
from helpline.models.enums import MessageStatus, MessageType, message_status, message_type

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

    __table_args__ = (
        Index("idx_conversations_user_id", "user_id"),
        Index("idx_conversations_created_at", text("created_at DESC")),
        # Keyset pagination of a user's list, most recent activity first.
        Index("ix_conversations_user_recent", "user_id", text("last_message_at DESC"), text("id DESC")),
        # The retention job finds conversations untouched since a cutoff (privacy.retention).
        Index("ix_conversations_last_touched", text("greatest(created_at, updated_at, last_message_at)")),
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

    __table_args__ = (
        Index("idx_messages_conversation_id", "conversation_id"),
        Index("idx_messages_created_at", text("created_at DESC")),
        Index("idx_messages_user_id", "user_id"),
        # History tails and keyset pages read (conversation_id, id) in order.
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # The moderation queue: users' flagged messages, newest first (a few among many).
        Index("ix_messages_flagged", text("id DESC"), postgresql_where=text(FLAGGED_SQL)),
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
