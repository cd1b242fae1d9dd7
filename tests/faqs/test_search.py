from __future__ import annotations

import itertools
from typing import Any

import asyncpg
import httpx
from sqlalchemy import Connection, event, text

from helpline.ai.embeddings.fake import FakeEmbedder
from helpline.core.config import LimitsSettings
from helpline.core.db import session_scope
from helpline.core.ratelimit import ApiRateLimiter
from helpline.core.runtime import Runtime
from helpline.faqs.backends import resolve_deps
from helpline.faqs.demo import load_demo_if_empty
from helpline.faqs.reindex import reindex
from helpline.faqs.search import retrieve
from tests.conftest import sql_statements
from tests.faqs.conftest import create_faq

SEARCH = "/api/v1/faqs/search"
PARAPHRASES: list[tuple[str, dict[str, str], str]] = [
    ("I forgot my password", {}, "how-do-i-reset-my-password"),
    ("who pays import taxes and customs duties", {}, "who-pays-duties-and-taxes-on-international-shipments"),
    ("my package arrived broken", {}, "my-parcel-is-lost-or-damaged-how-do-i-file-a-claim"),
    ("print on a Zebra printer", {}, "how-do-i-print-labels-on-a-thermal-printer"),
    ("how to ship a parcel abroad", {"category": "shipping"}, "how-do-i-ship-internationally"),
    ("olvidé mi contraseña", {"language": "es"}, "como-restablezco-mi-contrasena"),
    ("quiero devolver un producto", {"language": "es"}, "como-creo-una-etiqueta-de-devolucion-para-un-cliente"),
]


async def load_demo(runtime: Runtime) -> None:
    async for session in session_scope(runtime.sessionmaker):
        report = await load_demo_if_empty(session, await resolve_deps(runtime, session))
        assert report is not None
        assert (report.created, report.rejected) == (61, [])


