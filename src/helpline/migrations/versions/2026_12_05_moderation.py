"""moderation queue: reviews of flagged messages, and the queue's index

Revision ID: 0011_moderation
Revises: 0010_privacy
Create Date: 2026-12-05 18:30:00.000000

- moderation_reviews: a staff decision (dismiss, confirm, suspend_user) on a flagged message,
  deleted with the message, its reviewer set to NULL when the reviewer's account is erased;
- ix_messages_flagged: a partial index of users' flagged messages (metadata->>'flagged'), newest
  first, so the queue reads a few rows among all messages.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_moderation"
down_revision: str | None = "0010_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGGED = sa.text("message_type = 'user' AND (metadata ->> 'flagged') = 'true'")


def upgrade() -> None:
    op.create_table(
        "moderation_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_user_id", sa.Integer(), nullable=True),
        sa.Column(
            "decision", sa.Enum("dismiss", "confirm", "suspend_user", name="moderation_decision"), nullable=False
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_moderation_reviews_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_user_id"],
            ["users.id"],
            name=op.f("fk_moderation_reviews_reviewer_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_reviews")),
    )
    op.create_index("ix_moderation_reviews_message_id_id", "moderation_reviews", ["message_id", "id"], unique=False)
    op.create_index(
        op.f("ix_moderation_reviews_reviewer_user_id"), "moderation_reviews", ["reviewer_user_id"], unique=False
    )
    op.create_index(
        "ix_messages_flagged",
        "messages",
        [sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=FLAGGED,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_flagged", table_name="messages", postgresql_where=FLAGGED)
    op.drop_index(op.f("ix_moderation_reviews_reviewer_user_id"), table_name="moderation_reviews")
    op.drop_index("ix_moderation_reviews_message_id_id", table_name="moderation_reviews")
    op.drop_table("moderation_reviews")
    sa.Enum(name="moderation_decision").drop(op.get_bind(), checkfirst=False)
