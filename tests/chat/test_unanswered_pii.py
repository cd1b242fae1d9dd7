"""Personal data in a question the knowledge base could not answer never reaches the unanswered
questions staff read, nor the draft FAQ made from them; the rows go with their conversation
(pentest #18: a card number survived the conversation's deletion in a draft)."""

from __future__ import annotations

import asyncpg
import httpx

from tests.chat.conftest import send
from tests.chat.test_grounding import publish
from tests.conftest import bearer, make_admin, signed_in

CARD = "4111 1111 1111 1111"
EMAIL = "ada.lovelace@example.org"
PHONE = "+44 20 7946 0958"
QUESTION = f"I was charged twice on my card {CARD}, write to {EMAIL} or call {PHONE} about the parcel"
MASKED = "I was charged twice on my card [card number], write to [email] or call [phone] about the parcel"


async def test_a_question_with_personal_data_is_stored_and_drafted_masked(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    await publish(client, db)  # a knowledge base that does not answer this question
    body = (await send(client, auth, QUESTION)).json()
    assert body["sources"] == []
    rows = await db.fetch("SELECT id, text, embedding, conversation_id FROM unanswered_questions")
    assert [(r["text"], r["conversation_id"]) for r in rows] == [(MASKED, body["conversation_id"])]
    assert rows[0]["embedding"] is None  # a vector of the unmasked text is not kept
    # The conversation itself keeps what the user wrote: it is theirs, and goes when they delete it.
    assert await db.fetchval("SELECT count(*) FROM messages WHERE content = $1", QUESTION) == 1

    staff = bearer(await signed_in(client, "staff@example.com"))
    await make_admin(db, "staff@example.com")
    groups = (await client.get("/api/v1/faqs/unanswered", headers=staff)).json()["items"]
    assert [g["representative"] for g in groups] == [MASKED]
    r = await client.post("/api/v1/faqs/unanswered/draft", headers=staff, json={"ids": [rows[0]["id"]]})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["question"] == MASKED
    assert "4111" not in draft["slug"]

    # Deleting the conversation deletes its unanswered rows; the draft holds nothing personal.
    r = await client.delete(f"/api/v1/conversations/{body['conversation_id']}", headers=auth)
    assert r.status_code == 204
    assert await db.fetchval("SELECT count(*) FROM unanswered_questions") == 0
    stored = await db.fetchval("SELECT question || ' ' || answer || ' ' || slug FROM faqs WHERE id = $1", draft["id"])
    for secret in ("4111", "1111 1111", EMAIL, "7946"):
        assert secret not in stored


async def test_a_question_staff_type_into_a_draft_is_masked_too(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    await publish(client, db)
    await send(client, auth, "Do you ship parcels to Antarctica by penguin?")
    row_id = await db.fetchval("SELECT id FROM unanswered_questions")
    staff = bearer(await signed_in(client, "staff@example.com"))
    await make_admin(db, "staff@example.com")
    r = await client.post(
        "/api/v1/faqs/unanswered/draft", headers=staff, json={"ids": [row_id], "question": f"Penguins for {EMAIL}?"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["question"] == "Penguins for [email]?"


async def test_deleting_the_user_deletes_their_unanswered_rows(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    await publish(client, db)
    await send(client, auth, "Do you ship parcels to Antarctica by penguin?")
    assert await db.fetchval("SELECT count(*) FROM unanswered_questions") == 1
    await db.execute("DELETE FROM users WHERE email = 'user@example.com'")
    assert await db.fetchval("SELECT count(*) FROM unanswered_questions") == 0
