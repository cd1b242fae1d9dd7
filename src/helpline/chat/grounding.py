"""Grounding a chat answer in the FAQ knowledge base: find the FAQs for the question, answer
directly from one when the match is confident, otherwise give the best ones to the model to
cite, and record questions nothing matched. It never fails a turn: without the knowledge base
(embedder down, database hiccup) the model answers on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from helpline.ai.prompts import Article
from helpline.chat.smalltalk import small_talk
from helpline.core.config import GuardSettings, RetrievalSettings
from helpline.core.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from helpline.faqs.backends import FAQDeps

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Bar:
    """How close an article must be to the question to stand in for an answer or to make the
    question on-topic: the reranker's relevance when the search reranked (one multilingual scale
    for every language), else the embedder's cosine similarity (GuardSettings)."""

    similarity: float
    relevance: float

    @classmethod
    def of(cls, cfg: GuardSettings) -> Bar:
        return cls(similarity=cfg.source_min_similarity, relevance=cfg.source_min_relevance)


@dataclass(frozen=True)
class Source:
    id: int
    question: str
    answer: str
    slug: str | None
    score: float  # cosine similarity
    relevance: float | None = None  # the reranker's, when the search reranked

    def clears(self, bar: Bar) -> bool:
        if self.relevance is not None:
            return self.relevance >= bar.relevance
        return self.score >= bar.similarity

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "slug": self.slug, "score": round(self.score, 4)}

    def article(self) -> Article:
        return Article(title=self.question, body=self.answer, ref=str(self.id))


@dataclass(frozen=True)
class Grounding:
    sources: list[Source] = field(default_factory=list)
    direct: Source | None = None
    # Every FAQ found for the question, in the search's own order (hybrid score and reranker),
    # best first: the order to pick a stand-in from. Source.score is only the cosine similarity,
    # which ranks worse (a Spanish question and MiniLM, an English embedder: the words decide).
    ranked: list[Source] = field(default_factory=list)
    # The knowledge base was searched and has published articles: a question it has nothing
    # for is off-topic. False when retrieval is off or failed, or the knowledge base is empty
    # (then there is nothing to be off the topic of, and the model answers on its own).
    has_articles: bool = False

    def clears(self, bar: Bar) -> bool:
        """Whether some article found is close enough to the question (``bar``)."""
        return any(s.clears(bar) for s in self.ranked)


def thresholds(cfg: RetrievalSettings, embedder: object) -> tuple[float, float]:
    """(min_similarity, direct_threshold): the settings when set explicitly, else the embedder's
    own values when it has them. Cosine scales differ by model: multilingual-e5 puts unrelated
    texts at 0.75-0.85, where MiniLM's 0.35/0.85 would let everything in and answer directly."""
    chosen = cfg.model_fields_set
    min_similarity = cfg.min_similarity
    direct = cfg.direct_threshold
    if "min_similarity" not in chosen:
        min_similarity = float(getattr(embedder, "min_similarity", min_similarity))
    if "direct_threshold" not in chosen:
        direct = float(getattr(embedder, "direct_threshold", direct))
    return min_similarity, direct


# Prefetches running: the event loop keeps only weak references to tasks.
_prefetching: set[asyncio.Task[None]] = set()


def prefetch(runtime: Runtime, question: str) -> None:
    """Start embedding ``question`` for ``ground`` now, in the background, with the search's
    embedder and with the reranker's: the turn's moderation and its statement then run while
    the two models work (each on its own thread), and ground() finds the vectors made or waits
    for the embeddings in progress (faqs.embeddings and faqs.rerank: one embedding per text at
    a time)."""
    if not runtime.settings.retrieval.enabled or not question.strip():
        return
    task = asyncio.create_task(_prefetch(runtime, question))
    _prefetching.add(task)
    task.add_done_callback(_prefetching.discard)


async def _prefetch(runtime: Runtime, question: str) -> None:
    from helpline.faqs.backends import resolve_deps
    from helpline.faqs.embeddings import embed_query
    from helpline.faqs.search import normalize_query, rerank_query, retrieval_text

    try:
        async with runtime.sessionmaker() as session:  # no connection unless the deps are new
            deps = await resolve_deps(runtime, session)
        searched = retrieval_text(question, customer=deps.normalize)
        if rerank_query(deps):
            # The reranker's own query embedding (e5: the longest step of a new question's search)
            # on its model's thread, beside the first embedder's: search() then shares it.
            deps.reranker.begin(normalize_query(searched, customer=deps.normalize))  # type: ignore[union-attr]
        await embed_query(deps, searched)
    except Exception as exc:  # ground() embeds again, and reports what fails then
        log.warning("grounding.prefetch_failed", error=f"{type(exc).__name__}: {exc}"[:300])


