"""faq phrasings: alternative phrasings per FAQ, with their own vectors, and suggested ones

Revision ID: 0014_faq_phrasings
Revises: 0013_retention
Create Date: 2026-12-06 09:00:00.000000

- faq_phrasings: other ways customers ask a FAQ's question, one row each with its own vector
  (HNSW, built as the FAQ vectors are), the user whose words it is (source_user_id, CASCADE:
  their erasure deletes it) and a unique folded form per FAQ.
- faqs.phrasings: the phrasings' texts in order, copied by a trigger on every change of
  faq_phrasings (also a cascade from an erased user), and part of the full-text document
  (search_vector, rebuilt: weight A, as the question) and of the accent-insensitive terms.
- The search version is bumped by any change to phrasings (texts, vectors), so cached search
  results never outlive one.
- faq_phrasing_suggestions: questions whose answer, citing a FAQ, their asker rated helpful;
  pending until staff approve or reject them; deleted with the user or the message.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from helpline.migrations.vectors import current_dimension

revision: str = "0014_faq_phrasings"
down_revision: str | None = "0013_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HNSW_BUILD = {"m": 16, "ef_construction": 128}  # as migration 0007 builds the FAQ vectors' indexes

# Copies of the full-text documents (not imported from the models: a migration stays as written).
OLD_SEARCH_VECTOR = (
    "setweight(to_tsvector(helpline_ts_config(language), question), 'A') || "
    "setweight(jsonb_to_tsvector(helpline_ts_config(language), coalesce(keywords, '[]'::jsonb), "
    "'[\"string\"]'::jsonb), 'B') || "
    "setweight(to_tsvector(helpline_ts_config(language), answer), 'C')"
)
NEW_SEARCH_VECTOR = (
    "setweight(to_tsvector(helpline_ts_config(language), question), 'A') || "
    "setweight(jsonb_to_tsvector(helpline_ts_config(language), coalesce(phrasings, '[]'::jsonb), "
    "'[\"string\"]'::jsonb), 'A') || "
    "setweight(jsonb_to_tsvector(helpline_ts_config(language), coalesce(keywords, '[]'::jsonb), "
    "'[\"string\"]'::jsonb), 'B') || "
    "setweight(to_tsvector(helpline_ts_config(language), answer), 'C')"
)

VERSION_COLUMNS = (
    "category_id, question, answer, keywords, question_hash, answer_hash, embedding_model, status, "
    "priority, language, slug"
)

# faqs.phrasings follows faq_phrasings: the texts of a FAQ's rows by position, NULL for none.
COPY_FUNCTION = """
    CREATE FUNCTION faq_phrasings_copy() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        target integer;
    BEGIN
        FOR target IN
            SELECT DISTINCT x FROM unnest(ARRAY[
                CASE WHEN TG_OP <> 'INSERT' THEN OLD.faq_id END,
                CASE WHEN TG_OP <> 'DELETE' THEN NEW.faq_id END
            ]) AS x WHERE x IS NOT NULL
        LOOP
            UPDATE faqs f SET phrasings = p.texts
            FROM (SELECT jsonb_agg(r.text ORDER BY r.position, r.id) AS texts
                  FROM faq_phrasings r WHERE r.faq_id = target) p
            WHERE f.id = target AND f.phrasings IS DISTINCT FROM p.texts;
        END LOOP;
        RETURN NULL;
    END
    $$
"""

# Migration 0006's function, with the phrasings' words too.
_TERMS_OF = """
    SELECT unaccent(w) AS folded, w AS term
    FROM (
        SELECT DISTINCT w FROM {rows}
        CROSS JOIN LATERAL unnest(tsvector_to_array(
            to_tsvector('simple', f.question || ' ' || f.answer)
            || jsonb_to_tsvector('simple', coalesce(f.keywords, '[]'::jsonb), '["string"]')
            {phrasings}
        )) AS w
        WHERE (f.question || f.answer || coalesce(f.keywords::text, ''){phrasings_text}) ~ '[^\\x01-\\x7f]'
    ) words
    WHERE w <> unaccent(w)
