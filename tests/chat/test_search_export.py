"""Conversation search in message text (with its trigram index), the Markdown export and the
popular FAQs an empty chat suggests."""

from __future__ import annotations

import asyncpg
import httpx

from tests.chat.conftest import send
from tests.conftest import bearer, make_admin, signed_in


async def test_search_finds_words_in_messages_not_only_titles(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    a = (await send(client, auth, "Billing address change")).json()["conversation_id"]
    await send(client, auth, "Also my invoice total is wrong", conversation_id=a)
    b = (await send(client, auth, "Shipping delay")).json()["conversation_id"]
    found = await client.get("/api/v1/conversations", headers=auth, params={"q": "INVOICE total"})
    assert [c["id"] for c in found.json()["items"]] == [a]
    # The answers' text counts too (the fake model repeats the question: "You said: ...").
    found = await client.get("/api/v1/conversations", headers=auth, params={"q": "you said: shipping"})
    assert [c["id"] for c in found.json()["items"]] == [b]
    # LIKE's own characters are searched as they are.
    found = await client.get("/api/v1/conversations", headers=auth, params={"q": "100%_"})
    assert found.json()["items"] == []
    # Another user's messages are not searched.
    other = bearer(await signed_in(client, "other@example.com"))
    found = await client.get("/api/v1/conversations", headers=other, params={"q": "invoice"})
    assert found.json()["items"] == []
    # The search can use the trigram index rather than read every message.
    await db.execute("SET enable_seqscan = off")
    plan = "\n".join(r[0] for r in await db.fetch("EXPLAIN SELECT id FROM messages WHERE content ILIKE '%invoice%'"))
    assert "ix_messages_content_trgm" in plan


async def test_export_is_the_whole_conversation_as_markdown(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    conv = (await send(client, auth, "Where is my parcel?")).json()["conversation_id"]
    await send(client, auth, "It was sent on Monday", conversation_id=conv)
    r = await client.get(f"/api/v1/conversations/{conv}/export", headers=auth)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/markdown; charset=utf-8"
    assert r.headers["content-disposition"] == f'attachment; filename="conversation-{conv}.md"'
    text = r.text
    assert text.startswith("# Where is my parcel?\n")
    assert text.count("## You · ") == 2
    assert text.count("## Assistant · ") == 2
    assert text.index("Where is my parcel?", 5) < text.index("It was sent on Monday")
    other = bearer(await signed_in(client, "other@example.com"))
    assert (await client.get(f"/api/v1/conversations/{conv}/export", headers=other)).status_code == 404


async def test_popular_faqs_are_published_most_read_first(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    admin = bearer(await signed_in(client, "kb@example.com"))
    await make_admin(db, "kb@example.com")
    ids = {}
    for question, status, language in [
        ("How do I reset my password?", "published", "en"),
        ("Where is my parcel?", "published", "en"),
        ("Secret draft question?", "draft", "en"),
        ("¿Dónde está mi paquete?", "published", "es"),
    ]:
        body = {"question": question, "answer": "An answer long enough.", "status": status, "language": language}
        r = await client.post("/api/v1/faqs", headers=admin, json=body)
        assert r.status_code == 201, r.text
        ids[question] = r.json()["id"]
    await db.execute("UPDATE faqs SET view_count = 7 WHERE id = $1", ids["Where is my parcel?"])
    r = await client.get("/api/v1/faqs/popular", params={"language": "en"})  # anyone may ask
    assert r.status_code == 200
    assert [f["question"] for f in r.json()["items"]] == ["Where is my parcel?", "How do I reset my password?"]
    assert set(r.json()["items"][0]) == {"id", "question", "slug"}
    r = await client.get("/api/v1/faqs/popular", params={"language": "es", "limit": 1})
    assert [f["question"] for f in r.json()["items"]] == ["¿Dónde está mi paquete?"]
    assert (await client.get("/api/v1/faqs/popular", params={"limit": 50})).status_code == 422
