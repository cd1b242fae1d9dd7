"""human handoff: a conversation's status (assistant, waiting for a person, with a person,
resolved), its agent, internal notes and the timings of each hand-over

Revision ID: 0023_handoff
Revises: 0022_api_keys
Create Date: 2026-12-07 00:00:00.000000

- conversations: handoff_status (enum handoff_status, default 'bot'), assigned_agent_id (SET NULL
  when the agent's account goes), claimed_at, escalated_at, contact_email (a guest's address for
  the reply); a partial index for the agents' queue.
- conversation_handoffs: one row per hand-over (reason, escalated/claimed/first reply/ended,
  outcome); at most one open per conversation (partial unique index).
- conversation_notes: agents' internal notes, never shown to the user.
Agents' replies are messages of type 'assistant' with metadata.author = 'agent' (the spec's
message_type enum is unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023_handoff"
down_revision: str | None = "0022_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS = postgresql.ENUM("bot", "waiting_for_agent", "with_agent", "resolved", name="handoff_status")


def upgrade() -> None:
    STATUS.create(op.get_bind(), checkfirst=False)
    status = postgresql.ENUM(name="handoff_status", create_type=False)
    op.add_column("conversations", sa.Column("handoff_status", status, server_default="bot", nullable=False))
    op.add_column(
        "conversations",
        sa.Column(
            "assigned_agent_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_conversations_assigned_agent_id_users"),
        ),
    )
    op.add_column("conversations", sa.Column("claimed_at", sa.DateTime(timezone=True)))
    op.add_column("conversations", sa.Column("escalated_at", sa.DateTime(timezone=True)))
    op.add_column("conversations", sa.Column("contact_email", sa.String(255)))
    op.create_index(
        "ix_conversations_handoff_queue",
        "conversations",
        ["handoff_status", "escalated_at"],
        postgresql_where=sa.text("handoff_status IN ('waiting_for_agent', 'with_agent')"),
    )
    op.create_table(
        "conversation_handoffs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("first_reply_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(20)),
    )
    op.create_index("ix_conversation_handoffs_conversation_id", "conversation_handoffs", ["conversation_id"])
    op.create_index("ix_conversation_handoffs_escalated_at", "conversation_handoffs", ["escalated_at"])
    op.create_index(
        "uq_conversation_handoffs_open",
        "conversation_handoffs",
        ["conversation_id"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_conversation_notes_conversation_id", "conversation_notes", ["conversation_id", "id"])


def downgrade() -> None:
    op.drop_table("conversation_notes")
    op.drop_table("conversation_handoffs")
    op.drop_index("ix_conversations_handoff_queue", table_name="conversations")
    for column in ("contact_email", "escalated_at", "claimed_at", "assigned_agent_id", "handoff_status"):
        op.drop_column("conversations", column)
    STATUS.drop(op.get_bind(), checkfirst=False)
