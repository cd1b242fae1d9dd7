from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from helpline.ai.base import ChatMessage
from helpline.core.runtime import Runtime
from tests.chat.conftest import message_rows, send
from tests.chat.fakes import KeywordModerator, ScriptedProvider
from tests.conftest import bearer, signed_in, sql_statements


async def test_send_creates_a_conversation_and_stores_both_messages(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    r = await send(client, auth, "How do I reset my password? I forgot it yesterday and cannot log in anymore")
    assert r.status_code == 200, r.text
    body = r.json()
    for key in (
        "message_id",
        "conversation_id",
        "content",
        "tokens_used",
        "model_used",
        "response_time_ms",
        "timestamp",
    ):
        assert key in body
    assert body["status"] == "sent"
    assert body["content"].startswith("You said: How do I reset my password?")
    assert body["tokens_used"] > 0
    assert body["model_used"] == "fake-echo"
    rows = await message_rows(db)
    assert [(r["type"], r["status"]) for r in rows] == [("user", "sent"), ("assistant", "sent")]
    assert rows[1]["content"] == body["content"]
    conv = await db.fetchrow("SELECT * FROM conversations WHERE id = $1", body["conversation_id"])
    assert conv is not None
    assert conv["title"] == "How do I reset my password? I forgot it yesterday and…"
    assert conv["message_count"] == 2
    assert conv["total_tokens"] == body["tokens_used"]
    assert conv["last_message_at"] is not None


async def test_history_reaches_the_model_in_order(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    first = (await send(client, auth, "first question")).json()
    second = (await send(client, auth, "second question", conversation_id=first["conversation_id"])).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert "I saw 3 messages" in second["content"]  # question, answer, new question


async def test_history_is_the_conversations_own_in_order(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    provider = ScriptedProvider(chunks=["an answer"])
    runtime.llm = provider
    first = (await send(client, auth, "first question")).json()
    await send(client, auth, "elsewhere")  # another conversation of the same user
    await send(client, auth, "second question", conversation_id=first["conversation_id"])
    await send(client, auth, "third question", conversation_id=first["conversation_id"])
    assert [(m.role, m.content) for m in provider.calls[-1][1:]] == [
        ("user", "first question"),
        ("assistant", "an answer"),
        ("user", "second question"),
        ("assistant", "an answer"),
        ("user", "third question"),
    ]


async def test_conversation_language_wins_over_the_users(
    client: httpx.AsyncClient, auth: dict[str, str], llm: object, runtime: Runtime
) -> None:
    provider = ScriptedProvider()
    runtime.llm = provider
    first = (await send(client, auth, "hola", language="es")).json()
    await send(client, auth, "otra pregunta", conversation_id=first["conversation_id"])
    system = provider.calls[-1][0]
    assert system.role == "system"
    assert "español" in system.content.lower() or "usted" in system.content.lower() or "eres" in system.content.lower()


async def test_user_message_is_committed_before_the_model_is_called(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, database_url: str
) -> None:
    seen: list[list[tuple[str, str]]] = []

    async def look(_: Sequence[ChatMessage]) -> None:
        async with runtime.engine.connect() as conn:
            result = await conn.execute(
                text("SELECT message_type::text AS kind, status::text AS state FROM messages ORDER BY id")
            )
            seen.append([(row.kind, row.state) for row in result.all()])

    runtime.llm = ScriptedProvider(before=look)
    assert (await send(client, auth, "is it saved?")).status_code == 200
    assert seen == [[("user", "sent"), ("assistant", "streaming")]]


async def test_provider_failure_keeps_the_question_and_stores_a_failed_answer(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, db: asyncpg.Connection
) -> None:
    runtime.llm = ScriptedProvider(fail_after=0)
    r = await send(client, auth, "will this work?")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "failed"
    assert "unavailable" in body["error"]
    rows = await message_rows(db)
    assert [(r["type"], r["status"]) for r in rows] == [("user", "sent"), ("assistant", "failed")]
    assert json.loads(rows[1]["metadata"])["error"] == body["error"]

    runtime.llm = ScriptedProvider()
    r = await client.post(f"/api/v1/chat/messages/{body['message_id']}/retry", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "sent"
    assert r.json()["content"] == "Hello there, how can I help?"
    assert r.json()["message_id"] == body["message_id"]
    rows = await message_rows(db)
    assert [(r["type"], r["status"]) for r in rows] == [("user", "sent"), ("assistant", "sent")]
    # a sent answer cannot be retried
    r = await client.post(f"/api/v1/chat/messages/{body['message_id']}/retry", headers=auth)
    assert r.status_code == 409


async def test_failure_mid_stream_stores_the_partial_text(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, db: asyncpg.Connection
) -> None:
    runtime.llm = ScriptedProvider(fail_after=2)
    body = (await send(client, auth, "tell me")).json()
    assert body["status"] == "partial"
    assert body["content"] == "Hello there"
    assert (await message_rows(db))[1]["content"] == "Hello there"


async def test_a_hanging_provider_times_out_with_a_clear_error(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    runtime.settings.llm.timeout_seconds = 0.2
    runtime.llm = ScriptedProvider(hang=True)
    body = (await send(client, auth, "anyone there?")).json()
    assert body["status"] == "failed"
    assert "too long" in body["error"]


async def test_flagged_input_gets_a_refusal_without_calling_the_model(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, db: asyncpg.Connection
) -> None:
    provider = ScriptedProvider()
    runtime.llm = provider
    body = (await send(client, auth, "let us talk about the FORBIDDEN-TOPIC")).json()
    assert body["flagged"] is True
    assert "can't help with that" in body["content"]
    assert provider.calls == []
    rows = await message_rows(db)
    assert json.loads(rows[0]["metadata"])["flagged"] is True
    assert rows[1]["model_used"] == "moderation"
    # the flagged exchange is left out of the next turn's history
    await send(client, auth, "ok, something else", conversation_id=body["conversation_id"])
    assert [m.content for m in provider.calls[-1][1:]] == ["ok, something else"]


async def test_a_refusal_is_stored_as_sent_in_the_conversations_language(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    first = (await send(client, auth, "hola", language="es")).json()  # an English user, a Spanish conversation
    body = (await send(client, auth, "hablemos del FORBIDDEN-TOPIC", conversation_id=first["conversation_id"])).json()
    assert body["flagged"] is True
    assert body["content"].startswith("Lo siento")
    stored = await db.fetchval("SELECT content FROM messages WHERE id = $1", body["message_id"])
    assert stored == body["content"]


async def test_flagged_output_is_replaced(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, db: asyncpg.Connection
) -> None:
    runtime.llm = ScriptedProvider(chunks=["here is the ", "forbidden-topic", " answer"])
    body = (await send(client, auth, "innocent question")).json()
    assert body["flagged"] is True
    assert "forbidden" not in body["content"].lower()
    assert "forbidden" not in (await message_rows(db))[1]["content"].lower()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"message": ""}, 422, "message"),
        ({"message": "   \n "}, 422, "empty"),
        ({"message": "x" * 8001}, 422, "at most 8000 characters"),
        ({"message": "hi", "conversation_id": 0}, 422, "conversation_id"),
        ({"message": "hi", "conversation_id": "abc"}, 422, "conversation_id"),
        ({"message": "hi", "language": "english"}, 422, "language"),
        ({"message": 12}, 422, "message"),
        ({"text": "hi"}, 422, "message"),
        ({"message": "x" * 2_000_000}, 413, "limit"),
    ],
)
async def test_bad_messages_are_refused_and_store_nothing(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    db: asyncpg.Connection,
    body: dict[str, object],
    status: int,
    words: str,
) -> None:
    r = await client.post("/api/v1/chat/send", headers=auth, json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert await db.fetchval("SELECT count(*) FROM conversations") == 0


async def test_someone_elses_conversation_is_a_404(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    mine = (await send(client, auth, "mine")).json()
    other = bearer(await signed_in(client, "other@example.com"))
    r = await send(client, other, "let me in", conversation_id=mine["conversation_id"])
    assert r.status_code == 404
    assert (await send(client, other, "nope", conversation_id=999999)).status_code == 404


async def test_a_full_conversation_says_so(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, db: asyncpg.Connection
) -> None:
    runtime.settings.limits.conversation_max_messages = 4
    first = (await send(client, auth, "one")).json()
    assert (await send(client, auth, "two", conversation_id=first["conversation_id"])).status_code == 200
    r = await send(client, auth, "three", conversation_id=first["conversation_id"])
    assert r.status_code == 409
    assert "limit of 4 messages" in r.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM messages") == 4


async def test_rate_limit_per_user(client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime) -> None:
    from helpline.core.ratelimit import UserRateLimiter

    runtime.settings.limits.rate_per_day = 2  # a day: the test never crosses a window's end
    runtime.chat_limiter = UserRateLimiter(runtime.windows, runtime.settings.limits)
    assert (await send(client, auth, "1")).status_code == 200
    r = await send(client, auth, "2")
    assert (r.status_code, r.headers["ratelimit-limit"], r.headers["ratelimit-remaining"]) == (200, "2", "0")
    r = await send(client, auth, "3")
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) == int(r.headers["ratelimit-reset"]) >= 1
    assert "2 messages per day" in r.json()["detail"]
    other = bearer(await signed_in(client, "other@example.com"))
    assert (await send(client, other, "mine is fine")).status_code == 200


async def test_statements_per_chat_turn(client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime) -> None:
    # The turn itself; knowledge-base retrieval (measured in tests/chat/test_grounding.py) is off.
    runtime.settings.retrieval.enabled = False
    first = (await send(client, auth, "warm up")).json()
    with sql_statements(runtime) as statements:
        r = await send(client, auth, "a turn in an existing conversation", conversation_id=first["conversation_id"])
    assert r.status_code == 200
    # store the question + placeholder, reading the history and the caller's account (user +
    # revocation) in the same statement; store the answer
    assert len(statements) <= 2, statements


async def test_real_moderation_classifier_flags_abuse(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    from helpline.ai.moderation import LocalModerator

    runtime.moderator = LocalModerator(runtime.settings.moderation)
    assert (await send(client, auth, "How do I change my billing address?")).json()["flagged"] is False
    assert (await send(client, auth, "you are a fucking idiot, shut up")).json()["flagged"] is True


__all__ = ["KeywordModerator"]


async def test_answers_abandoned_by_a_dead_process_become_retryable(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, db: asyncpg.Connection
) -> None:
    from helpline.chat.service import sweep_abandoned_answers

    sent = (await send(client, auth, "hello")).json()
    await db.execute(
        "UPDATE messages SET status = 'streaming', content = '', created_at = now() - interval '1 hour' WHERE id = $1",
        sent["message_id"],
    )
    await sweep_abandoned_answers(runtime)
    assert await db.fetchval("SELECT status::text FROM messages WHERE id = $1", sent["message_id"]) == "failed"
    r = await client.post(f"/api/v1/chat/messages/{sent['message_id']}/retry", headers=auth)
    assert r.json()["status"] == "sent"


async def test_many_concurrent_turns_do_not_starve_a_small_pool(database_url: str, tmp_path: Path) -> None:
    """Requests waiting for their answer hold no pooled connection, so many more turns than
    connections complete (each turn needs the pool only for its short transactions)."""
    import asyncio

    from helpline.core.config import DatabaseSettings, LimitsSettings
    from tests.conftest import make_settings, serve_app

    settings = make_settings(
        database_url,
        tmp_path,
        database=DatabaseSettings(url=database_url, pool_size=2, max_overflow=0, connect_timeout_seconds=5),
        limits=LimitsSettings(rate_per_minute=1000),
    )
    async with serve_app(settings, database_url, llm=ScriptedProvider(delay=0.05)) as c:
        headers = bearer(await signed_in(c))
        results = await asyncio.gather(*(send(c, headers, f"question {i}") for i in range(12)))
    assert [r.status_code for r in results] == [200] * 12
    assert all(r.json()["status"] == "sent" for r in results)


async def test_an_answer_is_stored_once_the_database_is_back(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database restarting as an answer finishes (the load suite's postgres fault): its store
    is tried again, so the answer is kept and the user told it was, not left 'streaming'."""
    from helpline.chat import repository

    real = repository.finish_turn
    failures = [OSError("connection refused"), OSError("the database system is shutting down")]

    async def flaky(*args: object, **kwargs: object) -> object:
        if failures:
            raise failures.pop(0)
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repository, "finish_turn", flaky)
    body = (await send(client, auth, "hello")).json()
    assert not failures  # both failed tries were made
    assert (body["status"], body["error"]) == ("sent", None)
    rows = await message_rows(db)
    assert [(r["type"], r["status"], r["content"]) for r in rows] == [
        ("user", "sent", "hello"),
        ("assistant", "sent", body["content"]),
    ]


async def test_an_answer_that_cannot_be_stored_is_told_failed_and_swept(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    db: asyncpg.Connection,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database away for longer than the store's retries: the user is told the answer failed
    (not "sent", as before), and the row the sweep finds 'streaming' becomes failed, retryable."""
    from helpline.chat import answer, repository
    from helpline.jobs.functions import JobContext, abandoned_answers

    async def down(*args: object, **kwargs: object) -> object:
        raise OSError("connection refused")

    monkeypatch.setattr(answer, "STORE_RETRY_SECONDS", 0.3)
    monkeypatch.setattr(repository, "finish_turn", down)
    body = (await send(client, auth, "hello")).json()
    assert body["status"] == "failed"
    assert body["error"] == "The answer could not be stored: OSError"
    monkeypatch.undo()
    assert await db.fetchval("SELECT status::text FROM messages WHERE id = $1", body["message_id"]) == "streaming"
    assert await abandoned_answers(cast(JobContext, {"runtime": runtime})) == 0  # too recent: it may still be generated
    await db.execute("UPDATE messages SET created_at = now() - interval '1 hour' WHERE id = $1", body["message_id"])
    assert await abandoned_answers(cast(JobContext, {"runtime": runtime})) == 1  # the every-minute job
    assert await db.fetchval("SELECT status::text FROM messages WHERE id = $1", body["message_id"]) == "failed"
    r = await client.post(f"/api/v1/chat/messages/{body['message_id']}/retry", headers=auth)
    assert r.json()["status"] == "sent"


async def test_a_young_answer_whose_instance_died_is_swept_at_once(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    db: asyncpg.Connection,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An answer left 'streaming' by a killed instance whose client never came back (a REST call
    cut off): swept as soon as the hub says its instance stopped beating, not hours later."""
    from helpline.chat.service import sweep_abandoned_answers

    body = (await send(client, auth, "hello")).json()
    await db.execute(
        "UPDATE messages SET status = 'streaming', content = '', created_at = now() - interval '1 minute' "
        "WHERE id = $1",
        body["message_id"],
    )
    asked: list[list[int]] = []

    async def orphaned(message_ids: list[int]) -> list[int]:
        asked.append(list(message_ids))
        return list(message_ids)

    monkeypatch.setattr(runtime.hub, "orphaned", orphaned)
    assert await sweep_abandoned_answers(runtime) == 1
    assert asked == [[body["message_id"]]]
    assert await db.fetchval("SELECT status::text FROM messages WHERE id = $1", body["message_id"]) == "failed"
