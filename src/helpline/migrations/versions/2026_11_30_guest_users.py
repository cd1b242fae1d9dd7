"""guest users of the embeddable widget

Revision ID: 0004_guests
Revises: 0003_faqs
Create Date: 2026-11-30 20:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_guests"
down_revision: str | None = "0003_faqs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column("users", sa.Column("is_guest", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.create_index(
        "ix_users_guest_created_at",
        "users",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("is_guest"),
    )


def downgrade() -> None:
    op.drop_index("ix_users_guest_created_at", table_name="users", postgresql_where=sa.text("is_guest"))
    op.drop_column("users", "is_guest")
