"""The SQL of the FAQ search (faqs.search): the hybrid statement, built from SQLAlchemy constructs
(no SQL text is put together from strings), and the fixed statements it reads its state with.

The statement has one shape per (vectors, mode, category): the search builds and compiles each
once and keeps it (search._statement, hybrid_text). Its constants (``'-'``, ``1``, ``' or '``...)
are written into the text as literal columns, never sent as parameters: the expression index
ix_faqs_primary_language is on ``split_part(lower(language), '-', 1)`` exactly, and the plan must
not depend on them. Parameters get no cast of their own, so PostgreSQL infers their types from
where they stand (``:w_text * ts_rank(...)`` is a ``real``), as when the statement was text.

Parameters: ``statuses`` (FAQ statuses), ``qtext`` / ``qwords`` / ``common`` (search.text_params),
``k`` (candidates per signal), ``lang`` (a primary language subtag; strict and prefer modes),
``category_ids`` (category filter), ``w_text`` and, with vectors, ``w_answer``, ``qvec``,
``model`` and ``max_dist`` (search.fusion_params, search._run), and ``limit``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    CTE,
    BindParameter,
    ColumnClause,
    ColumnElement,
    Integer,
    Select,
    String,
    Text,
    TextClause,
    all_,
    any_,
    bindparam,
    case,
    cast,
    distinct,
    exists,
    func,
    literal_column,
    null,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, REGCONFIG, TSQUERY, aggregate_order_by
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine.interfaces import BindTyping
from sqlalchemy.types import TypeEngine

from helpline.models import FAQ, FAQAccentedTerm, FAQPhrasing
from helpline.models.enums import faq_status

# Full-text candidates ranked per query (see _candidates); far above any demo or test knowledge base.
TEXT_CANDIDATES = 2000

Mode = Literal["strict", "all", "prefer"]

# The planner's statistics of the search_vector column (ANALYZE keeps up to 1,000 most common
# lexemes with their frequencies): those in more than :rows FAQs.
COMMON_SQL = (
    "SELECT coalesce(array_agg(u.lexeme ORDER BY u.lexeme), '{}') FROM pg_stats s "
    "JOIN pg_class c ON c.oid = CAST('faqs' AS regclass) "
    "CROSS JOIN LATERAL unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs) "
    "AS u(lexeme, freq) WHERE s.schemaname = current_schema() AND s.tablename = 'faqs' "
    "AND s.attname = 'search_vector' AND u.lexeme IS NOT NULL AND u.freq * c.reltuples > :rows"
)
VERSION_SQL = "SELECT version FROM faq_search_version WHERE id = 1"
# Both at once (search.search_state, when the common lexemes are not cached): VERSION_SQL and
# COMMON_SQL as written above, as two scalar subqueries.
STATE_SQL = (
    "SELECT (SELECT version FROM faq_search_version WHERE id = 1) AS version, ("
    "SELECT coalesce(array_agg(u.lexeme ORDER BY u.lexeme), '{}') FROM pg_stats s "
    "JOIN pg_class c ON c.oid = CAST('faqs' AS regclass) "
    "CROSS JOIN LATERAL unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs) "
    "AS u(lexeme, freq) WHERE s.schemaname = current_schema() AND s.tablename = 'faqs' "
    "AND s.attname = 'search_vector' AND u.lexeme IS NOT NULL AND u.freq * c.reltuples > :rows) AS common"
)

_faqs = FAQ.__table__
_phrasings = FAQPhrasing.__table__
_accented = FAQAccentedTerm.__table__

# Constants of the statement's text (see the module's docstring).
_ZERO: ColumnClause[Any] = literal_column("0")
_ONE: ColumnClause[Any] = literal_column("1")
_EMPTY = literal_column("''", Text)
_SPACE = literal_column("' '", Text)
_OR = literal_column("' or '", Text)
_BAR = literal_column("' | '", Text)
_SIMPLE = literal_column("'simple'", REGCONFIG)
# The signals (search.Signal) a candidate was found by.
_VECTOR_QUESTION = literal_column("'vector_question'", Text)
_VECTOR_ANSWER = literal_column("'vector_answer'", Text)
_VECTOR_PHRASING = literal_column("'vector_phrasing'", Text)
_TEXT = literal_column("'text'", Text)

# The parameters without a type of their own (cast where used, or typed by what they meet).
_STATUSES: BindParameter[Any] = bindparam("statuses")
_QTEXT: BindParameter[Any] = bindparam("qtext")
_QWORDS: BindParameter[Any] = bindparam("qwords")
_COMMON: BindParameter[Any] = bindparam("common")
_CATEGORY_IDS: BindParameter[Any] = bindparam("category_ids")
_MODEL: BindParameter[Any] = bindparam("model")
_MAX_DIST: BindParameter[Any] = bindparam("max_dist")
_W_TEXT: BindParameter[Any] = bindparam("w_text")
_W_ANSWER: BindParameter[Any] = bindparam("w_answer")
_LIMIT: BindParameter[Any] = bindparam("limit")
# What the statement's plan depends on: written into its text at execution (hybrid_text).
_K: BindParameter[Any] = bindparam("k", type_=Integer())
_LANG: BindParameter[Any] = bindparam("lang", type_=String())
_TEXT_CANDIDATES = literal_column(str(TEXT_CANDIDATES), Integer())


def _primary(language: ColumnElement[Any]) -> ColumnElement[Any]:
    """A language tag's primary subtag, as ix_faqs_primary_language indexes it."""
    return func.split_part(func.lower(language), literal_column("'-'"), _ONE)


