from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from helpline.models.base import Base, CreatedAt, Timestamps
from helpline.models.enums import FAQStatus, PhrasingSuggestionStatus, faq_status, phrasing_suggestion_status

# The vector columns' width is a deployment choice (384 local MiniLM, 1536 OpenAI,
# HELPLINE_EMBEDDING_DIMENSION): the migrations create the columns at the configured width and
# `helpline reindex` resizes them (faqs.reindex), so the models leave it out: importing them reads
# no settings, and Alembic's type comparison skips a width the model does not give (no hook needed:
# tests/core/test_migrations.py still finds no difference).

# How the HNSW indexes are built (migration 0007 rebuilt the first ones so). m is pgvector's
# default; ef_construction is twice its default 64. At 100,000 FAQs (bench/bench_scale.py) that
# gives recall@10 0.972-0.986 at ef_search 40 (pgvector's default), against 0.907 with 64, for an
# index of the same size built about 1.5 times slower (27-29 s instead of 16-20 s per index with
# two parallel workers). So a search needs no more than 40 candidates (core/db.HNSW_EF_SEARCH).
HNSW_BUILD = {"m": 16, "ef_construction": 128}
# Memory for building one (SET LOCAL maintenance_work_mem): the graph of 100,000 384-d vectors
# fits, and the build takes 25 s instead of 76 s with PostgreSQL's default 64 MB.
HNSW_BUILD_MEMORY = "256MB"
# The index of each vector column, and its DDL (also used by `helpline reindex` and the benchmarks).
HNSW_INDEXES = {
    "faqs_question_embedding_idx": "question_embedding",
    "faqs_answer_embedding_idx": "answer_embedding",
}


# The HNSW index of the alternative phrasings' vectors (table faq_phrasings).
PHRASING_HNSW_INDEX = ("faq_phrasings_embedding_idx", "embedding")


def hnsw_ddl(name: str, column: str, table: str = "faqs") -> str:
    options = ", ".join(f"{k} = {v}" for k, v in HNSW_BUILD.items())
    return f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING hnsw ({column} vector_cosine_ops) WITH ({options})"


# Full-text document of a FAQ, in its language's text-search configuration (helpline_ts_config(),
# created by the 0003 migration, maps en/es/fr/de/pt/it to theirs and anything else to 'simple'):
# the question and its alternative phrasings weigh most, then the keywords, then the answer.
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector(helpline_ts_config(language), question), 'A') || "
    "setweight(jsonb_to_tsvector(helpline_ts_config(language), coalesce(phrasings, '[]'::jsonb), "
    "'[\"string\"]'::jsonb), 'A') || "
    "setweight(jsonb_to_tsvector(helpline_ts_config(language), coalesce(keywords, '[]'::jsonb), "
    "'[\"string\"]'::jsonb), 'B') || "
    "setweight(to_tsvector(helpline_ts_config(language), answer), 'C')"
)

GIN_NO_PENDING = {"fastupdate": "off"}


class FAQCategory(Timestamps, Base):
    __tablename__ = "faq_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    slug: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("faq_categories.id", ondelete="RESTRICT"), index=True)
    sort_order: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)


class FAQ(Timestamps, Base):
    __tablename__ = "faqs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("faq_categories.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(Text, nullable=False)
    answer: Mapped[str] = mapped_column(Text, nullable=False)
    # none_as_null: no keywords is SQL NULL, not the JSON value null.
    keywords: Mapped[list[str] | None] = mapped_column(JSONB(none_as_null=True))
    # The texts of the FAQ's alternative phrasings (faq_phrasings), in order: a copy a trigger
    # (migration 0014) keeps, for full-text search and for reading a FAQ in one row. Never
    # written by the application: faqs.phrasings.replace_phrasings writes the rows.
    phrasings: Mapped[list[str] | None] = mapped_column(JSONB(none_as_null=True))
    # Vectors are large and rarely needed in Python: loaded only when asked for, never by accident.
    question_embedding: Mapped[Any] = mapped_column(Vector(), nullable=True, deferred=True, deferred_raiseload=True)
    answer_embedding: Mapped[Any] = mapped_column(Vector(), nullable=True, deferred=True, deferred_raiseload=True)
    status: Mapped[FAQStatus] = mapped_column(faq_status, server_default=FAQStatus.draft.value, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    language: Mapped[str] = mapped_column(String(10), server_default="en", nullable=False)
    view_count: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    helpful_count: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    not_helpful_count: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    slug: Mapped[str | None] = mapped_column(String(255), unique=True)
    meta_title: Mapped[str | None] = mapped_column(String(255))
    meta_description: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the stored vectors were made from: sha256 of the embedded text and the embedder's model.
    # An unchanged text is never embedded twice; a different model marks the vectors stale.
    question_hash: Mapped[str | None] = mapped_column(String(64))
    answer_hash: Mapped[str | None] = mapped_column(String(64))
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True), deferred=True, deferred_raiseload=True
    )

    __table_args__ = (
        # HNSW instead of the spec's IVFFlat: it needs no training data, so it is
        # correct on an empty table and stays good as rows are added.
        *(
            Index(
                name,
                column,
                postgresql_using="hnsw",
                postgresql_ops={column: "vector_cosine_ops"},
                postgresql_with=HNSW_BUILD,
            )
            for name, column in HNSW_INDEXES.items()
        ),
        Index("idx_faqs_status_language", "status", "language"),
        Index("idx_faqs_category_id", "category_id"),
        # GIN without a pending list: every search would read that list in full until a vacuum
        # (see migration 0005); FAQs are written rarely and searched constantly.
        Index("ix_faqs_search_vector", "search_vector", postgresql_using="gin", postgresql_with=GIN_NO_PENDING),
        # Search filters on the primary language ("pt" for "pt-BR"); this index gives the planner
        # that expression's statistics, without which it guesses the filter is rare and scans
        # the table instead of walking the HNSW index.
        Index("ix_faqs_primary_language", func.split_part(func.lower(language), "-", 1)),
        Index(
            "ix_faqs_keywords",
            "keywords",
            postgresql_using="gin",
            postgresql_ops={"keywords": "jsonb_path_ops"},
            postgresql_with=GIN_NO_PENDING,
        ),
        # Keyset pages of a listing: (priority DESC, id DESC) within a status.
        Index("ix_faqs_status_priority_id", "status", "priority", "id"),
    )


