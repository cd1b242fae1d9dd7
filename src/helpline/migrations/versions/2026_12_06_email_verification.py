"""email verification: users.email_verified_at

Revision ID: 0016_email_verification
Revises: 0015_jobs_schema
Create Date: 2026-12-06 21:40:00.000000

- users.email_verified_at: when the owner opened the link mailed to the current address (NULL:
  not confirmed; a change of email clears it). Accounts that exist before this revision are taken
  as confirmed (their creation time), so HELPLINE_AUTH_EMAIL_VERIFICATION=required locks nobody
  out who could sign in yesterday.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_email_verification"
down_revision: str | None = "0015_jobs_schema"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE users SET email_verified_at = created_at WHERE NOT is_guest")


def downgrade() -> None:
    op.drop_column("users", "email_verified_at")
