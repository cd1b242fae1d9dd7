"""Hybrid search over FAQs: HNSW cosine search on the question and answer embeddings plus
PostgreSQL full-text search in each FAQ's language, fused by a weighted score, in one SQL
statement. ``retrieve()`` is what the chat calls.

Fusion: the signals each find their candidates; every candidate is then scored on all of them,
``max(cos(query, question), cos(query, phrasing)...) + ANSWER_WEIGHT * cos(query, answer) +
TEXT_WEIGHT * ts_rank``. A FAQ's alternative phrasings (faqs/phrasings.py) are other forms of its
question: each has its own vector (its own HNSW search finds candidates), the best of them and the
question counts, and their words are in the FAQ's full-text document with the question's weight.
Unlike reciprocal rank fusion, which we used before, a score keeps how close each match is: a
near-exact question match is not outvoted by two lists that rank another FAQ first by a hair.
The weights were chosen on bench/bench_retrieval.py's evaluation set (see bench/README.md): the
question (embedded with its keywords) is the strongest signal, the answer helps with queries
phrased like its text, and ts_rank (0 to about 1) breaks ties toward FAQs sharing the words."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.ai.base import Embedder
from helpline.ai.prompts import language_chain
from helpline.core.metrics import RETRIEVAL_DURATION
from helpline.core.runtime import Runtime
from helpline.faqs import synonyms as synonym_sets
from helpline.faqs.backends import FAQDeps, resolve_deps
from helpline.faqs.embeddings import embed_query, text_hash
from helpline.faqs.query import normalise
from helpline.faqs.rerank import rerank_scores
from helpline.faqs.search_sql import STATE_SQL, VERSION_SQL, Mode, hybrid_text
from helpline.models import FAQStatus

ANSWER_WEIGHT = 0.5
TEXT_WEIGHT = 0.3
FUSION_PARAMS = {"w_answer": ANSWER_WEIGHT, "w_text": TEXT_WEIGHT}
# For a query in a language the embedder was not trained on (MiniLM knows English only), its
# vectors say little and the words say more: Spanish top-1 0.750 -> 0.844 with MiniLM on
# bench/bench_retrieval.py (2.0 and 3.0 scored alike; 5.0 less). Multilingual embedders are unaffected.
FOREIGN_TEXT_WEIGHT = 2.0
# Vector candidates farther than this (cosine similarity below it) are not matches.
DEFAULT_MIN_SIMILARITY = 0.3
# The floor of the candidates the reranker rescores for the search API (a list a person picks
# from): the first embedder's own floor kept out FAQs that the reranker, a second model, would
# rank first ("I asked for 100 but only got 80 from the machine": MiniLM puts the wrong-amount-of-cash
# FAQ under 0.3, e5 first). With 40 candidates (HELPLINE_SEARCH_RERANK_CANDIDATES): banking
# held-out top-1 0.779 -> 0.792, top-5 0.961 -> 0.974; the demo's held-out 0.938 -> 0.953, nothing
# worse (bench/README.md, "Issue 19's leftovers"). The chat keeps its own floor (retrieve): its
# grounding filters sources by the first embedder's cosine all the same.
RERANK_MIN_SIMILARITY = 0.1
MAX_QUERY_CHARS = 500
RESULT_TTL_SECONDS = 600
# A lexeme in more FAQs than this is a common term: it ranks candidates but does not pick them.
COMMON_TERM_ROWS = 1000
COMMON_TTL_SECONDS = 600
# Full-text terms kept from a query; a chat message can be long.
_MAX_TERMS = 48
_WORD = re.compile(r"\w+", re.UNICODE)

Signal = str  # "vector_question" | "vector_answer" | "vector_phrasing" | "text"


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    question: str
    answer: str
    slug: str | None
    score: float
    signals: tuple[Signal, ...]
    language: str
    category_id: int | None = None
    # Best cosine similarity of the question, answer or phrasing vectors; None when only text matched.
    similarity: float | None = None
    # The reranker's own reading of how well it answers the query, on a cosine's scale
    # (Reranker.relevance); None when the search did not rerank.
    relevance: float | None = None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    q: str
    language: str | None = None  # primary subtag ("en"), or None for every language
    category_ids: tuple[int, ...] | None = None
    statuses: tuple[FAQStatus, ...] = (FAQStatus.published,)
    limit: int = 10
    # "strict": only `language`; "prefer": `language`, else every language.
    language_mode: Literal["strict", "prefer"] = "strict"
    min_similarity: float = DEFAULT_MIN_SIMILARITY
    # The similarity floor of the candidates a reranker rescores, when lower than min_similarity
    # (None: min_similarity): see RERANK_MIN_SIMILARITY.
    rerank_min_similarity: float | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Hit]
    cached: bool


def normalize_query(q: str, *, customer: bool = False) -> str:
    """``q`` with its whitespace collapsed; ``customer``: also without greetings, politeness and
    preambles (faqs.query.normalise, HELPLINE_SEARCH_NORMALIZE)."""
    return normalise(q) if customer else " ".join(q.split())


def primary_language(tag: str | None) -> str | None:
    if not tag or not tag.strip():
        return None
    return tag.strip().lower().replace("_", "-").split("-", 1)[0] or None


def text_query(q: str) -> str:
    """A websearch_to_tsquery() input that ORs the query's words: questions are phrased freely,
    so requiring every word (the default AND) would miss most paraphrases. Documents matching
    more (and rarer, weightier) words still rank first. Stop words drop out in the parser."""
    return query_words(q).replace(" ", " or ")


def query_words(q: str) -> str:
    """The query's words, space-separated, for to_tsvector() and the AND form of websearch."""
    return " ".join([w for w in _WORD.findall(q) if w.lower() != "or"][:_MAX_TERMS])


