"""search synonyms managed by staff: sets of equivalent words a query is expanded with
(faqs.synonyms), so "my package never arrived" finds the FAQ that says "parcel"

Revision ID: 0028_search_synonyms
Revises: 0027_expo_push
Create Date: 2026-12-07 13:20:00.000000

- search_synonyms(id, language varchar(10) NULL = every language, terms text[] of 2-20 terms,
  created_at, updated_at, created_by -> users ON DELETE SET NULL).
- Any change bumps faq_search_version (the function of migration 0003), in the writer's
  transaction: cached search results and the cached synonym sets are keyed by it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0028_search_synonyms"
down_revision: str | None = "0027_expo_push"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_synonyms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("terms", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("cardinality(terms) BETWEEN 2 AND 20", name=op.f("ck_search_synonyms_term_count")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_search_synonyms_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_synonyms")),
    )
    op.create_index(op.f("ix_search_synonyms_created_by"), "search_synonyms", ["created_by"], unique=False)
    op.execute(
        "CREATE TRIGGER search_synonyms_search_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON search_synonyms FOR EACH STATEMENT EXECUTE FUNCTION faq_search_version_bump()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS search_synonyms_search_version ON search_synonyms")
    op.drop_index(op.f("ix_search_synonyms_created_by"), table_name="search_synonyms")
    op.drop_table("search_synonyms")
