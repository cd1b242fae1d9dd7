"""Search synonyms managed by staff (faqs/synonyms.py): the admin API, query expansion, and the
demo knowledge base's general vocabulary sets through the real search."""

from __future__ import annotations

import asyncpg
import httpx

from helpline.core.runtime import Runtime
from helpline.faqs import search
from helpline.faqs.synonyms import DEMO_SETS, SynonymSet, expansion, vector_text
from tests.faqs.conftest import create_faq
from tests.faqs.test_search import hits, load_demo

BASE = "/api/v1/admin/search-synonyms"
SEARCH = "/api/v1/faqs/search"

# -- expansion ------------------------------------------------------------------------------------

SETS = [
    SynonymSet("en", ("parcel", "package", "shipment")),
    SynonymSet("en", ("refund", "money back")),
    SynonymSet(None, ("e-mail", "email")),
    SynonymSet("es", ("paquete", "envío")),
]


def terms(q: str, language: str | None = "en") -> list[str]:
    return list(expansion(q, SETS, language).terms)


def test_a_word_of_a_set_brings_the_other_terms() -> None:
    assert terms("my package never arrived") == ["parcel", "shipment"]
    assert terms("My PACKAGES are late") == ["parcel", "shipment"]  # case, plural
    assert terms("where is my parcel") == ["package", "shipment"]


def test_the_vector_gets_each_matched_sets_first_term_the_query_lacks() -> None:
    found = expansion("my package never arrived, i want my money back", SETS, "en")
    assert found.terms == ("parcel", "shipment", "refund")
    assert found.vector == ("parcel", "refund")
    assert vector_text("my package never arrived", expansion("my package never arrived", SETS, "en")) == (
        "my package never arrived parcel"
    )
    # The query has the knowledge base's own word already: a customer's word would pull it away
    # ("my order never came" + "purchase" went to the refund FAQ). Full text still gets them all.
    assert expansion("where is my parcel", SETS, "en").vector == ()
    assert expansion("where is my parcel", SETS, "en").terms == ("package", "shipment")
    assert expansion("my package or parcel", SETS, "en").vector == ()


def test_a_multi_word_term_matches_its_words_in_a_row() -> None:
    assert terms("can i get my money back") == ["refund"]
    assert terms("i want money, then back") == []
    assert terms("refund please") == ["money back"]


def test_sets_of_another_language_do_not_apply_those_of_every_language_do() -> None:
    assert terms("mi paquete") == []
    assert terms("mi paquete", "es") == ["envío"]
    assert terms("change my email", "es") == ["e-mail"]
    assert terms("mi paquete", None) == ["envío"]  # a search in every language: every set
    assert terms("nothing to see") == []
    assert terms("") == []


def test_the_full_text_query_ors_the_terms_a_phrase_quoted() -> None:
    params = search.text_params("my package", (), ["parcel", "money back", "e-mail"])
    assert params["qtext"] == 'my or package or parcel or "money back" or "e mail"'
    assert params["qwords"] == "my package parcel money back e mail"
    assert search.text_params("my package") == {"qtext": "my or package", "qwords": "my package", "common": []}


def test_the_demo_sets_are_vocabulary_not_queries() -> None:
    for s in DEMO_SETS:
        assert 2 <= len(s.terms) <= 20
        assert len(set(s.terms)) == len(s.terms)
        assert all(len(t.split()) <= 3 and t == t.lower() for t in s.terms)


# -- the admin API --------------------------------------------------------------------------------