def text_params(q: str, common: Sequence[str] = (), synonyms: Sequence[str] = ()) -> dict[str, object]:
    """The full-text parameters of the search statement (search_sql) for query ``q``; ``common``: see search_state;
    ``synonyms``: terms OR-ed to the query's words (faqs.synonyms.expansion; several words: a phrase)."""
    qtext, qwords = text_query(q), query_words(q)
    for term in synonyms:
        words = query_words(term)
        if words:
            qtext = " or ".join(filter(None, (qtext, f'"{words}"' if " " in words else words)))
            qwords = f"{qwords} {words}".strip()
    return {"qtext": qtext, "qwords": qwords, "common": list(common)}


_VERSION = text(VERSION_SQL)
_STATE = text(STATE_SQL)
COMMON_KEY = "lexemes:common"  # its prefix names it in cache_hits_total{cache} (platform.cache)


async def search_state(session: AsyncSession, deps: FAQDeps, version: int | None = None) -> tuple[int, list[str]]:
    """The search version (the counter the database bumps with every change to FAQs or categories,
    see the 0003 migration: cached results are keyed by it) and the common lexemes: those in more
    than COMMON_TERM_ROWS FAQs, from PostgreSQL's own column statistics (none before the first
    ANALYZE, none in a smaller knowledge base). ANALYZE, not a change, renews statistics, so they
    are cached for COMMON_TTL_SECONDS and read with the version when the cache has none: one
    statement either way. A ``version`` the caller read in its own transaction is used as is (no
    statement at all when the common lexemes are cached)."""
    raw = await deps.cache.get(COMMON_KEY)
    if raw is not None:
        if version is None:
            version = int(await session.scalar(_VERSION) or 0)
        return version, list(json.loads(raw))
    row = (await session.execute(_STATE, {"rows": COMMON_TERM_ROWS})).one()
    common = list(row.common or [])
    await deps.cache.set(COMMON_KEY, json.dumps(common), COMMON_TTL_SECONDS)
    return int(row.version or 0) if version is None else version, common


