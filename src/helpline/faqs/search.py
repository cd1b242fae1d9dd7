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

from pgvector.sqlalchemy import Vector
from sqlalchemy import BindParameter, Integer, String, TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from helpline.ai.base import Embedder
from helpline.core.metrics import RETRIEVAL_DURATION
from helpline.core.runtime import Runtime
from helpline.faqs import synonyms as synonym_sets
from helpline.faqs.backends import FAQDeps, resolve_deps
from helpline.faqs.embeddings import embed_query, text_hash
from helpline.faqs.query import normalise
from helpline.faqs.rerank import rerank_scores
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
MAX_QUERY_CHARS = 500
RESULT_TTL_SECONDS = 600
# Full-text candidates ranked per query (see _candidates); far above any demo or test knowledge base.
TEXT_CANDIDATES = 2000
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
    """The full-text parameters of ``hybrid_sql`` for query ``q``; ``common``: see search_state;
    ``synonyms``: terms OR-ed to the query's words (faqs.synonyms.expansion; several words: a phrase)."""
    qtext, qwords = text_query(q), query_words(q)
    for term in synonyms:
        words = query_words(term)
        if words:
            qtext = " or ".join(filter(None, (qtext, f'"{words}"' if " " in words else words)))
            qwords = f"{qwords} {words}".strip()
    return {"qtext": qtext, "qwords": qwords, "common": list(common)}


# The planner's statistics of the search_vector column (ANALYZE keeps up to 1,000 most common
# lexemes with their frequencies): those in more than :rows FAQs.
COMMON_SQL = (
    "SELECT coalesce(array_agg(u.lexeme ORDER BY u.lexeme), '{}') FROM pg_stats s "
    "JOIN pg_class c ON c.oid = CAST('faqs' AS regclass) "
    "CROSS JOIN LATERAL unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs) "
    "AS u(lexeme, freq) WHERE s.schemaname = current_schema() AND s.tablename = 'faqs' "
    "AND s.attname = 'search_vector' AND u.lexeme IS NOT NULL AND u.freq * c.reltuples > :rows"
)
_VERSION_SQL = "SELECT version FROM faq_search_version WHERE id = 1"
# The primary language subtags of the knowledge base's FAQs (any status), by a skip scan of
# ix_faqs_primary_language: one index probe per language, however many FAQs. A search across
# languages parses the query once per configuration these use, not in all seven (at 100,000
# English FAQs, 1 ms of a 9 ms statement).
KB_LANGUAGES_CTE = (
    "kb_languages AS (SELECT min(split_part(lower(language), '-', 1)) AS tag FROM faqs "
    "UNION ALL SELECT (SELECT min(split_part(lower(f.language), '-', 1)) FROM faqs f "
    "WHERE split_part(lower(f.language), '-', 1) > k.tag) FROM kb_languages k WHERE k.tag IS NOT NULL)"
)
# Accent-insensitive full text: the accented forms FAQs use of the query's plain words
# (faq_accented_terms, filled by triggers, migration 0006), space-separated, "" for none. A user
# who types "contrasena" also searches "contraseña"; a word typed with its accents, or one no
# FAQ writes with accents, adds nothing. One index probe per statement.
ACCENTS_CTE = (
    "accents AS MATERIALIZED (SELECT coalesce(string_agg(a.term, ' ' ORDER BY a.term), '') AS words "
    "FROM faq_accented_terms a WHERE a.folded = ANY(tsvector_to_array(to_tsvector('simple', CAST(:qwords AS text)))))"
)
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
            version = int(await session.scalar(text(_VERSION_SQL)) or 0)
        return version, list(json.loads(raw))
    row = (
        await session.execute(
            text(f"SELECT ({_VERSION_SQL}) AS version, ({COMMON_SQL}) AS common"), {"rows": COMMON_TERM_ROWS}
        )
    ).one()
    common = list(row.common or [])
    await deps.cache.set(COMMON_KEY, json.dumps(common), COMMON_TTL_SECONDS)
    return int(row.version or 0) if version is None else version, common


