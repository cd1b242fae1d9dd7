"""Alternative phrasings per FAQ: edited by staff, searched like the question, imported and
exported, re-embedded by `helpline reindex` (fake embedder: bag-of-words vectors)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest

from helpline.core.runtime import Runtime
from helpline.faqs.backends import resolve_deps
from helpline.faqs.phrasings import MAX_PHRASING_CHARS, MAX_PHRASINGS, normalize
from helpline.faqs.reindex import reindex
from tests.faqs.conftest import create_faq

LOCKED = "I am locked out and cannot sign in"


def test_phrasings_are_compared_in_a_folded_form() -> None:
    assert normalize("  ¿Dónde está   mi PAQUETE? ") == "dónde está mi paquete"
    assert normalize("Where is my parcel?!") == normalize("where is my parcel")
    assert normalize(" ?! ") == ""


async def test_staff_write_phrasings_and_everyone_reads_them(
    client: httpx.AsyncClient, staff: dict[str, str], reader: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(
        client,
        staff,
        status="published",
        # Trimmed, whitespace collapsed; a repeat (in another case) and the question itself dropped.
        phrasings=["  I forgot my\n password ", "i forgot my password?", "How do I reset my password?", LOCKED],
    )
    assert faq["phrasings"] == ["I forgot my password", LOCKED]
    r = await client.get(f"/api/v1/faqs/{faq['id']}")
    assert r.json()["phrasings"] == ["I forgot my password", LOCKED]
    rows = await db.fetch("SELECT text, position, embedding_model FROM faq_phrasings ORDER BY position")
    assert [(r["text"], r["position"]) for r in rows] == [("I forgot my password", 0), (LOCKED, 1)]
    assert all(r["embedding_model"] for r in rows), "each phrasing has its own vector"

    # Reordered and one replaced: the kept one keeps its row (and vector).
    kept_id = await db.fetchval("SELECT id FROM faq_phrasings WHERE text = $1", LOCKED)
    r = await client.put(f"/api/v1/faqs/{faq['id']}", headers=staff, json={"phrasings": [LOCKED, "Password lost"]})
    assert r.status_code == 200, r.text
    assert r.json()["phrasings"] == [LOCKED, "Password lost"]
    assert await db.fetchval("SELECT id FROM faq_phrasings WHERE text = $1", LOCKED) == kept_id
    audit = await db.fetchval("SELECT details FROM audit_log WHERE action = 'faq.updated' ORDER BY id DESC LIMIT 1")
    assert json.loads(audit) == {"fields": ["phrasings"]}

    # Other fields leave them alone; null (or []) clears them.
    r = await client.put(f"/api/v1/faqs/{faq['id']}", headers=staff, json={"priority": 3})
    assert r.json()["phrasings"] == [LOCKED, "Password lost"]
    r = await client.put(f"/api/v1/faqs/{faq['id']}", headers=staff, json={"phrasings": None})
    assert r.json()["phrasings"] == []
    assert await db.fetchval("SELECT count(*) FROM faq_phrasings") == 0

    r = await client.put(f"/api/v1/faqs/{faq['id']}", headers=reader, json={"phrasings": ["mine"]})
    assert r.status_code == 403, r.text


@pytest.mark.parametrize(
    ("phrasings", "problem"),
    [
        (["   "], "must not be empty"),
        (["?!"], "must not be empty"),
        (["x" * (MAX_PHRASING_CHARS + 1)], f"at most {MAX_PHRASING_CHARS} characters"),
        ([f"question {i}" for i in range(MAX_PHRASINGS + 1)], f"at most {MAX_PHRASINGS} items"),
        ("not a list", "valid list"),
        ([3], "valid string"),
    ],
)
async def test_bad_phrasings_are_refused_with_a_reason(
    client: httpx.AsyncClient, staff: dict[str, str], phrasings: Any, problem: str
) -> None:
    r = await client.post(
        "/api/v1/faqs", headers=staff, json={"question": "Q?", "answer": "A.", "phrasings": phrasings}
    )
    assert r.status_code == 422, r.text
    assert problem in r.text


async def search(client: httpx.AsyncClient, q: str) -> httpx.Response:
    r = await client.get("/api/v1/faqs/search", params={"q": q, "limit": 3})
    assert r.status_code == 200, r.text
    return r


async def test_a_query_close_to_a_phrasing_finds_the_faq_and_a_change_is_never_served_stale(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    faq = await create_faq(client, staff, status="published")
    other = await create_faq(
        client, staff, question="Can I change my delivery address?", answer="Yes, before dispatch.", status="published"
    )
    query = "locked out, cannot sign in"
    before = await search(client, query)
    assert faq["id"] not in [h["id"] for h in before.json()["items"]]
    assert (await search(client, query)).headers["X-Cache"] == "hit"

    r = await client.put(f"/api/v1/faqs/{faq['id']}", headers=staff, json={"phrasings": [LOCKED]})
    assert r.status_code == 200, r.text
    after = await search(client, query)
    assert after.headers["X-Cache"] == "miss", "the phrasing bumped the search version"
    top = after.json()["items"][0]
    assert top["id"] == faq["id"]
    assert {"vector_phrasing", "text"} <= set(top["signals"])
    # Scored by its best form: the phrasing, not the question it shares no word with.
    assert top["similarity"] > 0.6
    assert other["id"] not in [h["id"] for h in after.json()["items"][:1]]

    # Full text alone (no vectors) finds it by the phrasing's words too.
    r = await client.get("/api/v1/faqs/search", params={"q": "locked"})
    hits = r.json()["items"]
    assert hits, "full text finds it"
    assert hits[0]["id"] == faq["id"], hits

    # Removing it is seen at once as well.
    await client.put(f"/api/v1/faqs/{faq['id']}", headers=staff, json={"phrasings": []})
    again = await search(client, query)
    assert again.headers["X-Cache"] == "miss"
    assert faq["id"] not in [h["id"] for h in again.json()["items"]]


async def test_phrasings_go_through_export_and_import(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    faq = await create_faq(client, staff, phrasings=[LOCKED, "Password, forgotten; help"])
    for fmt in ("json", "csv", "md"):
        r = await client.get("/api/v1/faqs/export", headers=staff, params={"format": fmt})
        assert r.status_code == 200, r.text
        exported = r.content
        # Cleared, then restored by importing the export.
        await client.put(f"/api/v1/faqs/{faq['id']}", headers=staff, json={"phrasings": []})
        r = await client.post("/api/v1/faqs/import", headers=staff, params={"format": fmt}, content=exported)
        assert r.status_code == 200, r.text
        assert r.json()["updated"] == 1, (fmt, r.json())
        got = (await client.get(f"/api/v1/faqs/{faq['id']}", headers=staff)).json()["phrasings"]
        assert got == [LOCKED, "Password, forgotten; help"], fmt
    # A CSV written by hand may separate them with ";"; a bad one is rejected with its reason.
    csv = f"question,answer,phrasings\nWhere is my parcel?,Track it.,Parcel missing; {'y' * 400}\n"
    r = await client.post("/api/v1/faqs/import", headers=staff, params={"format": "csv"}, content=csv.encode())
    assert r.json()["rejected"][0]["reason"].startswith("phrasings.1: ")
    csv = "question,answer,phrasings\nWhere is my parcel?,Track it.,Parcel missing; where's my box\n"
    r = await client.post("/api/v1/faqs/import", headers=staff, params={"format": "csv"}, content=csv.encode())
    assert r.json()["created"] == 1, r.text


async def test_reindex_embeds_phrasings_that_lack_a_vector(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await create_faq(client, staff, phrasings=[LOCKED])
    # As saved while the embedder was down.
    await db.execute("UPDATE faq_phrasings SET embedding = NULL, text_hash = NULL, embedding_model = NULL")
    version = await db.fetchval("SELECT version FROM faq_search_version")
    async with runtime.sessionmaker() as session:
        deps = await resolve_deps(runtime, session)
    assert deps.embedder is not None
    report = await reindex(runtime.sessionmaker, deps.embedder)
    assert report.phrasings_embedded == 1
    assert await db.fetchval("SELECT count(*) FROM faq_phrasings WHERE embedding IS NOT NULL") == 1
    assert await db.fetchval("SELECT version FROM faq_search_version") > version
    assert (await reindex(runtime.sessionmaker, deps.embedder)).phrasings_embedded == 0
