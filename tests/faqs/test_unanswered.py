from __future__ import annotations

import asyncpg
import httpx
import numpy as np

from helpline.core.db import session_scope
from helpline.core.runtime import Runtime
from helpline.faqs.backends import resolve_deps
from helpline.faqs.embeddings import embed_query
from helpline.faqs.unanswered import greedy_groups, record_unanswered

URL = "/api/v1/faqs/unanswered"
QUESTIONS = [
    ("Do you ship parcels to Mars?", "en"),
    ("Can you ship parcels to Mars?", "en"),
    ("Gift wrapping for my order?", "en"),
    ("do you ship parcels to mars", "en"),
    ("¿Envían paquetes a Marte?", "es"),
    ("Gift wrapping for an order?", "en"),
]


async def record_all(runtime: Runtime) -> list[int]:
    ids = []
    async for session in session_scope(runtime.sessionmaker):
        deps = await resolve_deps(runtime, session)
        for i, (text, language) in enumerate(QUESTIONS):
            # As the chat does: with the query's vector, or (here, every other one) without.
            vector = await embed_query(deps, text) if i % 2 == 0 else None
            row = await record_unanswered(session, text, language, vector, model=deps.model)
            assert row is not None
            ids.append(row.id)
        assert await record_unanswered(session, "   ", "en") is None
    return ids


async def test_unanswered_questions_are_grouped_and_drafted(
    client: httpx.AsyncClient, runtime: Runtime, staff: dict[str, str], reader: dict[str, str], db: asyncpg.Connection
) -> None:
    ids = await record_all(runtime)
    assert (await client.get(URL, headers=reader)).status_code == 403
    r = await client.get(URL, headers=staff, params={"threshold": 0.6})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["considered"] == 6
    groups = body["items"]
    assert [g["count"] for g in groups] == [3, 2, 1]
    mars, gifts, spanish = groups
    assert sorted(mars["ids"]) == [ids[0], ids[1], ids[3]]
    assert mars["language"] == "en"
    assert mars["representative"] in {q for q, _ in QUESTIONS[:4]}
    assert mars["examples"][0]["id"] == ids[3]  # most recent first
    assert mars["first_seen"] <= mars["last_seen"]
    assert sorted(gifts["ids"]) == [ids[2], ids[5]]
    assert spanish["language"] == "es"

    r = await client.post(f"{URL}/draft", headers=staff, json={"ids": mars["ids"], "answer": ""})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert (draft["status"], draft["answer"], draft["question"]) == ("draft", "", QUESTIONS[3][0])
    handled = await db.fetch("SELECT id FROM unanswered_questions WHERE faq_id = $1 ORDER BY id", draft["id"])
    assert [row["id"] for row in handled] == sorted(mars["ids"])
    left = (await client.get(URL, headers=staff, params={"threshold": 0.6})).json()
    assert left["considered"] == 3
    # A draft without an answer cannot be published until someone writes one.
    r = await client.put(f"/api/v1/faqs/{draft['id']}", headers=staff, json={"status": "published"})
    assert r.status_code == 400
    r = await client.put(f"/api/v1/faqs/{draft['id']}", headers=staff, json={"answer": "No.", "status": "published"})
    assert r.status_code == 200

    # Already handled, unknown, or not staff: refused, nothing changes.
    assert (await client.post(f"{URL}/draft", headers=staff, json={"ids": [ids[0]]})).status_code == 409
    assert (await client.post(f"{URL}/draft", headers=staff, json={"ids": [ids[2], 9999]})).status_code == 404
    assert (await client.post(f"{URL}/draft", headers=reader, json={"ids": [ids[2]]})).status_code == 403
    assert (await client.post(f"{URL}/draft", headers=staff, json={"ids": []})).status_code == 422
    r = await client.post(f"{URL}/draft", headers=staff, json={"ids": gifts["ids"], "question": "Do you gift wrap?"})
    assert (r.status_code, r.json()["question"]) == (201, "Do you gift wrap?")
    assert await db.fetchval("SELECT count(*) FROM faqs") == 2
    assert await db.fetchval("SELECT count(*) FROM unanswered_questions WHERE faq_id IS NULL") == 1


def test_greedy_groups_join_the_closest_group_above_the_threshold() -> None:
    vectors = np.array([[1, 0, 0], [0.95, 0.31, 0], [0, 1, 0], [0, 0.96, 0.28], [0, 0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert greedy_groups(vectors, 0.9) == [[0, 1], [2, 3], [4]]
    assert greedy_groups(vectors, 0.999) == [[0], [1], [2], [3], [4]]