def fusion_params(embedder: Embedder | None, language: str | None) -> dict[str, float]:
    """The fusion weights for a query in ``language`` (a primary subtag, or None for any)."""
    known = getattr(embedder, "languages", None)  # None: every language
    if known is not None and language is not None and language not in known:
        return {**FUSION_PARAMS, "w_text": FOREIGN_TEXT_WEIGHT}
    return dict(FUSION_PARAMS)


def _candidates(prefix: str, *, vectors: bool, language: bool, per_row_config: bool, category: bool) -> list[str]:
    # S608: only fixed names from this module are interpolated; every value is a bound parameter.
    where = "f.status = ANY(CAST(:statuses AS faq_status[]))"
    if language:
        where += " AND split_part(lower(f.language), '-', 1) = :lang"
    if category:
        where += " AND f.category_id = ANY(CAST(:category_ids AS int[]))"
    ctes = []
    if vectors:
        # Nearest first, in the shape the HNSW index serves (ORDER BY distance LIMIT k); the
        # similarity floor applies to those k afterwards, so it never turns the index walk into
        # a search for rows that pass it.
        for column in ("question_embedding", "answer_embedding"):
            ctes.append(
                f"{prefix}_{column} AS (SELECT f.id, f.{column} <=> CAST(:qvec AS vector) AS dist FROM faqs f "  # noqa: S608
                f"WHERE {where} AND f.embedding_model = :model AND f.{column} IS NOT NULL "
                f"ORDER BY f.{column} <=> CAST(:qvec AS vector) LIMIT :k)"
            )
        # The nearest alternative phrasings (faq_phrasings, an HNSW index of its own), of FAQs the
        # filters allow.
        ctes.append(
            f"{prefix}_phrasing AS (SELECT p.faq_id AS id, p.embedding <=> CAST(:qvec AS vector) AS dist "  # noqa: S608
            f"FROM faq_phrasings p JOIN faqs f ON f.id = p.faq_id "
            f"WHERE {where} AND p.embedding_model = :model AND p.embedding IS NOT NULL "
            f"ORDER BY p.embedding <=> CAST(:qvec AS vector) LIMIT :k)"
        )
    # Full text, in the shape of a "common terms" query (Lucene's CommonTermsQuery): the query's
    # rare words pick the candidate rows through the GIN index, and every word ranks them. A word
    # found in more than COMMON_TERM_ROWS FAQs (the planner's own statistics, see search_state)
    # would drag tens of thousands of rows into ranking at scale while telling little apart; a
    # query of common words only must contain all of them. Each FAQ is matched and ranked in its
    # own language's configuration: with one language that is one parse of the query; across
    # languages, one per configuration the knowledge base's languages use (KB_LANGUAGES_CTE). The
    # parses are made once per statement (MATERIALIZED), never per row, whatever plan a prepared
    # statement gets.
    if per_row_config:
        configs = "SELECT DISTINCT helpline_ts_config(k.tag) AS cfg FROM kb_languages k WHERE k.tag IS NOT NULL"
    else:
        configs = "SELECT helpline_ts_config(:lang) AS cfg"
    # The query's words OR-ed, and the accented forms of its plain words (see ACCENTS_CTE).
    ctes.append(
        f"{prefix}_tsq AS MATERIALIZED (SELECT c.cfg, websearch_to_tsquery(c.cfg, concat_ws(' or ', "  # noqa: S608
        f"nullif(CAST(:qtext AS text), ''), nullif(replace(a.words, ' ', ' or '), ''))) AS q "
        f"FROM ({configs}) c CROSS JOIN accents a)"
    )
    # Per configuration: its parse's rare lexemes, OR-ed, or all of its (common) words when it
    # has no rare one; OR-ed across configurations. Lexemes of \w+ words hold no quote or
    # backslash, so quote_literal() gives tsquery syntax. No lexeme at all: NULL, no match.
    ctes.append(
        f"{prefix}_pick AS MATERIALIZED (SELECT CAST(string_agg('(' || CAST(p.q AS text) || ')', ' | ') AS tsquery) "  # noqa: S608
        f"AS q FROM (SELECT coalesce((SELECT CAST(string_agg(DISTINCT quote_literal(l), ' | ') AS tsquery) "
        f"FROM unnest(tsvector_to_array(to_tsvector(t.cfg, concat_ws(' ', CAST(:qwords AS text), a.words)))) l "
        f"WHERE l <> ALL(CAST(:common AS text[]))), websearch_to_tsquery(t.cfg, :qwords)) AS q "
        f"FROM {prefix}_tsq t CROSS JOIN accents a) p WHERE numnode(p.q) > 0)"
    )
    # Ranking is the costly part of full-text search (ts_rank reads every match's vector):
    # only the first TEXT_CANDIDATES the index yields are ranked, which bounds the cost.
    ctes.append(
        f"{prefix}_text AS (SELECT f.id, ts_rank(f.search_vector, t.q) AS rank "  # noqa: S608
        f"FROM (SELECT f.id, f.search_vector, f.language FROM faqs f WHERE {where} "
        f"AND f.search_vector @@ (SELECT q FROM {prefix}_pick) LIMIT {TEXT_CANDIDATES}) f "
        f"JOIN {prefix}_tsq t ON t.cfg = helpline_ts_config(f.language) "
        f"WHERE f.search_vector @@ t.q ORDER BY rank DESC, f.id LIMIT :k)"
    )
    found = []
    if vectors:
        for column, signal in (("question_embedding", "vector_question"), ("answer_embedding", "vector_answer")):
            found.append(
                f"SELECT id, '{signal}' AS signal, 1 - dist AS similarity "  # noqa: S608
                f"FROM {prefix}_{column} WHERE dist <= :max_dist"
            )
        found.append(
            f"SELECT id, 'vector_phrasing' AS signal, 1 - dist AS similarity "  # noqa: S608
            f"FROM {prefix}_phrasing WHERE dist <= :max_dist"
        )
    found.append(f"SELECT id, 'text' AS signal, CAST(NULL AS float8) AS similarity FROM {prefix}_text")  # noqa: S608
    # Every candidate is scored on every signal, exactly: its two cosine similarities (vectors of
    # another model count 0) and its text rank (0 when no word matches).
    score = ":w_text * ts_rank(f.search_vector, t.q)"
    if vectors:
        sims = [
            f"coalesce(CASE WHEN f.embedding_model = :model THEN 1 - (f.{column} <=> CAST(:qvec AS vector)) END, 0)"
            for column in ("question_embedding", "answer_embedding")
        ]
        # The question's side of the score is its best form: the question or a phrasing (NULL
        # without phrasings, which greatest() ignores: such a FAQ scores exactly as before).
        phrasing = (
            "(SELECT max(1 - (p.embedding <=> CAST(:qvec AS vector))) FROM faq_phrasings p "
            "WHERE p.faq_id = f.id AND p.embedding_model = :model)"
        )
        score = f"greatest({sims[0]}, {phrasing}) + :w_answer * {sims[1]} + {score}"
    ctes.append(
        f"{prefix} AS (SELECT c.id, {score} AS score, c.signals, c.similarity FROM "  # noqa: S608
        f"(SELECT id, array_agg(DISTINCT signal ORDER BY signal) AS signals, max(similarity) AS similarity "
        f"FROM ({' UNION ALL '.join(found)}) s GROUP BY id) c JOIN faqs f ON f.id = c.id "
        f"JOIN {prefix}_tsq t ON t.cfg = helpline_ts_config(f.language))"
    )
    return ctes


