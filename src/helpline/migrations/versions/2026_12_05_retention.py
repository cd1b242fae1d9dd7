"""retention: the audit trail yields to the retention job; stored addresses truncated

Revision ID: 0013_retention
Revises: 0010_privacy
Create Date: 2026-12-05 18:20:00.000000

- audit_log's trigger also lets the retention job (privacy.retention), which sets
  helpline.retention for its own transaction only, delete entries past their retention period and
  set an entry's ip_address to NULL (nothing else in the row may change). Any other DELETE or
  UPDATE, and TRUNCATE always, are still refused.
- The client addresses already stored (audit_log, refresh_tokens, consent_records) are cut to
  their network, /24 (IPv4) or /48 (IPv6), as the application now stores them
  (models.base.TruncatedInet). Not undone by the downgrade: the host parts are gone.
- Indexes for the job's rules: audit_log by created_at, refresh_tokens by expires_at,
  conversations by when they were last touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_retention"
down_revision: str | None = "0012_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The pseudonymising UPDATE of migration 0010 is unchanged; the retention branch is new.
TRIGGER = """
    CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND current_setting('helpline.retention', true) = 'on' THEN
            RETURN OLD;
        END IF;
        IF TG_OP = 'UPDATE' THEN
            IF current_setting('helpline.retention', true) = 'on'
               AND NEW.ip_address IS NULL
               AND to_jsonb(NEW) - 'ip_address' = to_jsonb(OLD) - 'ip_address'
            THEN
                RETURN NEW;
            END IF;
            IF current_setting('helpline.audit_pseudonymise', true) = 'on'
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
        END IF;
        RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
    END;
    $$
"""

PREVIOUS_TRIGGER = """
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


def _truncated(column: str) -> str:
    return f"host(network(set_masklen({column}, CASE family({column}) WHEN 4 THEN 24 ELSE 48 END)))::inet"


def upgrade() -> None:
    op.execute(TRIGGER)
    # The retention job's rules go by age: each batch finds its rows by these.
    # audit_log.created_at is indexed by 0012_admin already (the audit screen reads by time too).
    op.create_index(op.f("ix_refresh_tokens_expires_at"), "refresh_tokens", ["expires_at"], unique=False)
    op.create_index(
        "ix_conversations_last_touched",
        "conversations",
        [sa.text("greatest(created_at, updated_at, last_message_at)")],
        unique=False,
    )
    for table in ("refresh_tokens", "consent_records"):
        op.execute(f"UPDATE {table} SET ip_address = {_truncated('ip_address')} WHERE ip_address IS NOT NULL")  # noqa: S608 - constants
    # The trigger refuses this rewrite (no setting allows it): switched off for this one statement.
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    op.execute(f"UPDATE audit_log SET ip_address = {_truncated('ip_address')} WHERE ip_address IS NOT NULL")  # noqa: S608
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def downgrade() -> None:
    op.drop_index("ix_conversations_last_touched", table_name="conversations")
    op.drop_index(op.f("ix_refresh_tokens_expires_at"), table_name="refresh_tokens")
    op.execute(PREVIOUS_TRIGGER)