def fusion_params(embedder: Embedder | None, language: str | None) -> dict[str, float]:
    """The fusion weights for a query in ``language`` (a primary subtag, or None for any)."""
    known = getattr(embedder, "languages", None)  # None: every language
    if known is not None and language is not None and language not in known:
        return {**FUSION_PARAMS, "w_text": FOREIGN_TEXT_WEIGHT}
    return dict(FUSION_PARAMS)


def candidate_count(limit: int) -> int:
    """Candidates each signal finds for a search of ``limit`` hits (at least 4 per hit, in three
    steps: each step is a statement of its own, see _statement)."""
    return 20 if limit <= 5 else 40 if limit <= 10 else 100


# The language and the candidate count are written into the statement's text (SQLAlchemy's
# literal_execute, quoted by the dialect: search_sql) instead of sent as parameters: they are what
# its plan depends on (with TEXT_CANDIDATES, a constant of the text), and the rest (the query's
# vector and words, the fusion weights) is not. So PostgreSQL's plan cache finds the generic plan
# of a statement as cheap as a custom one and, after its first five executions on a connection,
# stops planning it: 0.8-1 ms of a 6 ms statement at 100,000 FAQs (bench/bench_scale.py,
# bench/bench_search_plans.py). With them as parameters, the generic plan's guesses (an unknown
# LIMIT, an average language) cost more, so every execution was planned anew. A language gets a
# plan of its own: a rare one is best read through its B-tree, a common one through HNSW.
@functools.cache
def _statement(vectors: bool, mode: Mode, category: bool, dim: int) -> TextClause:
    """The search statement, built and compiled once per shape."""
    return hybrid_text(vectors=vectors, mode=mode, category=category, dim=dim)


def _cache_key(query: SearchQuery, version: int, model: str | None, ranking: str = "") -> str:
    params = asdict(query)
    params["q"] = text_hash(query.q)
    params["model"] = model
    if ranking:
        params["ranking"] = ranking
    return f"search:{version}:{text_hash(json.dumps(params, sort_keys=True, default=str))}"


def rerank_query(deps: FAQDeps) -> bool:
    """Whether a search with these deps reranks (and so embeds the query with the reranker)."""
    return bool(_ranking(deps))


def _ranking(deps: FAQDeps) -> str:
    """What besides the model decides a result's order (part of its cache key)."""
    if deps.reranker is None or deps.rerank_weight <= 0:
        return ""
    return f"{deps.reranker.name}:{deps.rerank_weight:g}:{deps.rerank_candidates}"


async def search(
    session: AsyncSession, deps: FAQDeps, query: SearchQuery, *, version: int | None = None
) -> SearchResult:
    """The best ``query.limit`` FAQs for ``query.q``, fused from the vector and text signals, then
    (with a reranker) the best ``deps.rerank_candidates`` rescored by it. Results are cached until
    the next change to the knowledge base. ``version``: see search_state."""
    started = time.perf_counter()
    query = replace(query, q=normalize_query(query.q, customer=deps.normalize))
    # The query's vector is made (on the embedder's thread) or read from its cache while the
    # search version and the result cache are read: a new query waits for the longer of the two,
    # not for both.
    vector = asyncio.ensure_future(embed_query(deps, query.q)) if deps.embedder is not None and query.q else None
    ranking = _ranking(deps)
    try:
        version, common = await search_state(session, deps, version)
        key = _cache_key(query, version, deps.model, ranking)
        raw = await deps.cache.get(key)
        if raw is not None:
            RETRIEVAL_DURATION.labels("true").observe(time.perf_counter() - started)
            return SearchResult([_hit_from_json(h) for h in json.loads(raw)], cached=True)
        sets = await synonym_sets.for_version(session, deps, version)
        extra = synonym_sets.expansion(query.q, sets, primary_language(query.language))
        if extra.vector and vector is not None:
            # The query's synonyms go into its vector too: the query's own vector, begun above,
            # gives way (its embedding is cached and shared all the same).
            old, vector = vector, asyncio.ensure_future(embed_query(deps, synonym_sets.vector_text(query.q, extra)))
            if not old.done():
                old.cancel()
            elif not old.cancelled():
                old.exception()
        if ranking and deps.reranker is not None and query.q:
            # The reranker's query embedding runs on its own model's thread during the statement.
            begun = deps.reranker.begin(query.q)
            floor = query.min_similarity
            if query.rerank_min_similarity is not None:
                floor = min(floor, query.rerank_min_similarity)
            wide = replace(query, limit=max(query.limit, deps.rerank_candidates), min_similarity=floor)
            hits = await _run(session, deps, wide, common, await vector if vector is not None else None, extra.terms)
            hits = (await _rerank(deps, begun, hits, primary_language(query.language)))[: query.limit]
        else:
            hits = await _run(session, deps, query, common, await vector if vector is not None else None, extra.terms)
    finally:
        if vector is not None and not vector.done():
            vector.cancel()  # only this wait: the embedding itself is shared (faqs.embeddings._fill)
        elif vector is not None and not vector.cancelled():
            vector.exception()  # not needed after all (a cached result): its failure is moot
    await deps.cache.set(key, json.dumps([asdict(h) for h in hits]), RESULT_TTL_SECONDS)
    RETRIEVAL_DURATION.labels("false").observe(time.perf_counter() - started)
    return SearchResult(hits, cached=False)


