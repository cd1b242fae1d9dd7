"""helpline_jobs: the schema of the background-job queue on PostgreSQL

Revision ID: 0015_jobs_schema
Revises: 0014_faq_phrasings
Create Date: 2026-12-06 21:30:00.000000

Without Redis, background jobs (helpline.jobs) queue in PostgreSQL through saq's PostgresQueue,
which creates and migrates its own tables (saq_jobs, saq_stats, saq_versions) when a queue
connects. They live in a schema of their own, so the app's schema (what Alembic compares with
the models) stays exactly the models', and dropping the schema removes every trace of the queue.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015_jobs_schema"
down_revision: str | None = "0014_faq_phrasings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS helpline_jobs")


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS helpline_jobs CASCADE")
