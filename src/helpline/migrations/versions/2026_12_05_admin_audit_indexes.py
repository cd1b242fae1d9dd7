"""admin: audit_log indexes for the administration screens' filters

Revision ID: 0012_admin
Revises: 0010_privacy
Create Date: 2026-12-05 18:30:00.000000

- ix_audit_log_target (target_type, target_id): everything that happened to one account or thing;
- ix_audit_log_created_at: the audit screen's since/until range.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_admin"
down_revision: str | None = "0011_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"])
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_created_at", table_name="audit_log")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