"""


def _accents_function(with_phrasings: bool) -> str:
    if with_phrasings:
        extra = {
            "phrasings": "|| jsonb_to_tsvector('simple', coalesce(f.phrasings, '[]'::jsonb), '[\"string\"]')",
            "phrasings_text": " || coalesce(f.phrasings::text, '')",
        }
        columns = "(f.question, f.answer, f.keywords, f.phrasings) IS DISTINCT FROM (o.question, o.answer, o.keywords, o.phrasings)"
    else:
        extra = {"phrasings": "", "phrasings_text": ""}
        columns = "(f.question, f.answer, f.keywords) IS DISTINCT FROM (o.question, o.answer, o.keywords)"
    changed = f"new_rows f JOIN old_rows o ON o.id = f.id AND {columns}"
    return f"""
        CREATE OR REPLACE FUNCTION helpline_record_accented_terms() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO faq_accented_terms (folded, term)
                SELECT folded, term FROM ({_TERMS_OF.format(rows="new_rows f", **extra)}) t
                ORDER BY folded, term ON CONFLICT DO NOTHING;
            ELSE
                INSERT INTO faq_accented_terms (folded, term)
                SELECT folded, term FROM ({_TERMS_OF.format(rows=changed, **extra)}) t
                ORDER BY folded, term ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END
        $$
    """  # noqa: S608 - fixed text


def _search_vector(expression: str) -> None:
    op.drop_index("ix_faqs_search_vector", table_name="faqs")
    op.drop_column("faqs", "search_vector")
    op.add_column(
        "faqs",
        sa.Column("search_vector", postgresql.TSVECTOR(), sa.Computed(expression, persisted=True), nullable=False),
    )
    op.create_index(
        "ix_faqs_search_vector",
        "faqs",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )


def _version_trigger(columns: str) -> None:
    op.execute("DROP TRIGGER IF EXISTS faqs_search_version_update ON faqs")
    op.execute(
        f"CREATE TRIGGER faqs_search_version_update AFTER UPDATE OF {columns} "
        "ON faqs FOR EACH STATEMENT EXECUTE FUNCTION faq_search_version_bump()"
    )


def upgrade() -> None:
    dimension = current_dimension()  # as the FAQ vectors' (migrations.vectors)
    status = postgresql.ENUM("pending", "approved", "rejected", name="phrasing_suggestion_status")
    status.create(op.get_bind())
    op.add_column("faqs", sa.Column("phrasings", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    _search_vector(NEW_SEARCH_VECTOR)
    _version_trigger(VERSION_COLUMNS + ", phrasings")
    op.execute(_accents_function(with_phrasings=True))

    op.create_table(
        "faq_phrasings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("faq_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("norm", sa.Text(), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("embedding", Vector(dimension), nullable=True),
        sa.Column("text_hash", sa.String(length=64), nullable=True),
        sa.Column("embedding_model", sa.String(length=200), nullable=True),
        sa.Column("source_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["faq_id"], ["faqs.id"], name=op.f("fk_faq_phrasings_faq_id_faqs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["source_user_id"], ["users.id"], name=op.f("fk_faq_phrasings_source_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_phrasings")),
        sa.UniqueConstraint("faq_id", "norm", name="uq_faq_phrasings_faq_norm"),
    )
    op.create_index(op.f("ix_faq_phrasings_source_user_id"), "faq_phrasings", ["source_user_id"], unique=False)
    op.create_index(
        "faq_phrasings_embedding_idx",
        "faq_phrasings",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_with=HNSW_BUILD,
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.execute(COPY_FUNCTION)
    op.execute(
        "CREATE TRIGGER faq_phrasings_copy AFTER INSERT OR DELETE OR UPDATE OF faq_id, text, position "
        "ON faq_phrasings FOR EACH ROW EXECUTE FUNCTION faq_phrasings_copy()"
    )
    # Vectors are not in the list (`helpline reindex` changes their type); their hashes stand for them.
    op.execute(
        "CREATE TRIGGER faq_phrasings_search_version AFTER INSERT OR DELETE OR TRUNCATE ON faq_phrasings "
        "FOR EACH STATEMENT EXECUTE FUNCTION faq_search_version_bump()"
    )
    op.execute(
        "CREATE TRIGGER faq_phrasings_search_version_update AFTER UPDATE OF "
        "faq_id, text, position, text_hash, embedding_model "
        "ON faq_phrasings FOR EACH STATEMENT EXECUTE FUNCTION faq_search_version_bump()"
    )

    op.create_table(
        "faq_phrasing_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("faq_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("norm", sa.Text(), nullable=False),
        sa.Column(
            "status",
            postgresql.ENUM("pending", "approved", "rejected", name="phrasing_suggestion_status", create_type=False),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["faq_id"], ["faqs.id"], name=op.f("fk_faq_phrasing_suggestions_faq_id_faqs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_faq_phrasing_suggestions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_faq_phrasing_suggestions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_phrasing_suggestions")),
        sa.UniqueConstraint("faq_id", "norm", name="uq_faq_phrasing_suggestions_faq_norm"),
    )
    op.create_index("ix_faq_phrasing_suggestions_status_id", "faq_phrasing_suggestions", ["status", "id"], unique=False)
    op.create_index(op.f("ix_faq_phrasing_suggestions_user_id"), "faq_phrasing_suggestions", ["user_id"], unique=False)
    op.create_index(
        op.f("ix_faq_phrasing_suggestions_message_id"), "faq_phrasing_suggestions", ["message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("faq_phrasing_suggestions")
    op.drop_table("faq_phrasings")  # its triggers go with it
    op.execute("DROP FUNCTION IF EXISTS faq_phrasings_copy()")
    op.execute(_accents_function(with_phrasings=False))
    _version_trigger(VERSION_COLUMNS)
    _search_vector(OLD_SEARCH_VECTOR)
    op.drop_column("faqs", "phrasings")
    postgresql.ENUM(name="phrasing_suggestion_status").drop(op.get_bind())
