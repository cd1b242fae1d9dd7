"""privacy rights: analytics consent, consent sources, data exports, audit pseudonyms

Revision ID: 0010_privacy
Revises: 0009_mask_unanswered_pii
Create Date: 2026-12-05 08:10:00.000000

- consent_type gains 'analytics' (kept on downgrade: PostgreSQL cannot drop an enum value, and
  the whole type goes with the initial migration's downgrade);
- users.analytics_consent, consent_records.source;
- privacy_exports: a user's data export jobs and their ZIP;
- audit_log.actor_pseudonym, and the append-only trigger allows one narrow UPDATE: an account
  erasure (privacy.erasure) that sets helpline.audit_pseudonymise for its transaction may replace
  the erased user's ids by a pseudonym and null their address and user agent, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_privacy"
down_revision: str | None = "0009_mask_unanswered_pii"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column keeps its value, or is nulled, except target_id (to an 'erased:' pseudonym) and
# actor_pseudonym; the action, time, request id, details and note never change. DELETE and
# TRUNCATE stay refused.
PSEUDONYMISING_TRIGGER = """
    CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND current_setting('helpline.audit_pseudonymise', true) = 'on'
           AND NEW.id = OLD.id AND NEW.action = OLD.action AND NEW.created_at = OLD.created_at
           AND NEW.target_type IS NOT DISTINCT FROM OLD.target_type
           AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id
           AND NEW.details IS NOT DISTINCT FROM OLD.details
           AND NEW.note IS NOT DISTINCT FROM OLD.note
           AND (NEW.actor_user_id IS NULL OR NEW.actor_user_id = OLD.actor_user_id)
           AND (NEW.ip_address IS NULL OR NEW.ip_address = OLD.ip_address)
           AND (NEW.user_agent IS NULL OR NEW.user_agent = OLD.user_agent)
           AND (NEW.target_id IS NOT DISTINCT FROM OLD.target_id OR NEW.target_id LIKE 'erased:%')
           AND (NEW.actor_pseudonym IS NOT DISTINCT FROM OLD.actor_pseudonym OR OLD.actor_pseudonym IS NULL)
        THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
    END;
    $$
"""

APPEND_ONLY_TRIGGER = """
    CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
    END;
    $$
"""


def upgrade() -> None:
    op.execute("ALTER TYPE consent_type ADD VALUE IF NOT EXISTS 'analytics'")
    op.add_column(
        "users", sa.Column("analytics_consent", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.add_column("consent_records", sa.Column("source", sa.String(length=20), nullable=True))
    op.add_column("audit_log", sa.Column("actor_pseudonym", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_audit_log_actor_pseudonym"), "audit_log", ["actor_pseudonym"], unique=False)
    op.create_table(
        "privacy_exports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_privacy_exports_status")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_privacy_exports_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_exports")),
    )
    op.create_index(op.f("ix_privacy_exports_user_id"), "privacy_exports", ["user_id"], unique=False)
    op.execute(PSEUDONYMISING_TRIGGER)


def downgrade() -> None:
    op.execute(APPEND_ONLY_TRIGGER)
    op.drop_index(op.f("ix_privacy_exports_user_id"), table_name="privacy_exports")
    op.drop_table("privacy_exports")
    op.drop_index(op.f("ix_audit_log_actor_pseudonym"), table_name="audit_log")
    op.drop_column("audit_log", "actor_pseudonym")
    op.drop_column("consent_records", "source")
    op.drop_column("users", "analytics_consent")