def hybrid_sql(*, vectors: bool, mode: Literal["strict", "all", "prefer"], category: bool) -> str:
    """The whole search as one statement. ``mode``: "strict" (one language), "all" (every
    language) or "prefer" (one language; every language only when it finds nothing, evaluated
    in the same statement and skipped by the planner when not needed)."""
    ctes: list[str] = [ACCENTS_CTE]
    if mode in ("all", "prefer"):
        ctes.append(KB_LANGUAGES_CTE)
    if mode in ("strict", "prefer"):
        ctes += _candidates("pref", vectors=vectors, language=True, per_row_config=False, category=category)
    if mode in ("all", "prefer"):
        ctes += _candidates("anylang", vectors=vectors, language=False, per_row_config=True, category=category)
    if mode == "strict":
        fused = "pref"
    elif mode == "all":
        fused = "anylang"
    else:
        ctes.append(
            "fused AS (SELECT * FROM pref UNION ALL SELECT * FROM anylang WHERE NOT EXISTS (SELECT 1 FROM pref))"
        )
        fused = "fused"
    return (
        ("WITH RECURSIVE " if KB_LANGUAGES_CTE in ctes else "WITH ")
        + ",\n".join(ctes)
        + f"\nSELECT f.id, f.question, f.answer, f.slug, f.language, f.category_id, r.score, r.signals, "
        f"r.similarity FROM {fused} r JOIN faqs f ON f.id = r.id "
        "ORDER BY r.score DESC, f.priority DESC, f.id LIMIT :limit"
    )


