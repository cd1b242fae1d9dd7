"""Search tuning: HNSW's candidate list on every connection, and full text's common terms."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select, text

from helpline.core.db import HNSW_EF_SEARCH, HNSW_ITERATIVE_SCAN
from helpline.core.runtime import Runtime
from helpline.faqs import search
from helpline.faqs.backends import resolve_deps
from helpline.faqs.search import FUSION_PARAMS, text_params
from helpline.faqs.search_sql import hybrid_statement
from helpline.models import FAQ
from helpline.platform.cache import MemoryFAQCache
from tests.faqs.test_search import load_demo


async def test_every_connection_searches_hnsw_with_ef_search_40_and_iterative_scans(runtime: Runtime) -> None:
    async with runtime.sessionmaker() as session:
        # Loading pgvector (a vector cast) must keep the value set at connect time.
        await session.execute(text("SELECT CAST('[1,2,3]' AS vector) <=> CAST('[1,2,4]' AS vector)"))
        assert await session.scalar(text("SHOW hnsw.ef_search")) == str(HNSW_EF_SEARCH) == "40"
        assert await session.scalar(text("SHOW hnsw.iterative_scan")) == HNSW_ITERATIVE_SCAN == "relaxed_order"


async def _text_hits(runtime: Runtime, q: str, common: list[str]) -> list[set[str]]:
    """The lexemes of each FAQ the full-text part finds for ``q`` in English, given ``common``."""
    found = hybrid_statement(vectors=False, mode="strict", category=False).subquery("hits")
    sql = select(func.tsvector_to_array(FAQ.search_vector).label("lexemes")).join_from(found, FAQ, FAQ.id == found.c.id)
    params = {"statuses": ["published"], "lang": "en", "k": 40, **FUSION_PARAMS}
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(sql, params | {"limit": 40} | text_params(q, common))).all()
    return [set(r.lexemes) for r in rows]


async def test_common_words_rank_but_do_not_pick_candidates(runtime: Runtime) -> None:
    await load_demo(runtime)
    # Without common words, an OR of the words: FAQs that only mention tracking are found.
    found = await _text_hits(runtime, "track my parcel refund", [])
    assert any("track" in lex and "refund" not in lex for lex in found)
    # "track" and "parcel" common: the rare word picks the candidates.
    found = await _text_hits(runtime, "track my parcel refund", ["track", "parcel"])
    assert found
    assert all("refund" in lex for lex in found)
    # Common words only: each of them must match.
    found = await _text_hits(runtime, "track parcel", ["track", "parcel"])
    assert found
    assert all({"track", "parcel"} <= lex for lex in found)
    # Stop words only: nothing to match, no error.
    assert await _text_hits(runtime, "how do I", []) == []


async def test_common_lexemes_come_from_the_column_statistics(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load_demo(runtime)
    async with runtime.sessionmaker() as session:
        await session.execute(text("ANALYZE faqs"))
        deps = await resolve_deps(runtime, session)
        # 61 FAQs: no lexeme is in more than COMMON_TERM_ROWS of them, so every word picks.
        assert (await search.search_state(session, deps))[1] == []
        deps = replace(deps, cache=MemoryFAQCache())  # an empty cache
        monkeypatch.setattr(search, "COMMON_TERM_ROWS", 10)
        version, common = await search.search_state(session, deps)
        assert version == await session.scalar(text("SELECT version FROM faq_search_version"))
        assert common, "the demo knowledge base has words in more than 10 FAQs"
        for lexeme in common:
            count = await session.scalar(
                text("SELECT count(*) FROM faqs WHERE search_vector @@ CAST(quote_literal(:l) AS tsquery)"),
                {"l": lexeme},
            )
            assert count is not None
            assert count > 5, lexeme  # statistics are estimates, from a sample
        # Cached: the next call reads the version only.
        monkeypatch.setattr(search, "COMMON_TERM_ROWS", 10_000)
        assert (await search.search_state(session, deps))[1] == common


def test_words_weigh_more_in_a_language_the_embedder_does_not_know() -> None:
    from helpline.ai.embeddings.fake import FakeEmbedder
    from helpline.ai.embeddings.local import LocalEmbedder

    minilm = LocalEmbedder()  # the model loads on first use, not here
    assert minilm.languages == frozenset({"en"})
    assert search.fusion_params(minilm, "en") == FUSION_PARAMS
    assert search.fusion_params(minilm, None) == FUSION_PARAMS  # every language: no one weight fits
    assert search.fusion_params(minilm, "es") == {**FUSION_PARAMS, "w_text": search.FOREIGN_TEXT_WEIGHT}
    assert FUSION_PARAMS["w_text"] < search.FOREIGN_TEXT_WEIGHT
    # Embedders that name no languages (multilingual ones, OpenAI's) weigh every language alike.
    assert search.fusion_params(FakeEmbedder(), "es") == FUSION_PARAMS
    assert search.fusion_params(None, "es") == FUSION_PARAMS


async def test_a_search_finds_the_same_whatever_plan_the_connection_keeps(runtime: Runtime) -> None:
    """The language and candidate counts are written into the statement (search._statement), so
    PostgreSQL's plan cache may switch a connection to a generic plan after five executions
    (bench/bench_search_plans.py counts and times them): the hits are those a custom plan finds."""
    await load_demo(runtime)
    queries = [f"how do I track parcel {n}" for n in range(8)]
    # One session: one connection, whose prepared statement is executed more than five times.
    async with runtime.sessionmaker() as session:
        deps = replace(await resolve_deps(runtime, session), cache=MemoryFAQCache())
        planned = []
        for q in queries:
            found = await search.search(session, deps, search.SearchQuery(q=q, language="en"))
            planned.append([h.id for h in found.hits])
        await session.execute(text("SET plan_cache_mode = force_custom_plan"))
        for q, ids in zip(queries, planned, strict=True):
            found = await search.search(session, deps, search.SearchQuery(q=q, language="en"))
            assert [h.id for h in found.hits] == ids
        assert planned[0], "the demo knowledge base answers about tracking"


async def test_a_language_written_into_the_statement_is_quoted(runtime: Runtime) -> None:
    await load_demo(runtime)
    async with runtime.sessionmaker() as session:
        deps = replace(await resolve_deps(runtime, session), cache=MemoryFAQCache())
        for language in ("e'n", "en'); DELETE FROM faqs; --", "x\\"):
            found = await search.search(session, deps, search.SearchQuery(q="track my parcel", language=language))
            assert found.hits == []  # no FAQ is in that language, and nothing broke
        assert await session.scalar(text("SELECT count(*) FROM faqs")) == 61
