"""faqs: full-text search, embedding bookkeeping, votes, unanswered questions

Revision ID: 0003_faqs
Revises: 0002_chat
Create Date: 2026-11-25 18:14:36.674849
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from helpline.migrations.vectors import current_dimension

revision: str = "0003_faqs"
down_revision: str | None = "0002_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A FAQ's language tag ("en", "pt-BR") → its text-search configuration. IMMUTABLE so the
# generated search_vector column may use it; queries call it too, so the mapping lives in one place.
TS_CONFIG_FUNCTION = """
CREATE FUNCTION helpline_ts_config(lang text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE split_part(lower(coalesce(lang, '')), '-', 1)
        WHEN 'en' THEN 'pg_catalog.english'::regconfig
        WHEN 'es' THEN 'pg_catalog.spanish'::regconfig
        WHEN 'fr' THEN 'pg_catalog.french'::regconfig
        WHEN 'de' THEN 'pg_catalog.german'::regconfig
        WHEN 'pt' THEN 'pg_catalog.portuguese'::regconfig
        WHEN 'it' THEN 'pg_catalog.italian'::regconfig
        ELSE 'pg_catalog.simple'::regconfig
    END
$$
"""

SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector(helpline_ts_config(language), question), 'A') || "
    "setweight(jsonb_to_tsvector(helpline_ts_config(language), coalesce(keywords, '[]'::jsonb), "
    "'[\"string\"]'::jsonb), 'B') || "
    "setweight(to_tsvector(helpline_ts_config(language), answer), 'C')"
)

# Vote counts are kept on write by the database itself: the trigger sees the row version it
# replaces (OLD), so a changed vote moves exactly one count, however many requests race.
VOTE_COUNTS = (
    """
    CREATE FUNCTION faq_votes_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE faqs SET helpful_count = helpful_count - OLD.helpful::int,
                            not_helpful_count = not_helpful_count - (NOT OLD.helpful)::int
             WHERE id = OLD.faq_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE faqs SET helpful_count = helpful_count + NEW.helpful::int,
                            not_helpful_count = not_helpful_count + (NOT NEW.helpful)::int
             WHERE id = NEW.faq_id;
        END IF;
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE TRIGGER faq_votes_count AFTER INSERT OR UPDATE OF helpful OR DELETE ON faq_votes
        FOR EACH ROW EXECUTE FUNCTION faq_votes_count()
    """,
)

# Cached search results are keyed by faq_search_version.version. Bumping it here, in the writer's
# own transaction, means a reader that sees the new version also sees the new rows: no stale
# entry can outlive a commit, and no code path can forget the bump. Counters (views, votes) are
# not in the UPDATE OF list: they do not change search results. New vectors always come with new
# hashes, so the hashes stand for the vector columns (which must stay out of the list for
# `helpline reindex` to be able to change their type).
SEARCH_VERSION = (
    """
    CREATE FUNCTION faq_search_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE faq_search_version SET version = version + 1 WHERE id = 1;
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE TRIGGER faqs_search_version AFTER INSERT OR DELETE OR TRUNCATE ON faqs
        FOR EACH STATEMENT EXECUTE FUNCTION faq_search_version_bump()
    """,
    """
    CREATE TRIGGER faqs_search_version_update AFTER UPDATE OF
        category_id, question, answer, keywords, question_hash, answer_hash, embedding_model, status,
        priority, language, slug
        ON faqs FOR EACH STATEMENT EXECUTE FUNCTION faq_search_version_bump()
    """,
    """
    CREATE TRIGGER faq_categories_search_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON faq_categories FOR EACH STATEMENT EXECUTE FUNCTION faq_search_version_bump()
    """,
)


def upgrade() -> None:
    dimension = current_dimension()  # as the FAQ vectors' (migrations.vectors)
    op.execute(TS_CONFIG_FUNCTION)
    op.add_column("faqs", sa.Column("question_hash", sa.String(length=64), nullable=True))
    op.add_column("faqs", sa.Column("answer_hash", sa.String(length=64), nullable=True))
    op.add_column("faqs", sa.Column("embedding_model", sa.String(length=200), nullable=True))
    op.add_column(
        "faqs",
        sa.Column(
            "search_vector", postgresql.TSVECTOR(), sa.Computed(SEARCH_VECTOR_SQL, persisted=True), nullable=False
        ),
    )
    op.create_index("ix_faqs_search_vector", "faqs", ["search_vector"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_faqs_keywords",
        "faqs",
        ["keywords"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"keywords": "jsonb_path_ops"},
    )
    op.create_index("ix_faqs_status_priority_id", "faqs", ["status", "priority", "id"], unique=False)
    op.create_index(
        "ix_faqs_primary_language", "faqs", [sa.literal_column("split_part(lower(language), '-', 1)")], unique=False
    )

    op.create_table(
        "faq_search_version",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_faq_search_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_search_version")),
    )
    op.execute("INSERT INTO faq_search_version (id, version) VALUES (1, 0)")
    for statement in SEARCH_VERSION:
        op.execute(statement)

    op.create_table(
        "faq_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("faq_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["faq_id"], ["faqs.id"], name=op.f("fk_faq_votes_faq_id_faqs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_faq_votes_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_votes")),
        sa.UniqueConstraint("faq_id", "user_id", name="uq_faq_votes_faq_user"),
    )
    op.create_index(op.f("ix_faq_votes_user_id"), "faq_votes", ["user_id"], unique=False)
    for statement in VOTE_COUNTS:
        op.execute(statement)

    op.create_table(
        "unanswered_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=10), server_default="en", nullable=False),
        sa.Column("embedding", Vector(dimension), nullable=True),
        sa.Column("embedding_model", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("faq_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_unanswered_questions_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["faq_id"], ["faqs.id"], name=op.f("fk_unanswered_questions_faq_id_faqs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_unanswered_questions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unanswered_questions")),
    )
    op.create_index(
        op.f("ix_unanswered_questions_conversation_id"), "unanswered_questions", ["conversation_id"], unique=False
    )
    op.create_index(op.f("ix_unanswered_questions_faq_id"), "unanswered_questions", ["faq_id"], unique=False)
    op.create_index(op.f("ix_unanswered_questions_user_id"), "unanswered_questions", ["user_id"], unique=False)
    op.create_index(
        "ix_unanswered_questions_open",
        "unanswered_questions",
        [sa.literal_column("created_at DESC")],
        unique=False,
        postgresql_where=sa.text("faq_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_unanswered_questions_open", table_name="unanswered_questions")
    op.drop_index(op.f("ix_unanswered_questions_user_id"), table_name="unanswered_questions")
    op.drop_index(op.f("ix_unanswered_questions_faq_id"), table_name="unanswered_questions")
    op.drop_index(op.f("ix_unanswered_questions_conversation_id"), table_name="unanswered_questions")
    op.drop_table("unanswered_questions")
    op.drop_index(op.f("ix_faq_votes_user_id"), table_name="faq_votes")
    op.drop_table("faq_votes")  # drops its trigger with it
    op.execute("DROP FUNCTION IF EXISTS faq_votes_count()")
    op.execute("DROP TRIGGER IF EXISTS faq_categories_search_version ON faq_categories")
    op.execute("DROP TRIGGER IF EXISTS faqs_search_version_update ON faqs")
    op.execute("DROP TRIGGER IF EXISTS faqs_search_version ON faqs")
    op.execute("DROP FUNCTION IF EXISTS faq_search_version_bump()")
    op.drop_table("faq_search_version")
    op.drop_index("ix_faqs_primary_language", table_name="faqs")
    op.drop_index("ix_faqs_status_priority_id", table_name="faqs")
    op.drop_index("ix_faqs_keywords", table_name="faqs")
    op.drop_index("ix_faqs_search_vector", table_name="faqs")
    op.drop_column("faqs", "search_vector")
    op.drop_column("faqs", "embedding_model")
    op.drop_column("faqs", "answer_hash")
    op.drop_column("faqs", "question_hash")
    op.execute("DROP FUNCTION IF EXISTS helpline_ts_config(text)")