def candidate_count(limit: int) -> int:
    """Candidates each signal finds for a search of ``limit`` hits (at least 4 per hit, in three
    steps: each step is a statement of its own, see _statement)."""
    return 20 if limit <= 5 else 40 if limit <= 10 else 100


# Written into the statement's text (SQLAlchemy's literal_execute, quoted by the dialect) instead
# of sent as parameters: the language and the candidate count are what its plan depends on (with
# TEXT_CANDIDATES, a constant of the text), and the rest (the query's vector and words, the
# fusion weights) is not. So PostgreSQL's plan cache
# finds the generic plan of a statement as cheap as a custom one and, after its first five
# executions on a connection, stops planning it: 0.8-1 ms of a 6 ms statement at 100,000 FAQs
# (bench/bench_scale.py). With them as parameters, the generic plan's guesses (an unknown LIMIT,
# an average language) cost more, so every execution was planned anew. A language gets a plan of
# its own: a rare one is best read through its B-tree, a common one through HNSW.
_LITERALS: dict[str, TypeEngine[Any]] = {"k": Integer(), "lang": String()}


@functools.cache
def _statement(vectors: bool, mode: Literal["strict", "all", "prefer"], category: bool, dim: int) -> TextClause:
    """The search statement, built once per shape: parsing its text for bind parameters costs
    about as much CPU as running it through the driver."""
    sql = hybrid_sql(vectors=vectors, mode=mode, category=category)
    binds: list[BindParameter[Any]] = [
        bindparam(name, type_=type_, literal_execute=True)
        for name, type_ in _LITERALS.items()
        if re.search(rf":{name}\b", sql)
    ]
    if vectors:
        binds.append(bindparam("qvec", type_=Vector(dim)))
    return text(sql).bindparams(*binds)


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
            wide = replace(query, limit=max(query.limit, deps.rerank_candidates))
            hits = await _run(session, deps, wide, common, await vector if vector is not None else None, extra.terms)
            hits = (await _rerank(deps, begun, hits))[: query.limit]
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


async def _rerank(deps: FAQDeps, begun: asyncio.Future[Any], hits: list[Hit]) -> list[Hit]:
    """``hits`` in the order of hybrid score + rerank_weight * the reranker's score; as they were
    when the reranker fails (faqs.rerank.rerank_scores logs it)."""
    reranker = deps.reranker
    if reranker is None or not hits:
        begun.cancel()
        return hits
    # A single hit too: its relevance tells the chat whether it applies at all (chat.grounding).
    scores = await rerank_scores(reranker, begun, [(h.question, h.answer) for h in hits])
    if scores is None:
        return hits
    rescored = [
        replace(h, score=round(h.score + deps.rerank_weight * s, 6), relevance=round(reranker.relevance(s), 4))
        for h, s in zip(hits, scores, strict=True)
    ]
    # Stable: equal scores keep the hybrid order (which already broke ties by priority and id).
    return sorted(rescored, key=lambda h: -h.score)


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
    mode: Literal["strict", "all", "prefer"] = "all" if lang is None else query.language_mode
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
