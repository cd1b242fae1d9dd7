"""Canned replies for agents: the FAQs' own answers, found by the knowledge base's search."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from helpline.faqs.backends import FAQDeps
from helpline.faqs.search import SearchQuery, primary_language, search
from helpline.support.schemas import CannedReply


async def canned_replies(session: AsyncSession, deps: FAQDeps, q: str, language: str | None) -> list[CannedReply]:
    """The published FAQs best matching ``q`` (in ``language`` first, else any), best first."""
    lang = primary_language(language)
    query = SearchQuery(q=q, language=lang, limit=8, language_mode="prefer" if lang else "strict")
    result = await search(session, deps, query)
    return [CannedReply(faq_id=h.id, question=h.question, answer=h.answer, language=h.language) for h in result.hits]