async def _rerank(deps: FAQDeps, begun: asyncio.Future[Any], hits: list[Hit], language: str | None = None) -> list[Hit]:
    """``hits`` in the order of hybrid score + rerank_weight * the reranker's score, each FAQ with
    a translation in a language nearer the query's ``language`` ranked after that translation
    (_own_language_first); as they were when the reranker fails (faqs.rerank.rerank_scores logs it)."""
    reranker = deps.reranker
    if reranker is None or not hits:
        begun.cancel()
        return hits
    # A single hit too: its relevance tells the chat whether it applies at all (chat.grounding).
    scored = await rerank_scores(reranker, begun, [(h.question, h.answer) for h in hits])
    if scored is None:
        return hits
    scores, vectors = scored
    rescored = [
        replace(h, score=round(h.score + deps.rerank_weight * s, 6), relevance=round(reranker.relevance(s), 4))
        for h, s in zip(hits, scores, strict=True)
    ]
    # Stable: equal scores keep the hybrid order (which already broke ties by priority and id).
    order = sorted(range(len(rescored)), key=lambda i: -rescored[i].score)
    ranked = [rescored[i] for i in order]
    if language is None or len({h.language for h in ranked}) < 2:
        return ranked
    # The vectors the scores came from, in the ranked order: no second read.
    return _own_language_first(ranked, language, reranker.kinship(vectors, order))


# Two FAQs in different languages are taken for translations of each other only when they are at
# least this alike (faqs.rerank kinship: the demo's Spanish FAQs and their English originals are
# 0.89-0.94 there, the next closest English FAQ 0.84-0.87), besides being each other's closest.
TRANSLATION_KINSHIP = 0.85


def _translations(hits: Sequence[Hit], kin: Any) -> dict[int, set[int]]:
    """For each hit (by position), the positions of its translations among ``hits``: FAQs in
    another language, in the same category, each the other's most alike FAQ of its language among
    the hits, and at least TRANSLATION_KINSHIP alike."""

    def closest(i: int, language: str) -> int:
        same = [j for j, h in enumerate(hits) if h.language == language and j != i]
        return max(same, key=lambda j: float(kin[i][j]))

    pairs: dict[int, set[int]] = {}
    for i, a in enumerate(hits):
        for j in range(i + 1, len(hits)):
            b = hits[j]
            if a.language == b.language or a.category_id != b.category_id or kin[i][j] < TRANSLATION_KINSHIP:
                continue
            if closest(i, b.language) == j and closest(j, a.language) == i:
                pairs.setdefault(i, set()).add(j)
                pairs.setdefault(j, set()).add(i)
    return pairs


