from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from helpline.models.base import Base, Timestamps


class SearchSynonym(Timestamps, Base):
    """A set of words staff declare equivalent for search (faqs.synonyms): a query that uses one
    of them also finds FAQs that use another ("package" finds "parcel"). ``language`` is a primary
    subtag ("en"), or NULL for every language. Terms are lower-case with single spaces, unique
    within the set (the API normalises them). A trigger (migration 0027) bumps the search version
    on every change, so cached results never outlive one."""

    __tablename__ = "search_synonyms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language: Mapped[str | None] = mapped_column(String(10))
    terms: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)

    __table_args__ = (CheckConstraint("cardinality(terms) BETWEEN 2 AND 20", name="term_count"),)
