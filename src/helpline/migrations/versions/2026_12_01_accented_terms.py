"""accent-insensitive full-text search: the knowledge base's accented words by their plain form

Revision ID: 0006_accented_terms
Revises: 0005_gin_fastupdate
Create Date: 2026-12-01 11:00:00.000000

Users often type Spanish, French or German without accents ("contrasena", "envio"), and
full-text search then misses the FAQ that says "contraseña" or "envío". A tsvector folded with
``unaccent`` on both sides would fix that but also merges words whose accents matter, and the
language stemmers then cut the folded words differently (tried: a net loss on
bench/bench_retrieval.py). Instead, this table maps each accented word found in FAQs to its plain
form. The search adds a query word's accented forms to the query (faqs/search.py), so a word
the user typed with its accents, or one with no accented form, is unaffected.

Triggers fill the table from every inserted or updated FAQ, in one statement per statement (a
bulk COPY is one insert). Rows are never removed: a word no FAQ uses any more only adds a
query term that matches nothing. ``unaccent`` is a trusted extension (PostgreSQL 13+): the
database owner may create it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_accented_terms"
down_revision: str | None = "0005_gin_fastupdate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The words of FAQ rows ``f`` (question, answer, keywords) with a letter outside ASCII: the
# default parser's lowercased tokens ('simple' configuration: no stemming, no stop words),
# deduplicated before unaccent() runs. Rows whose text is plain ASCII are skipped before parsing.
_TERMS_OF = """
    SELECT unaccent(w) AS folded, w AS term
    FROM (
        SELECT DISTINCT w FROM {rows}
        CROSS JOIN LATERAL unnest(tsvector_to_array(
            to_tsvector('simple', f.question || ' ' || f.answer)
            || jsonb_to_tsvector('simple', coalesce(f.keywords, '[]'::jsonb), '["string"]')
        )) AS w
        WHERE (f.question || f.answer || coalesce(f.keywords::text, '')) ~ '[^\\x01-\\x7f]'
    ) words
    WHERE w <> unaccent(w)
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute(
        "CREATE TABLE faq_accented_terms (folded text NOT NULL, term text NOT NULL, "
        "CONSTRAINT pk_faq_accented_terms PRIMARY KEY (folded, term))"
    )
    # Sorted inserts: two writers adding the same new words take their locks in the same order.
    # An update counts only rows whose text changed (view and vote counters update FAQs often).
    changed = (
        "new_rows f JOIN old_rows o ON o.id = f.id "
        "AND (f.question, f.answer, f.keywords) IS DISTINCT FROM (o.question, o.answer, o.keywords)"
    )
    op.execute(f"""
        CREATE FUNCTION helpline_record_accented_terms() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO faq_accented_terms (folded, term)
                SELECT folded, term FROM ({_TERMS_OF.format(rows="new_rows f")}) t
                ORDER BY folded, term ON CONFLICT DO NOTHING;
            ELSE
                INSERT INTO faq_accented_terms (folded, term)
                SELECT folded, term FROM ({_TERMS_OF.format(rows=changed)}) t
                ORDER BY folded, term ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END
        $$
    """)  # noqa: S608 - fixed text
    # A trigger with transition tables takes one event: one for INSERT, one for UPDATE.
    op.execute(
        "CREATE TRIGGER faqs_accented_terms_insert AFTER INSERT ON faqs REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION helpline_record_accented_terms()"
    )
    op.execute(
        "CREATE TRIGGER faqs_accented_terms_update AFTER UPDATE ON faqs "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION helpline_record_accented_terms()"
    )
    op.execute(
        f"INSERT INTO faq_accented_terms (folded, term) {_TERMS_OF.format(rows='faqs f')} "
        "ORDER BY 1, 2 ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS faqs_accented_terms_{event} ON faqs")
    op.execute("DROP FUNCTION IF EXISTS helpline_record_accented_terms()")
    op.execute("DROP TABLE IF EXISTS faq_accented_terms")
    # The unaccent extension stays: another user of the database may rely on it.
