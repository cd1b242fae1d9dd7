"""analytics: roll-up tables of the support dashboards

Revision ID: 0018_analytics
Revises: 0017_notification_settings
Create Date: 2026-12-07 00:00:00.000000

- analytics_counts: (metric, level, slot, dim) -> value, per quarter hour, hour or UTC day;
  counts only, no text or user id.
- analytics_user_slots: (user, slot) -> messages, questions, tokens; goes with the user (CASCADE).
- analytics_state: one row, how far the roll-ups are complete and their version.
Filled by the analytics_refresh job (helpline.analytics.rollup), never by requests.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_analytics"
down_revision: str | None = "0017_notification_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_counts",
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("level", sa.String(1), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dim", sa.String(120), server_default="", nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("level IN ('q', 'h', 'd')", name=op.f("ck_analytics_counts_level")),
        sa.PrimaryKeyConstraint("metric", "level", "slot", "dim", name=op.f("pk_analytics_counts")),
    )
    op.create_index("ix_analytics_counts_slot", "analytics_counts", ["slot"])
    op.create_table(
        "analytics_user_slots",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("questions", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_analytics_user_slots_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "slot", name=op.f("pk_analytics_user_slots")),
    )
    op.create_index("ix_analytics_user_slots_slot_user", "analytics_user_slots", ["slot", "user_id"])
    op.create_table(
        "analytics_state",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("refreshed_until", sa.DateTime(timezone=True)),
        sa.Column("refreshed_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_analytics_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_state")),
    )
    op.execute("INSERT INTO analytics_state (id, version) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("analytics_state")
    op.drop_index("ix_analytics_user_slots_slot_user", table_name="analytics_user_slots")
    op.drop_table("analytics_user_slots")
    op.drop_index("ix_analytics_counts_slot", table_name="analytics_counts")
    op.drop_table("analytics_counts")