async def test_staff_manage_sets_and_every_change_is_audited(
    client: httpx.AsyncClient, db: asyncpg.Connection, staff: dict[str, str]
) -> None:
    r = await client.post(BASE, headers=staff, json={"language": "en", "terms": [" Parcel ", "PACKAGE", "money  back"]})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["terms"] == ["parcel", "package", "money back"]
    assert created["language"] == "en"
    assert created["created_by"] is not None
    sid = created["id"]

    r = await client.put(f"{BASE}/{sid}", headers=staff, json={"terms": ["parcel", "shipment"]})
    assert r.status_code == 200, r.text
    assert r.json()["language"] is None
    assert r.json()["terms"] == ["parcel", "shipment"]
    listed = (await client.get(BASE, headers=staff)).json()["items"]
    assert [(i["id"], i["terms"]) for i in listed] == [(sid, ["parcel", "shipment"])]

    assert (await client.delete(f"{BASE}/{sid}", headers=staff)).status_code == 204
    assert (await client.get(BASE, headers=staff)).json()["items"] == []
    assert (await client.delete(f"{BASE}/{sid}", headers=staff)).status_code == 404
    r = await client.put(f"{BASE}/{sid}", headers=staff, json={"terms": ["a", "b"]})
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"

    rows = await db.fetch(
        "SELECT action, target_id, details FROM audit_log WHERE target_type = 'search_synonym' ORDER BY id"
    )
    assert [r["action"] for r in rows] == [
        "search_synonym.created",
        "search_synonym.updated",
        "search_synonym.deleted",
    ]
    assert {r["target_id"] for r in rows} == {str(sid)}


async def test_bad_sets_are_refused_with_a_reason(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    for body in (
        {"terms": ["parcel"]},  # one term
        {"terms": [f"t{i}" for i in range(21)]},  # 21 terms
        {"terms": ["parcel", "Parcel"]},  # the same term twice
        {"terms": ["parcel", "   "]},  # empty
        {"terms": ["parcel", "!!"]},  # no word
        {"terms": ["parcel", "x" * 61]},  # too long
        {"language": "english", "terms": ["a", "b"]},
        {"language": "en-GB", "terms": ["a", "b"]},
        {"terms": ["a", "b"], "extra": 1},
        {},
    ):
        r = await client.post(BASE, headers=staff, json=body)
        assert r.status_code == 422, (body, r.text)
    r = await client.post(BASE, headers=staff, json={"terms": ["parcel", "Parcel"]})
    assert "twice" in r.text
    r = await client.post(BASE, headers=staff, json={"terms": ["x" * 60, "y"]})
    assert r.status_code == 201


async def test_only_staff_see_or_change_synonyms(
    client: httpx.AsyncClient, reader: dict[str, str], staff: dict[str, str]
) -> None:
    body = {"terms": ["parcel", "package"]}
    assert (await client.get(BASE)).status_code == 401
    assert (await client.post(BASE, json=body)).status_code == 401
    assert (await client.get(BASE, headers=reader)).status_code == 403
    assert (await client.post(BASE, headers=reader, json=body)).status_code == 403
    sid = (await client.post(BASE, headers=staff, json=body)).json()["id"]
    assert (await client.put(f"{BASE}/{sid}", headers=reader, json=body)).status_code == 403
    assert (await client.delete(f"{BASE}/{sid}", headers=reader)).status_code == 403


async def test_a_change_to_synonyms_reaches_cached_searches(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    await create_faq(
        client, staff, question="What if my parcel is lost?", answer="We open an investigation.", status="published"
    )
    await create_faq(client, staff, question="How do I pay?", answer="By card.", status="published")
    before = await db.fetchval("SELECT version FROM faq_search_version")
    assert [h["question"] for h in await hits(client, "courier lost it", {"language": "en"})] == [
        "What if my parcel is lost?"
    ]
    assert await hits(client, "consignment vanished", {"language": "en"}) == []  # cached now
    r = await client.post(BASE, headers=staff, json={"language": "en", "terms": ["consignment", "parcel"]})
    assert r.status_code == 201
    assert await db.fetchval("SELECT version FROM faq_search_version") > before
    found = await hits(client, "consignment vanished", {"language": "en"})
    assert [h["question"] for h in found] == ["What if my parcel is lost?"]
    assert "text" in found[0]["signals"]
    # Another language's set does not apply.
    sid = r.json()["id"]
    assert (
        await client.put(f"{BASE}/{sid}", headers=staff, json={"language": "fr", "terms": ["consignment", "parcel"]})
    ).status_code == 200
    assert await hits(client, "consignment vanished", {"language": "en"}) == []


# -- the demo knowledge base ----------------------------------------------------------------------


async def test_the_demo_brings_its_synonym_sets(runtime: Runtime, db: asyncpg.Connection) -> None:
    await load_demo(runtime)
    rows = await db.fetch("SELECT language, terms FROM search_synonyms ORDER BY id")
    assert [(r["language"], tuple(r["terms"])) for r in rows] == [(s.language, s.terms) for s in DEMO_SETS]