def _ts_config(language: ColumnElement[Any]) -> ColumnElement[Any]:
    """helpline_ts_config() (migration 0003): a language tag's text-search configuration."""
    return func.helpline_ts_config(language)


def _accents() -> CTE:
    """Accent-insensitive full text: the accented forms FAQs use of the query's plain words
    (faq_accented_terms, filled by triggers, migration 0006), space-separated, "" for none. A user
    who types "contrasena" also searches "contraseña"; a word typed with its accents, or one no
    FAQ writes with accents, adds nothing. One index probe per statement."""
    a = _accented.alias("a")
    words = func.coalesce(func.string_agg(a.c.term, aggregate_order_by(_SPACE, a.c.term)), _EMPTY)
    plain = func.tsvector_to_array(func.to_tsvector(_SIMPLE, cast(_QWORDS, Text)))
    return select(words.label("words")).where(a.c.folded == any_(plain)).cte("accents").prefix_with("MATERIALIZED")


def _kb_languages() -> CTE:
    """The primary language subtags of the knowledge base's FAQs (any status), by a skip scan of
    ix_faqs_primary_language: one index probe per language, however many FAQs. A search across
    languages parses the query once per configuration these use, not in all seven (at 100,000
    English FAQs, 1 ms of a 9 ms statement)."""
    first = select(func.min(_primary(_faqs.c.language)).label("tag")).cte("kb_languages", recursive=True)
    # CTEs are referred to by their own names (an alias of one would be a second CTE to SQLAlchemy).
    k = first
    f = _faqs.alias("f")
    following = select(func.min(_primary(f.c.language))).where(_primary(f.c.language) > k.c.tag).scalar_subquery()
    return first.union_all(select(following).where(k.c.tag.is_not(None)))


