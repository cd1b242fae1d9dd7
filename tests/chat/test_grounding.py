"""Answers grounded in the FAQ knowledge base (fake embedder: bag-of-words vectors)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import asyncpg
import httpx
import pytest

from helpline.ai.base import ModerationResult
from helpline.ai.embeddings import InputType
from helpline.ai.embeddings.fake import FakeEmbedder
from helpline.core.runtime import Runtime
from tests.chat.conftest import send
from tests.chat.fakes import KeywordModerator, ScriptedProvider
from tests.conftest import bearer, login, make_admin, signed_in, sql_statements

FAQ = {
    "question": "How do I reset my password?",
    "answer": "Open Settings, choose Security, then click Reset password and follow the email link.",
    "status": "published",
}


# Close to FAQ, not close enough to be answered with it: the model is called, with FAQ as a source.
PARTIAL = "my password reset email link never arrived, what now?"


def citing_model(runtime: Runtime) -> ScriptedProvider:
    """A scripted model, now the runtime's, whose answer cites source [1]. The FAQ counts as close
    enough to PARTIAL for the guard to ask the model (the bag-of-words embedder's scale is not
    MiniLM's, which the guard's default bar is measured on)."""
    provider = ScriptedProvider(chunks=["Follow the email link [1]."])
    runtime.llm = provider
    runtime.settings.guard.source_min_similarity = 0.0
    return provider


async def publish(client: httpx.AsyncClient, db: asyncpg.Connection, **fields: object) -> dict[str, object]:
    admin = bearer(await signed_in(client, "kb-admin@example.com"))
    await make_admin(db, "kb-admin@example.com")
    r = await client.post("/api/v1/faqs", headers=admin, json={**FAQ, **fields})
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


async def test_a_confident_match_is_answered_from_the_faq_without_the_model(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    faq = await publish(client, db)
    provider = ScriptedProvider()
    runtime.llm = provider
    body = (await send(client, auth, "How do I reset my password?")).json()
    assert body["content"] == FAQ["answer"]
    assert body["model_used"] == "faq"
    assert [s["id"] for s in body["sources"]] == [faq["id"]]
    assert body["sources"][0]["slug"] == faq["slug"]
    assert provider.calls == []
    meta = json.loads(await db.fetchval("SELECT metadata FROM messages WHERE id = $1", body["message_id"]))
    assert meta["answered_from_faq"] == faq["id"]


async def test_a_partial_match_goes_into_the_prompt_and_is_cited(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    faq = await publish(client, db)
    provider = citing_model(runtime)
    body = (await send(client, auth, PARTIAL)).json()
    assert body["model_used"] == "scripted-1"
    assert [s["id"] for s in body["sources"]] == [faq["id"]]
    system = provider.calls[0][0].content
    assert FAQ["answer"] in system
    assert "[1]" in system


async def test_unmatched_questions_are_recorded_for_staff(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    await publish(client, db)
    hello = (await send(client, auth, "Hi there, thanks!")).json()  # small talk: no article is missing
    assert hello["sources"] == []
    body = (await send(client, auth, "Do you ship parcels to Antarctica by penguin?")).json()
    assert body["sources"] == []
    rows = await db.fetch("SELECT text, conversation_id FROM unanswered_questions")
    assert [(r["text"], r["conversation_id"]) for r in rows] == [
        ("Do you ship parcels to Antarctica by penguin?", body["conversation_id"])
    ]


async def test_drafts_are_never_used(client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection) -> None:
    await publish(client, db, status="draft")
    body = (await send(client, auth, "How do I reset my password?")).json()
    assert body["sources"] == []
    assert body["model_used"] != "faq"


async def test_knowledge_base_trouble_does_not_fail_the_turn(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    class Broken:
        name = "broken"
        model = "broken"
        dimension = 384

        async def embed(self, texts: object, **_: object) -> list[list[float]]:
            raise RuntimeError("embedder down")

        async def aclose(self) -> None:
            return None

    runtime.embedder = Broken()
    body = (await send(client, auth, "How do I reset my password?")).json()
    assert body["status"] == "sent"


async def test_statements_with_retrieval(client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime) -> None:
    first = (await send(client, auth, "warm up")).json()
    with sql_statements(runtime) as statements:
        await send(client, auth, "a second question", conversation_id=first["conversation_id"])
    # the 2 of the turn (the first reads the search version too), the hybrid query, an unanswered row
    assert len(statements) <= 4, statements
    assert not any("faq_search_version" in s and "INSERT" not in s for s in statements), statements


async def test_a_cached_retrieval_costs_the_turn_no_statement(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    faq = await publish(client, db)
    provider = citing_model(runtime)
    question = PARTIAL
    first = (await send(client, auth, question)).json()
    with sql_statements(runtime) as statements:
        again = (await send(client, auth, question, conversation_id=first["conversation_id"])).json()
    assert again["sources"] == first["sources"]
    # question + placeholder (with the account, the history and the search version), answer:
    # retrieval itself came from the cache, under the version the turn's own statement read
    assert len(statements) <= 2, statements

    # An edit bumps the version: the next turn reads the new one and retrieves the edited FAQ.
    admin = bearer((await login(client, "kb-admin@example.com")).json())
    edited = "Check your spam folder, then ask for a new link from the sign-in page."
    assert (await client.put(f"/api/v1/faqs/{faq['id']}", headers=admin, json={"answer": edited})).status_code == 200
    await send(client, auth, question, conversation_id=first["conversation_id"])
    assert edited in provider.calls[-1][0].content


def test_thresholds_follow_the_embedder_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpline.chat.grounding import thresholds
    from helpline.core.config import RetrievalSettings

    class E5Like:
        min_similarity = 0.82
        direct_threshold = 0.93

    assert thresholds(RetrievalSettings(), object()) == (0.35, 0.85)
    assert thresholds(RetrievalSettings(), E5Like()) == (0.82, 0.93)
    monkeypatch.setenv("HELPLINE_RETRIEVAL_DIRECT_THRESHOLD", "0.97")
    assert thresholds(RetrievalSettings(), E5Like()) == (0.82, 0.97)


async def test_the_question_is_embedded_while_the_turn_is_moderated_and_stored(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db)
    question = PARTIAL
    events: list[str] = []

    class RecordingEmbedder(FakeEmbedder):
        async def embed(self, texts: Sequence[str], *, input_type: InputType = "document") -> list[list[float]]:
            events.extend(f"embed {t}" for t in texts)
            return await super().embed(texts, input_type=input_type)

    class SlowModerator(KeywordModerator):
        async def check(self, text: str) -> ModerationResult:
            if text == question:
                events.append("moderation starts")
                await asyncio.sleep(0.2)  # a remote moderation API, say
                events.append("moderation ends")
            return await super().check(text)

    runtime.embedder = RecordingEmbedder()
    runtime.moderator = SlowModerator()
    citing_model(runtime)

    body = (await send(client, auth, question)).json()

    assert body["sources"], body  # retrieval found the FAQ with that embedding
    assert events.count(f"embed {question}") == 1  # made once: the turn's retrieval waited for it
    assert events.index(f"embed {question}") < events.index("moderation ends")
