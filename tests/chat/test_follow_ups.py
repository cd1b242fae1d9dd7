"""A follow-up question is retrieved with the conversation's previous question (faqs/query.py,
chat/grounding.py): real chat turns over the API, real PostgreSQL, bag-of-words vectors."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from helpline.core.runtime import Runtime
from tests.chat.conftest import send
from tests.chat.fakes import ScriptedProvider
from tests.chat.test_grounding import publish

PASSWORD = {
    "question": "How do I reset my password?",
    "answer": "Open Settings, choose Security, then Reset password; we email you a reset address.",
}
# What the follow-up says on its own ("how long ... valid") is this FAQ's question.
GIFT_CARD = {"question": "How long is a gift card valid?", "answer": "Gift cards can be used for two years."}
FOLLOW_UP = "And how long is that link valid?"


async def ask_after_password_question(client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime) -> list[str]:
    runtime.llm = ScriptedProvider(chunks=["It is valid for an hour [1]."])
    first = (await send(client, auth, "How do I reset my password?")).json()
    follow = await send(client, auth, FOLLOW_UP, conversation_id=first["conversation_id"])
    assert follow.status_code == 200, follow.text
    return [s["question"] for s in follow.json()["sources"]]


async def test_a_follow_up_retrieves_the_previous_topics_faq(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db, **PASSWORD)
    await publish(client, db, **GIFT_CARD)
    sources = await ask_after_password_question(client, auth, runtime)
    assert sources[0] == PASSWORD["question"]


async def test_without_follow_up_rewriting_the_question_is_read_alone(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    runtime.settings.search.follow_ups = False
    await publish(client, db, **PASSWORD)
    await publish(client, db, **GIFT_CARD)
    sources = await ask_after_password_question(client, auth, runtime)
    assert sources[:1] == [GIFT_CARD["question"]]


@pytest.mark.parametrize("first_question", ["How long is a gift card valid?"])
async def test_a_new_question_in_the_same_conversation_is_not_mixed_with_the_old_one(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime, first_question: str
) -> None:
    await publish(client, db, **PASSWORD)
    await publish(client, db, **GIFT_CARD)
    runtime.llm = ScriptedProvider(chunks=["Use the reset address [1]."])
    first = (await send(client, auth, first_question)).json()
    body = (
        await send(client, auth, "How do I reset my password in Settings?", conversation_id=first["conversation_id"])
    ).json()
    assert [s["question"] for s in body["sources"]][:1] == [PASSWORD["question"]]


async def test_a_short_question_with_only_weak_matches_leans_on_the_previous_one(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db, **PASSWORD)
    # Shares only "app" with the short question: a weak match, below the bar for a source.
    await publish(client, db, question="Where can I spend a gift card?", answer="Use our app.")
    runtime.llm = ScriptedProvider(chunks=["In the app too [1]."])
    first = (await send(client, auth, "How do I reset my password?")).json()
    body = (await send(client, auth, "in the mobile app?", conversation_id=first["conversation_id"])).json()
    assert [s["question"] for s in body["sources"]][:1] == [PASSWORD["question"]]