class FAQPhrasing(CreatedAt, Base):
    """Another way customers ask a FAQ's question, with its own vector: a query close to it finds
    the FAQ (faqs/search.py). Written by staff (the FAQ editor, imports) or approved from a
    suggestion; ``source_user_id`` names the user whose words it still is, verbatim, so their
    erasure deletes it (CASCADE). A trigger copies the texts to faqs.phrasings."""

    __tablename__ = "faq_phrasings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    faq_id: Mapped[int] = mapped_column(ForeignKey("faqs.id", ondelete="CASCADE"), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    # The text folded for comparison (faqs.phrasings.normalize): one phrasing per FAQ and form.
    norm: Mapped[str] = mapped_column(Text, nullable=False)
    position: Mapped[int] = mapped_column(SmallInteger, server_default="0", nullable=False)
    embedding: Mapped[Any] = mapped_column(Vector(), nullable=True, deferred=True, deferred_raiseload=True)
    text_hash: Mapped[str | None] = mapped_column(String(64))
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    source_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    __table_args__ = (
        UniqueConstraint("faq_id", "norm", name="uq_faq_phrasings_faq_norm"),
        Index(
            PHRASING_HNSW_INDEX[0],
            PHRASING_HNSW_INDEX[1],
            postgresql_using="hnsw",
            postgresql_ops={PHRASING_HNSW_INDEX[1]: "vector_cosine_ops"},
            postgresql_with=HNSW_BUILD,
        ),
    )


class FAQPhrasingSuggestion(CreatedAt, Base):
    """A user's question whose answer, citing this FAQ, they rated helpful: a phrasing staff may
    approve (it becomes a FAQPhrasing) or reject. The user's own text: it goes with their account
    (erasure) and with the conversation it was asked in (CASCADE from the message)."""

    __tablename__ = "faq_phrasing_suggestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    faq_id: Mapped[int] = mapped_column(ForeignKey("faqs.id", ondelete="CASCADE"), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    norm: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[PhrasingSuggestionStatus] = mapped_column(
        phrasing_suggestion_status, server_default=PhrasingSuggestionStatus.pending.value, nullable=False
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    # The user's question (the message the helpful answer replied to).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # Once per FAQ and text: a question asked again (by anyone) is not suggested twice, and a
        # rejected one is not suggested again.
        UniqueConstraint("faq_id", "norm", name="uq_faq_phrasing_suggestions_faq_norm"),
        # The queue: one status, newest first (keyset on id).
        Index("ix_faq_phrasing_suggestions_status_id", "status", "id"),
    )


class FAQVote(CreatedAt, Base):
    """One user's helpful / not-helpful verdict on one FAQ, changeable. A trigger (migration 0003)
    keeps faqs.helpful_count / not_helpful_count equal to the votes, whatever runs concurrently."""

    __tablename__ = "faq_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    faq_id: Mapped[int] = mapped_column(ForeignKey("faqs.id", ondelete="CASCADE"), nullable=False)
    # An account's vote, or a visitor's: device_id is a random id their browser keeps (one of the two).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    helpful: Mapped[bool] = mapped_column(Boolean, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("faq_id", "user_id", name="uq_faq_votes_faq_user"),
        UniqueConstraint("faq_id", "device_id", name="uq_faq_votes_faq_device"),
        CheckConstraint("(user_id IS NULL) <> (device_id IS NULL)", name="voter"),
    )


class UnansweredQuestion(CreatedAt, Base):
    """A question the knowledge base could not answer, kept so staff can write the missing FAQ.
    The user's own text: it goes when their account or conversation goes (CASCADE)."""

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    language: Mapped[str] = mapped_column(String(10), server_default="en", nullable=False)
    embedding: Mapped[Any] = mapped_column(Vector(), nullable=True, deferred=True)
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    # The FAQ drafted from it; set means handled. Deleting that FAQ reopens the question.
    faq_id: Mapped[int | None] = mapped_column(ForeignKey("faqs.id", ondelete="SET NULL"), index=True)

    __table_args__ = (
        Index("ix_unanswered_questions_open", sql_text("created_at DESC"), postgresql_where=sql_text("faq_id IS NULL")),
    )


class FAQSearchVersion(Base):
    """One row: a counter that database triggers (migration 0003) bump in the same transaction as
    any change to FAQs or categories that search results depend on. Cached results are keyed by
    it, so a committed change is never served stale, by any instance, Redis or not."""

    __tablename__ = "faq_search_version"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="0", nullable=False)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class FAQAccentedTerm(Base):
    """An accented word some FAQ uses ("contraseña") under its plain form ("contrasena"), for
    accent-insensitive full-text search (faqs/search_sql.py _accents). Filled by triggers on faqs
    (migration 0006), never by the app; rows are not removed when FAQs change."""

    __tablename__ = "faq_accented_terms"

    folded: Mapped[str] = mapped_column(Text, primary_key=True)
    term: Mapped[str] = mapped_column(Text, primary_key=True)