def _candidates(
    prefix: str,
    accents: CTE,
    kb_languages: CTE | None,
    dim: int | None,
    *,
    language: bool,
    category: bool,
) -> tuple[list[CTE], CTE]:
    """The CTEs of one search (named ``prefix``...): each signal's candidates, then every candidate
    scored on every signal (the last CTE, named ``prefix``). ``kb_languages``: match and rank
    each FAQ in its own language's configuration (every language); else in ``:lang``'s. ``dim``:
    the vectors' width, or None for full text only."""

    def filters(f: Any) -> list[ColumnElement[bool]]:
        where = [f.c.status == any_(cast(_STATUSES, ARRAY(faq_status)))]
        if language:
            where.append(_primary(f.c.language) == _LANG)
        if category:
            where.append(f.c.category_id == any_(cast(_CATEGORY_IDS, ARRAY(Integer()))))
        return where

    ctes: list[CTE] = []
    qvec = cast(bindparam("qvec", type_=Vector(dim)), Vector()) if dim is not None else None
    vector_ctes: list[tuple[CTE, ColumnElement[Any]]] = []
    if qvec is not None:
        # Nearest first, in the shape the HNSW index serves (ORDER BY distance LIMIT k); the
        # similarity floor applies to those k afterwards, so it never turns the index walk into
        # a search for rows that pass it.
        for column, signal in (("question_embedding", _VECTOR_QUESTION), ("answer_embedding", _VECTOR_ANSWER)):
            f = _faqs.alias("f")
            distance = f.c[column].cosine_distance(qvec)
            nearest = (
                select(f.c.id, distance.label("dist"))
                .where(*filters(f), f.c.embedding_model == _MODEL, f.c[column].is_not(None))
                .order_by(distance)
                .limit(_K)
                .cte(f"{prefix}_{column}")
            )
            vector_ctes.append((nearest, signal))
        # The nearest alternative phrasings (faq_phrasings, an HNSW index of its own), of FAQs the
        # filters allow.
        f, p = _faqs.alias("f"), _phrasings.alias("p")
        distance = p.c.embedding.cosine_distance(qvec)
        nearest = (
            select(p.c.faq_id.label("id"), distance.label("dist"))
            .select_from(p.join(f, f.c.id == p.c.faq_id))
            .where(*filters(f), p.c.embedding_model == _MODEL, p.c.embedding.is_not(None))
            .order_by(distance)
            .limit(_K)
            .cte(f"{prefix}_phrasing")
        )
        vector_ctes.append((nearest, _VECTOR_PHRASING))
        ctes += [cte for cte, _ in vector_ctes]

    # Full text, in the shape of a "common terms" query (Lucene's CommonTermsQuery): the query's
    # rare words pick the candidate rows through the GIN index, and every word ranks them. A word
    # found in more than COMMON_TERM_ROWS FAQs (the planner's own statistics, see
    # search.search_state) would drag tens of thousands of rows into ranking at scale while
    # telling little apart; a query of common words only must contain all of them. Each FAQ is
    # matched and ranked in its own language's configuration: with one language that is one parse
    # of the query; across languages, one per configuration the knowledge base's languages use
    # (kb_languages). The parses are made once per statement (MATERIALIZED), never per row,
    # whatever plan a prepared statement gets.
    if kb_languages is not None:
        k = kb_languages
        configs = select(_ts_config(k.c.tag).label("cfg")).distinct().where(k.c.tag.is_not(None)).subquery("c")
    else:
        configs = select(_ts_config(_LANG).label("cfg")).subquery("c")
    a = accents
    # The query's words OR-ed, and the accented forms of its plain words (see _accents).
    words = func.concat_ws(
        _OR, func.nullif(cast(_QTEXT, Text), _EMPTY), func.nullif(func.replace(a.c.words, _SPACE, _OR), _EMPTY)
    )
    tsq = (
        select(configs.c.cfg, func.websearch_to_tsquery(configs.c.cfg, words).label("q"))
        .select_from(configs.join(a, true()))
        .cte(f"{prefix}_tsq")
        .prefix_with("MATERIALIZED")
    )
    ctes.append(tsq)
    # Per configuration: its parse's rare lexemes, OR-ed, or all of its (common) words when it
    # has no rare one; OR-ed across configurations. Lexemes of \w+ words hold no quote or
    # backslash, so quote_literal() gives tsquery syntax. No lexeme at all: NULL, no match.
    t = tsq
    lexeme = func.unnest(
        func.tsvector_to_array(func.to_tsvector(t.c.cfg, func.concat_ws(_SPACE, cast(_QWORDS, Text), a.c.words)))
    ).column_valued("l")
    rare = (
        select(cast(func.string_agg(distinct(func.quote_literal(lexeme)), _BAR), TSQUERY))
        .where(lexeme != all_(cast(_COMMON, ARRAY(Text()))))
        .scalar_subquery()
    )
    per_config = (
        select(func.coalesce(rare, func.websearch_to_tsquery(t.c.cfg, _QWORDS)).label("q"))
        .select_from(t.join(a, true()))
        .subquery("p")
    )
    bracketed = literal_column("'('", Text) + cast(per_config.c.q, Text) + literal_column("')'", Text)
    pick = (
        select(cast(func.string_agg(bracketed, _BAR), TSQUERY).label("q"))
        .where(func.numnode(per_config.c.q) > _ZERO)
        .cte(f"{prefix}_pick")
        .prefix_with("MATERIALIZED")
    )
    ctes.append(pick)
    # Ranking is the costly part of full-text search (ts_rank reads every match's vector):
    # only the first TEXT_CANDIDATES the index yields are ranked, which bounds the cost.
    f = _faqs.alias("f")
    matching = (
        select(f.c.id, f.c.search_vector, f.c.language)
        .where(*filters(f), f.c.search_vector.bool_op("@@")(select(pick.c.q).scalar_subquery()))
        .limit(_TEXT_CANDIDATES)
        .subquery("f")
    )
    rank = func.ts_rank(matching.c.search_vector, t.c.q).label("rank")
    ranked = (
        select(matching.c.id, rank)
        .select_from(matching.join(t, t.c.cfg == _ts_config(matching.c.language)))
        .where(matching.c.search_vector.bool_op("@@")(t.c.q))
        .order_by(rank.desc(), matching.c.id)
        .limit(_K)
        .cte(f"{prefix}_text")
    )
    ctes.append(ranked)

    found: list[Select[Any]] = [
        select(cte.c.id, signal.label("signal"), (_ONE - cte.c.dist).label("similarity")).where(cte.c.dist <= _MAX_DIST)
        for cte, signal in vector_ctes
    ]
    found.append(
        select(
            ranked.c.id,
            _TEXT.label("signal"),
            cast(null(), DOUBLE_PRECISION).label("similarity"),
        )
    )
    s = union_all(*found).subquery("s")
    grouped = (
        select(
            s.c.id,
            func.array_agg(aggregate_order_by(distinct(s.c.signal), s.c.signal)).label("signals"),
            func.max(s.c.similarity).label("similarity"),
        )
        .group_by(s.c.id)
        .subquery("c")
    )
    # Every candidate is scored on every signal, exactly: its two cosine similarities (vectors of
    # another model count 0) and its text rank (0 when no word matches).
    f = _faqs.alias("f")
    score: ColumnElement[Any] = _W_TEXT * func.ts_rank(f.c.search_vector, t.c.q)
    if qvec is not None:
        question, answer = (
            func.coalesce(case((f.c.embedding_model == _MODEL, _ONE - f.c[column].cosine_distance(qvec))), _ZERO)
            for column in ("question_embedding", "answer_embedding")
        )
        # The question's side of the score is its best form: the question or a phrasing (NULL
        # without phrasings, which greatest() ignores: such a FAQ scores exactly as before).
        p = _phrasings.alias("p")
        phrasing = (
            select(func.max(_ONE - p.c.embedding.cosine_distance(qvec)))
            .where(p.c.faq_id == f.c.id, p.c.embedding_model == _MODEL)
            .scalar_subquery()
        )
        score = func.greatest(question, phrasing) + _W_ANSWER * answer + score
    fused = (
        select(grouped.c.id, score.label("score"), grouped.c.signals, grouped.c.similarity)
        .select_from(grouped.join(f, f.c.id == grouped.c.id).join(t, t.c.cfg == _ts_config(f.c.language)))
        .cte(prefix)
    )
    ctes.append(fused)
    return ctes, fused


