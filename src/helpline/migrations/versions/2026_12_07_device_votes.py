"""device votes and "did you mean": a visitor without an account votes on a FAQ once per device
(faq_votes.device_id, a random id the browser keeps), and pg_trgm for spelling suggestions over
the words of FAQ questions (faqs/spelling.py)

Revision ID: 0025_device_votes
Revises: 0023_handoff
Create Date: 2026-12-07 03:00:00.000000

- faq_votes: user_id becomes nullable; device_id (nullable); exactly one of the two is set (check
  constraint voter); one vote per FAQ and device (uq_faq_votes_faq_device). The counting trigger
  (migration 0003) counts every row, whoever cast it.
- CREATE EXTENSION pg_trgm (contrib, shipped with PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_device_votes"
down_revision: str | None = "0024_message_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.alter_column("faq_votes", "user_id", existing_type=sa.Integer(), nullable=True)
    op.add_column("faq_votes", sa.Column("device_id", sa.String(length=64), nullable=True))
    op.create_unique_constraint("uq_faq_votes_faq_device", "faq_votes", ["faq_id", "device_id"])
    op.create_check_constraint("voter", "faq_votes", "(user_id IS NULL) <> (device_id IS NULL)")


def downgrade() -> None:
    op.execute("DELETE FROM faq_votes WHERE user_id IS NULL")
    op.drop_constraint(op.f("ck_faq_votes_voter"), "faq_votes", type_="check")
    op.drop_constraint("uq_faq_votes_faq_device", "faq_votes", type_="unique")
    op.drop_column("faq_votes", "device_id")
    op.alter_column("faq_votes", "user_id", existing_type=sa.Integer(), nullable=False)
    # pg_trgm stays: other databases objects may use it, and it is harmless.