async def hits(
    client: httpx.AsyncClient, q: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> list[Any]:
    r = await client.get(SEARCH, params={"q": q, **(params or {})}, headers=headers or {})
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items


async def test_hybrid_search_finds_paraphrases(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await load_demo(runtime)
    signals: set[str] = set()
    for query, params, slug in PARAPHRASES:
        found = await hits(client, query, params)
        assert found, query
        assert found[0]["slug"] == slug, (query, [h["slug"] for h in found[:3]])
        signals |= {s for h in found for s in h["signals"]}
        assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(found))
    assert signals >= {"vector_question", "text"}
    # The same through POST, with a JSON body.
    r = await client.post(SEARCH, json={"q": "how do I reset my forgotten password", "limit": 2})
    assert [h["slug"] for h in r.json()["items"]][:1] == ["how-do-i-reset-my-password"]
    assert len(r.json()["items"]) == 2
    # A language filter is strict; nothing in French.
    assert await hits(client, "contraseña", {"language": "fr"}) == []


async def test_a_faq_without_vectors_is_found_by_text(
    client: httpx.AsyncClient, staff: dict[str, str], runtime: Runtime, db: asyncpg.Connection
) -> None:
    faq = await create_faq(
        client, staff, question="Can I ship perishable food?", answer="Only with dry ice.", status="published"
    )
    await db.execute("UPDATE faqs SET question_embedding = NULL, answer_embedding = NULL, question_hash = NULL")
    found = await hits(client, "shipping perishable food")
    assert [(h["id"], h["signals"]) for h in found] == [(faq["id"], ["text"])]
    assert (await client.get(f"/api/v1/faqs/{faq['id']}", headers=staff)).json()["embedded"] is False
    # `helpline reindex` brings the vectors back.
    report = await reindex(runtime.sessionmaker, FakeEmbedder())
    assert (report.faqs_updated, report.texts_embedded) == (1, 2)
    assert set((await hits(client, "shipping perishable food"))[0]["signals"]) == {"text", "vector_question"}
    assert set((await hits(client, "only with dry ice"))[0]["signals"]) == {"text", "vector_answer"}


async def test_search_is_cached_until_the_knowledge_base_changes(
    client: httpx.AsyncClient, staff: dict[str, str], reader: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(
        client, staff, question="How long does delivery take?", answer="Two days.", status="published"
    )
    params = {"q": "delivery time"}
    first = await client.get(SEARCH, params=params)
    second = await client.get(SEARCH, params=params)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert first.json() == second.json()
    version = await db.fetchval("SELECT version FROM faq_search_version")

    # Views and votes do not change results: the cache stays.
    await client.get(f"/api/v1/faqs/{faq['id']}")
    await client.post(f"/api/v1/faqs/{faq['id']}/vote", headers=reader, json={"helpful": True})
    assert (await client.get(SEARCH, params=params)).headers["x-cache"] == "hit"
    assert await db.fetchval("SELECT version FROM faq_search_version") == version

    # An edit bumps the version in its own transaction: the next search sees it.
    await client.put(f"/api/v1/faqs/{faq['id']}", headers=staff, json={"answer": "Three days by road."})
    after = await client.get(SEARCH, params=params)
    assert after.headers["x-cache"] == "miss"
    assert after.json()["items"][0]["answer"] == "Three days by road."
    assert await db.fetchval("SELECT version FROM faq_search_version") > version
    # So does a change made outside the API.
    await db.execute("UPDATE faqs SET status = 'archived'")
    assert (await client.get(SEARCH, params=params)).json()["items"] == []


async def test_words_typed_without_accents_find_the_faq_that_has_them(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(
        client, staff, question="¿Cómo cambio la contraseña?", answer="En Ajustes.", language="es", status="published"
    )
    other = await create_faq(
        client, staff, question="¿Dónde veo mis facturas?", answer="En Cuenta.", language="es", status="published"
    )
    # The fake embedder's vectors only match identical words: these hits come from full text.
    for q, params in [
        ("cambiar contraseña", {"language": "es"}),
        ("cambiar contrasena", {"language": "es"}),
        ("CONTRASENA", {}),
    ]:
        found = await hits(client, q, params)
        assert [h["id"] for h in found][:1] == [faq["id"]], q
        assert "text" in found[0]["signals"], q
    # An update's new words count (keywords included); so do rows inserted by one bulk statement.
    assert await hits(client, "facturacion electronica") == []
    r = await client.put(f"/api/v1/faqs/{other['id']}", headers=staff, json={"keywords": ["facturación electrónica"]})
    assert r.status_code == 200, r.text
    assert [h["id"] for h in await hits(client, "facturacion electronica")] == [other["id"]]
    await db.execute(
        "INSERT INTO faqs (question, answer, language, status) VALUES "
        "('Où est mon colis ?', 'Suivez-le en ligne.', 'fr', 'published'), "
        "('Wie ändere ich die Größe?', 'Im Menü.', 'de', 'published')"
    )
    terms = await db.fetch("SELECT folded, term FROM faq_accented_terms ORDER BY folded, term")
    assert [(t["folded"], t["term"]) for t in terms] == [
        ("andere", "ändere"), ("como", "cómo"), ("contrasena", "contraseña"), ("donde", "dónde"),
        ("electronica", "electrónica"), ("facturacion", "facturación"), ("grosse", "größe"),
        ("menu", "menü"), ("ou", "où"),
    ]  # fmt: skip
    # Across languages, the query is parsed in the configuration of every language FAQs use, a
    # language that just arrived included.
    found = await hits(client, "andere grosse")
    assert [(h["question"], h["signals"]) for h in found] == [("Wie ändere ich die Größe?", ["text"])]
    # A word no FAQ writes with accents is searched as typed.
    assert [h["id"] for h in await hits(client, "facturas")] == [other["id"]]


async def test_search_only_reads_and_sends_no_begin_or_commit(
    client: httpx.AsyncClient, reader: dict[str, str], runtime: Runtime
) -> None:
    await load_demo(runtime)
    levels: list[object] = []

    def seen(conn: Connection, *_: object) -> None:
        levels.append(conn.get_execution_options().get("isolation_level"))

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", seen)
    try:
        found = await hits(client, "reset my password", headers=reader)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", seen)
    assert found[0]["slug"] == "how-do-i-reset-my-password"
    # The caller's account, the search version and the search: all in autocommit.
    assert len(levels) >= 3
    assert set(levels) == {"AUTOCOMMIT"}
    # In autocommit each statement is its own transaction, started with it; in the ordinary
    # session one transaction spans the statements (here, one that took 50 ms).
    started = text(
        "SELECT query_start - xact_start < interval '40 ms' FROM pg_stat_activity WHERE pid = pg_backend_pid()"
    )
    for maker, alone in ((runtime.read_sessionmaker, True), (runtime.sessionmaker, False)):
        async for session in session_scope(maker):
            await session.execute(text("SELECT pg_sleep(0.05)"))
            assert await session.scalar(started) is alone


async def test_drafts_are_searchable_by_staff_only(
    client: httpx.AsyncClient, staff: dict[str, str], reader: dict[str, str]
) -> None:
    draft = await create_faq(client, staff, question="Secret roadmap question?", answer="Coming soon.")
    assert await hits(client, "secret roadmap") == []
    assert await hits(client, "secret roadmap", headers=reader) == []
    assert [h["id"] for h in await hits(client, "secret roadmap", headers=staff)] == [draft["id"]]
    r = await client.get(SEARCH, params={"q": "secret roadmap", "status": "draft"}, headers=reader)
    assert r.status_code == 403


async def test_searches_are_limited_per_client(
    client: httpx.AsyncClient, runtime: Runtime, reader: dict[str, str]
) -> None:
    limits = LimitsSettings(rules={"search:anonymous": "3/day", "search": "5/day"})
    runtime.api_limiter = ApiRateLimiter(runtime.windows, limits)
    codes = [(await client.get(SEARCH, params={"q": f"question {i}"})).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    r = await client.post(SEARCH, json={"q": "again"})
    assert (r.status_code, r.json()["error"]) == (429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1
    # A signed-in user has an allowance of their own.
    r = await client.get(SEARCH, params={"q": "mine"}, headers=reader)
    assert (r.status_code, r.headers["ratelimit-limit"], r.headers["ratelimit-remaining"]) == (200, "5", "4")


async def test_bad_search_requests_are_clear_422s(client: httpx.AsyncClient) -> None:
    bad: list[dict[str, str | int]] = [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 501}, {"q": "ok", "limit": 0}]
    bad.append({"q": "ok", "limit": 51})
    for params in bad:
        r = await client.get(SEARCH, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"] == "validation_error"
    r = await client.get(SEARCH, params={"q": "   "})
    assert "must not be empty" in r.json()["detail"]
    r = await client.get(SEARCH, params={"q": "x" * 501})
    assert "at most 500 characters" in r.json()["detail"]
    for body in ({}, {"q": ""}, {"q": 3}, {"q": "ok", "sort": "new"}):
        assert (await client.post(SEARCH, json=body)).status_code == 422
    assert (await client.get(SEARCH, params={"q": "ok", "category": "nope"})).status_code == 404


async def test_retrieve_prefers_the_conversation_language_in_one_statement(runtime: Runtime) -> None:
    await load_demo(runtime)
    with sql_statements(runtime) as statements:
        async for session in session_scope(runtime.sessionmaker):
            deps = await resolve_deps(runtime, session)
            statements.clear()
            spanish = await retrieve(session, deps, "olvidé mi contraseña", "es", 3)
            # The cache version, the synonym sets (read once per search version), the hybrid search.
            assert len(statements) == 3
            statements.clear()
            assert await retrieve(session, deps, "contraseña olvidada", "es", 3)
            assert len(statements) == 2  # the cache version, then the whole hybrid search
            english = await retrieve(session, runtime, "I forgot my password", "en-GB", 3)
            fallback = await retrieve(session, deps, "I forgot my password", "fr", 3)
            assert await retrieve(session, deps, "   ", "en", 3) == []
    assert spanish[0].slug == "como-restablezco-mi-contrasena"
    assert {h.language for h in spanish} == {"es"}
    assert english[0].slug == "how-do-i-reset-my-password"
    assert {h.language for h in english} == {"en"}
    # Nothing in French: every language is searched instead.
    assert fallback[0].slug == "how-do-i-reset-my-password"
    assert english[0].signals
    assert english[0].score > 0


async def test_another_embedding_model_makes_vectors_stale_until_reindexed(
    client: httpx.AsyncClient, staff: dict[str, str], runtime: Runtime, db: asyncpg.Connection
) -> None:
    faq = await create_faq(client, staff, question="Do you deliver on Sundays?", answer="No.", status="published")

    class Other(FakeEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.model = "other-model"

    runtime.embedder = Other()
    found = await hits(client, "deliver on Sundays")
    assert found[0]["signals"] == ["text"]  # old vectors are not compared with the new model's
    report = await reindex(runtime.sessionmaker, Other())
    assert (report.faqs_updated, report.texts_embedded, report.resized_from) == (1, 2, None)
    assert await db.fetchval("SELECT embedding_model FROM faqs WHERE id = $1", faq["id"]) == "other-model"
    found = await hits(client, "deliver on Sundays")
    assert "vector_question" in found[0]["signals"]
    again = await reindex(runtime.sessionmaker, Other())
    assert (again.faqs_updated, again.faqs_current) == (0, 1)
