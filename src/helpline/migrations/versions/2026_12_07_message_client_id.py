"""idempotent sends: a client may name each message it sends (messages.client_id, such as a
UUID its offline outbox made), so a send repeated after a lost response stores nothing new

Revision ID: 0026_message_client_id
Revises: 0025_device_votes
Create Date: 2026-12-07 12:40:00.000000

- messages.client_id varchar(64), nullable (set only on users' messages that came with one).
- One message per user and client id: unique partial index uq_messages_user_client_id
  (user_id, client_id) WHERE client_id IS NOT NULL; the chat turn's insert fails on a repeat and
  chat.once answers it with the first send's result.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_message_client_id"
down_revision: str | None = "0025_device_votes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("client_id", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_messages_user_client_id",
        "messages",
        ["user_id", "client_id"],
        unique=True,
        postgresql_where=sa.text("client_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_messages_user_client_id", table_name="messages")
    op.drop_column("messages", "client_id")
