"""Roll-up tables of the support dashboards (helpline.analytics), written only by its refresh job.

Figures are counted per 15-minute slot (UTC): every time zone in use today is a whole number of
quarter hours from UTC, so a slot never straddles a local day, week or month and the dashboards
can bucket by any zone from the same rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from helpline.models.base import Base


class AnalyticsCount(Base):
    """One figure of one period: ``metric`` (messages, answers, tokens_in, ...) split by ``dim``
    (the answer's origin, the model, the FAQ id, ...; empty when the figure has no split).
    Only counts: no text, no user id."""

    __tablename__ = "analytics_counts"

    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    # q: the quarter hour starting at slot; h: the hour; d: the UTC day (helpline.analytics.rollup).
    level: Mapped[str] = mapped_column(String(1), primary_key=True)
    slot: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    dim: Mapped[str] = mapped_column(String(120), primary_key=True, server_default="")
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)

    # The primary key (metric, level, slot, dim) serves the dashboards' reads: some metrics at one
    # level over a range of slots; the refresh deletes a range of slots.
    __table_args__ = (
        CheckConstraint("level IN ('q', 'h', 'd')", name="level"),
        Index("ix_analytics_counts_slot", "slot"),
    )


class AnalyticsUserSlot(Base):
    """A user was active in a slot (a message in one of their conversations): distinct users over
    any range, and a user's own figures. Goes with the account (CASCADE)."""

    __tablename__ = "analytics_user_slots"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    slot: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, nullable=False)
    questions: Mapped[int] = mapped_column(Integer, nullable=False)
    tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)

    # Active users of a range: an index-only scan of (slot, user_id).
    __table_args__ = (Index("ix_analytics_user_slots_slot_user", "slot", "user_id"),)


class AnalyticsState(Base):
    """One row: how far the roll-ups are complete, and a version bumped by every refresh (the
    dashboards' cache keys carry it, so a refresh is never hidden by a cached answer)."""

    __tablename__ = "analytics_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    refreshed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(BigInteger, server_default="0", nullable=False)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
