"""search in message text: a trigram index on messages.content

Revision ID: 0024_message_search
Revises: 0023_handoff
Create Date: 2026-12-07 03:00:00.000000

The conversation list's search (GET /conversations?q=) looks in every message's text as well as
the title, with ILIKE '%q%'. A GIN trigram index (pg_trgm, a trusted extension: the database
owner may create it) answers a substring of three or more characters without reading every
message of every conversation.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024_message_search"
down_revision: str | None = "0023_handoff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_messages_content_trgm ON messages USING gin (content gin_trgm_ops)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_messages_content_trgm")