def hybrid_statement(*, vectors: bool, mode: Mode, category: bool, dim: int = 0) -> Select[Any]:
    """The whole search as one statement. ``mode``: "strict" (one language), "all" (every
    language) or "prefer" (one language; every language only when it finds nothing, evaluated
    in the same statement and skipped by the planner when not needed). ``dim``: the query
    vector's width (with ``vectors``)."""
    accents = _accents()
    kb_languages = _kb_languages() if mode in ("all", "prefer") else None
    width = dim if vectors else None
    results: list[CTE] = []
    if mode in ("strict", "prefer"):
        results.append(_candidates("pref", accents, None, width, language=True, category=category)[1])
    if mode in ("all", "prefer"):
        results.append(_candidates("anylang", accents, kb_languages, width, language=False, category=category)[1])
    if mode == "prefer":
        pref, anylang = results
        fused = union_all(select(pref), select(anylang).where(~exists(select(_ONE).select_from(pref)))).cte("fused")
    else:
        fused = results[0]
    f = _faqs.alias("f")
    columns = (f.c.id, f.c.question, f.c.answer, f.c.slug, f.c.language, f.c.category_id)
    return (
        select(*columns, fused.c.score, fused.c.signals, fused.c.similarity)
        .select_from(fused.join(f, f.c.id == fused.c.id))
        .order_by(fused.c.score.desc(), f.c.priority.desc(), f.c.id)
        .limit(_LIMIT)
    )


# Sent to PostgreSQL as literals (quoted by the dialect), not as parameters; see hybrid_text.
_LITERALS: dict[str, TypeEngine[Any]] = {"k": Integer(), "lang": String()}


def _named_dialect() -> PGDialect:
    """PostgreSQL's SQL with parameters as ":name" (as text() reads them) and no casts added to
    them (PostgreSQL infers their types from where they stand, as in the statement's text before)."""
    dialect = PGDialect(paramstyle="named")  # type: ignore[no-untyped-call]
    dialect.bind_typing = BindTyping.NONE
    return dialect


_NAMED = _named_dialect()


def hybrid_text(*, vectors: bool, mode: Mode, category: bool, dim: int = 0) -> TextClause:
    """``hybrid_statement`` compiled once, as the search runs it: its text, with the language and
    the candidate count written into it at execution (SQLAlchemy's literal_execute, quoted by the
    dialect: see search._statement) and the query vector typed. Run as a Core statement, each
    execution cost SQLAlchemy 0.2-1 ms (hashing a cache key the size of the statement: as much as
    PostgreSQL took to run it on the demo); as the text it compiles to, nothing."""
    sql = str(hybrid_statement(vectors=vectors, mode=mode, category=category, dim=dim).compile(dialect=_NAMED))
    binds = [bindparam(name, type_=type_, literal_execute=True) for name, type_ in _LITERALS.items()]
    if vectors:
        binds.append(bindparam("qvec", type_=Vector(dim)))
    return text(sql).bindparams(*[b for b in binds if re.search(rf":{b.key}\b", sql)])
