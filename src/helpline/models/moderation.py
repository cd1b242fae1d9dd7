from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpline.models.base import Base, CreatedAt
from helpline.models.enums import ModerationDecision, moderation_decision


class ModerationReview(CreatedAt, Base):
    """A staff decision on a flagged message. Usually one per message; an administrator may
    overrule with a different decision, which adds a row (the latest is the message's review)."""

    __tablename__ = "moderation_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The review goes with the message (and so with its author's erasure).
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), nullable=False)
    # An erased reviewer leaves their decisions, unsigned.
    reviewer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    decision: Mapped[ModerationDecision] = mapped_column(moderation_decision, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # The queue reads a message's latest review: (message_id, id DESC).
        Index("ix_moderation_reviews_message_id_id", "message_id", "id"),
    )