async def ground(
    runtime: Runtime,
    *,
    question: str,
    language: str,
    user_id: int,
    conversation_id: int,
    search_version: int | None = None,
    previous: Sequence[str] = (),
) -> Grounding:
    """The FAQs for ``question``. ``search_version``: the knowledge base's version as the turn's
    own statement read it; with it, a cached result costs no database round trip (the session
    below connects only when a statement runs). ``previous``: the conversation's earlier user
    questions, oldest first: a follow-up ("and how long does that take?") is searched with the
    latest of them, and so is a short question whose own search finds only weak matches
    (HELPLINE_SEARCH_FOLLOW_UPS; faqs.query)."""
    cfg = runtime.settings.retrieval
    if not cfg.enabled:
        return Grounding()
    from helpline.faqs.backends import resolve_deps
    from helpline.faqs.query import MAX_OWN_WORDS, contextual, own_words, with_context
    from helpline.faqs.search import retrieve

    follow_ups = runtime.settings.search.follow_ups and any(p.strip() for p in previous)
    try:
        # No explicit transaction: a cached result runs no statement, and then has nothing to
        # commit (committing an empty session transaction still costs about 0.3 ms).
        async with runtime.sessionmaker() as session:
            deps = await resolve_deps(runtime, session)
            min_similarity, direct_threshold = thresholds(cfg, deps.embedder)

            async def find(text: str) -> tuple[list[Source], bool]:
                """The FAQs found for ``text`` in the search's order, and whether it found any."""
                hits = await retrieve(session, deps, text, language, limit=cfg.top_k, version=search_version)
                found = [
                    Source(h.id, h.question, h.answer, h.slug, h.similarity, h.relevance)
                    for h in hits
                    if h.similarity is not None
                ]
                return found, bool(hits)

            def good(found: list[Source]) -> list[Source]:
                return [s for s in found if s.score >= min_similarity]

            searched = contextual(question, previous) if follow_ups else question
            ranked, weak = await find(searched)
            sources = good(ranked)
            has_articles = weak or await _any_published(session, deps, search_version)
            if (
                weak
                and not sources
                and follow_ups
                and searched == question
                and len(own_words(question)) <= MAX_OWN_WORDS
            ):
                # A short question whose own matches are all weak may lean on the previous one
                # (one more statement; a question that matches nothing at all costs none).
                with_topic, _ = await find(with_context(question, previous))
                if good(with_topic):
                    ranked, sources = with_topic, good(with_topic)
            if not sources:
                await _record(session, deps, question, language, user_id, conversation_id)
    except Exception as exc:
        log.warning("grounding.unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
        return Grounding()
    best = sources[0] if sources else None
    direct = best if best is not None and best.score >= direct_threshold else None
    return Grounding(sources=sources, direct=direct, ranked=ranked, has_articles=has_articles)


async def _any_published(session: AsyncSession, deps: FAQDeps, version: int | None) -> bool:
    """Whether the knowledge base has a published article: asked only when a search found none,
    and cached under the search version (a change to the knowledge base makes a new key)."""
    from sqlalchemy import exists, select

    from helpline.faqs.search import RESULT_TTL_SECONDS
    from helpline.models import FAQ, FAQStatus

    key = f"published:{version}" if version is not None else None
    if key is not None and (cached := await deps.cache.get(key)) is not None:
        return cached == "1"
    found = bool(await session.scalar(select(exists().where(FAQ.status == FAQStatus.published))))
    if key is not None:
        await deps.cache.set(key, "1" if found else "0", RESULT_TTL_SECONDS)
    return found


async def record_declined(
    runtime: Runtime, *, question: str, language: str, user_id: int, conversation_id: int
) -> None:
    """Keep ``question`` for staff as unanswered although the search found articles: the reply
    was an honest "I don't know" (the guard found none of them close enough to stand in for the
    model's answer). ``ground`` records only questions that no article matched at all. Never fails
    the turn: the reply is given already."""
    from helpline.faqs.backends import resolve_deps

    try:
        async with runtime.sessionmaker() as session:
            deps = await resolve_deps(runtime, session)
            await _record(session, deps, question, language, user_id, conversation_id)
    except Exception as exc:
        log.warning("grounding.unanswered_not_recorded", error=f"{type(exc).__name__}: {exc}"[:300])


async def _record(
    session: AsyncSession, deps: FAQDeps, question: str, language: str, user_id: int, conversation_id: int
) -> None:
    from helpline.faqs.embeddings import embed_query
    from helpline.faqs.search import retrieval_text
    from helpline.faqs.unanswered import record_unanswered

    if small_talk(question):  # "hi", "thanks!": no article is missing for them
        return
    vector = await embed_query(deps, retrieval_text(question, customer=deps.normalize))  # the search's, cached
    await record_unanswered(
        session, question, language, vector, model=deps.model, user_id=user_id, conversation_id=conversation_id
    )
    await session.commit()