def _own_language_first(hits: list[Hit], language: str, kin: Any) -> list[Hit]:
    """``hits`` with every FAQ that has a translation nearer the query's language placed right
    after that translation, which takes its rank: "Parcelo est-il conforme au RGPD ?" shares the
    word "RGPD" with the Spanish article only, but a French reader is better served by the English
    one saying the same. Nearer: the query's language, then the default language (English, as for
    the system prompt: ai.prompts.language_chain), then any other. FAQs that are not translations
    of each other keep their order, however close their scores."""
    chain = language_chain(language)

    def nearness(hit: Hit) -> int:
        own = primary_language(hit.language)
        return chain.index(own) if own in chain else len(chain)

    pairs = _translations(hits, kin)
    if not pairs:
        return hits
    placed: set[int] = set()
    out: list[Hit] = []
    for i in range(len(hits)):
        if i in placed:
            continue
        group = sorted({i} | pairs.get(i, set()), key=lambda j: (nearness(hits[j]), j))
        for j in group:
            if j not in placed:
                placed.add(j)
                out.append(hits[j])
    return out


async def _run(
    session: AsyncSession,
    deps: FAQDeps,
    query: SearchQuery,
    common: Sequence[str],
    vector: list[float] | None,
    synonyms: Sequence[str] = (),
) -> list[Hit]:
    words = text_params(query.q, common, synonyms)
    if vector is None and not words["qwords"]:
        return []
    lang = primary_language(query.language)
    mode: Mode = "all" if lang is None else query.language_mode
    category = query.category_ids is not None
    dim = deps.embedder.dimension if deps.embedder is not None else 0
    sql = _statement(vector is not None and deps.embedder is not None, mode, category, dim)
    params: dict[str, object] = {
        "statuses": [s.value for s in query.statuses],
        **words,
        "k": candidate_count(query.limit),
        **fusion_params(deps.embedder, lang),
        "limit": query.limit,
    }
    if lang is not None:
        params["lang"] = lang
    if category:
        params["category_ids"] = list(query.category_ids or ())
    if vector is not None and deps.embedder is not None:
        params |= {"qvec": vector, "model": deps.embedder.model, "max_dist": 1.0 - query.min_similarity}
    rows = (await session.execute(sql, params)).all()
    return [
        Hit(
            id=r.id,
            question=r.question,
            answer=r.answer,
            slug=r.slug,
            score=round(float(r.score), 6),
            signals=tuple(r.signals),
            language=r.language,
            category_id=r.category_id,
            similarity=None if r.similarity is None else round(float(r.similarity), 4),
        )
        for r in rows
    ]


def _hit_from_json(data: dict[str, Any]) -> Hit:
    return Hit(**{**data, "signals": tuple(data["signals"])})


def retrieval_text(message: str, *, customer: bool = False) -> str:
    """What ``retrieve`` searches (and embeds) for a chat message; ``customer``: as
    ``deps.normalize`` says (see normalize_query)."""
    return normalize_query(message, customer=customer)[: MAX_QUERY_CHARS * 4]


async def retrieve(
    session: AsyncSession,
    deps: FAQDeps | Runtime,
    query: str,
    language: str | None,
    limit: int = 5,
    *,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    version: int | None = None,
) -> list[Hit]:
    """Published FAQs for a chat message, best first: in the conversation's ``language`` when any
    match there, else in any language (one SQL statement either way). The message is cut to its
    first MAX_QUERY_CHARS * 4 characters; an empty one finds nothing. Cached like ``search``;
    ``version``: see search_state."""
    if isinstance(deps, Runtime):
        deps = await resolve_deps(deps, session)
    q = retrieval_text(query, customer=deps.normalize)
    if not q or limit < 1:
        return []
    found = await search(
        session,
        deps,
        SearchQuery(
            q=q,
            language=primary_language(language),
            limit=min(limit, 50),
            language_mode="prefer",
            min_similarity=min_similarity,
        ),
        version=version,
    )
    return found.hits
