"""The guard in a chat turn, over REST, Server-Sent Events and the WebSocket: an answer with an
invented fact, a loop, a cut-off or another language is replaced before it is final, the stored
message says what happened, and only the sources the answer used are shown."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest

from helpline.core.runtime import Runtime
from tests.chat.conftest import send
from tests.chat.fakes import ScriptedProvider
from tests.chat.test_grounding import FAQ, PARTIAL, publish
from tests.chat.test_stream import read_events, recv, until, ws_connect
from tests.conftest import bearer, signed_in

INVENTED = ["For a damaged parcel call the carrier", " at 1-800-463-3339 [1]."]
LEAD_IN = f"Here is what our help article “{FAQ['question']}” says:\n\n{FAQ['answer']}"


def model(runtime: Runtime, chunks: list[str], **options: Any) -> ScriptedProvider:
    provider = ScriptedProvider(chunks=chunks, **options)
    runtime.llm = provider
    return provider


async def stored(db: asyncpg.Connection, message_id: int) -> tuple[str, str, dict[str, Any]]:
    row = await db.fetchrow("SELECT content, model_used, metadata FROM messages WHERE id = $1", message_id)
    assert row is not None
    return row["content"], row["model_used"], json.loads(row["metadata"])


async def test_an_invented_fact_is_replaced_by_the_best_article(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    faq = await publish(client, db)
    runtime.settings.guard.source_min_similarity = 0.0  # the FAQ is close enough to stand in
    model(runtime, INVENTED)
    body = (await send(client, auth, PARTIAL)).json()
    assert body["content"] == LEAD_IN
    assert body["model_used"] == "faq"
    assert [s["id"] for s in body["sources"]] == [faq["id"]]
    assert body["related"] == []
    assert body["guard"] == {
        "action": "article",
        "reason": "unsupported_fact",
        "unsupported": [{"kind": "phone", "text": "1-800-463-3339"}],
        "stopped_early": False,
    }
    assert body["tokens_used"] > 0  # the model's tokens were spent all the same
    content, model_used, meta = await stored(db, body["message_id"])
    assert (content, model_used) == (LEAD_IN, "faq")
    assert meta["guard"] == {k: v for k, v in body["guard"].items() if k != "stopped_early"}  # said when true
    history = (await client.get(f"/api/v1/conversations/{body['conversation_id']}", headers=auth)).json()
    assert history["messages"][-1]["metadata"]["guard"]["action"] == "article"


async def test_without_an_article_close_enough_the_answer_is_i_dont_know(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    faq = await publish(client, db)
    runtime.settings.guard.source_min_similarity = 1.0
    model(runtime, ["Write to refunds@parcelo.example [1]."])
    body = (await send(client, auth, PARTIAL)).json()
    assert body["content"].startswith("I'm sorry, I don't know the answer to that")
    assert body["model_used"] == "guard"
    assert body["sources"] == []
    assert [s["id"] for s in body["related"]] == [faq["id"]]
    assert body["guard"]["action"] == "dont_know"
    assert (await stored(db, body["message_id"]))[2]["related"] == body["related"]
    # The search matched an article, yet the reply is "I don't know": staff see the question
    # (recorded once the reply is out, by the turn's task: waited for here).
    await runtime.hub.drain(5)
    rows = await db.fetch("SELECT text, conversation_id FROM unanswered_questions")
    assert [(r["text"], r["conversation_id"]) for r in rows] == [(PARTIAL, body["conversation_id"])]


async def test_an_answer_that_stands_records_no_unanswered_question(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db)
    runtime.settings.guard.source_min_similarity = 0.0
    model(runtime, INVENTED)
    assert (await send(client, auth, PARTIAL)).json()["guard"]["action"] == "article"
    model(runtime, ["Open Settings, then Security [1]."])
    assert (await send(client, auth, PARTIAL)).json()["guard"] is None
    await runtime.hub.drain(5)
    assert await db.fetchval("SELECT count(*) FROM unanswered_questions") == 0


async def test_a_supported_answer_stands_and_shows_only_the_sources_it_used(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    faq = await publish(client, db)
    runtime.settings.guard.source_min_similarity = 0.0  # the FAQ applies: the model is asked
    model(runtime, ["Open Settings, then Security [1]."])
    body = (await send(client, auth, PARTIAL)).json()
    assert body["content"] == "Open Settings, then Security [1]."
    assert body["guard"] is None
    assert [s["id"] for s in body["sources"]] == [faq["id"]]
    model(runtime, ["I can help with that. What happened exactly?"])
    body = (await send(client, auth, PARTIAL)).json()
    assert body["model_used"] == "scripted-1"
    assert body["sources"] == []  # the FAQ was in the prompt, but the answer did not use it


async def test_a_greeting_without_any_article_passes(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    model(runtime, ["Hello! How can I help you today?"])
    body = (await send(client, auth, "hello there")).json()
    assert body["content"] == "Hello! How can I help you today?"
    assert body["guard"] is None


async def test_without_articles_a_fact_must_come_from_the_conversation(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    model(runtime, ["Sure, I noted your order ORD-77812."])
    body = (await send(client, auth, "My order is ORD-77812, where is it?")).json()
    assert body["guard"] is None  # the user said it
    model(runtime, ["Our office is open until 6pm, call 555-0199-22."])
    body = (await send(client, auth, "When are you open?")).json()
    assert body["guard"]["action"] == "dont_know"
    assert body["related"] == []  # no knowledge base at all
    assert "contact our support team" in body["content"]


@pytest.mark.parametrize(
    ("chunks", "options", "reason"),
    [
        (["Your parcel is on its way to you now. "] * 8, {}, "repetition"),
        (["Open Settings and then"], {"finish_reason": "length"}, "cut_off"),
        (["Abre Ajustes, luego Seguridad, y sigue el enlace del correo que te enviamos hoy."], {}, "wrong_language"),
        (["   "], {}, "empty"),
    ],
)
async def test_broken_answers_are_replaced(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    db: asyncpg.Connection,
    runtime: Runtime,
    chunks: list[str],
    options: dict[str, Any],
    reason: str,
) -> None:
    await publish(client, db)
    runtime.settings.guard.source_min_similarity = 0.0
    model(runtime, chunks, **options)
    body = (await send(client, auth, PARTIAL)).json()
    assert body["guard"]["reason"] == reason
    assert body["content"] == LEAD_IN


async def test_an_answer_broken_off_by_the_model_with_an_invented_fact_is_replaced(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db)
    runtime.settings.guard.source_min_similarity = 0.0
    model(runtime, [*INVENTED, " And more"], fail_after=2)
    body = (await send(client, auth, PARTIAL)).json()
    assert body["status"] == "sent"
    assert body["error"] is None
    assert body["content"] == LEAD_IN


async def test_the_guard_can_be_turned_off(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db)
    runtime.settings.guard.enabled = False
    model(runtime, INVENTED)
    body = (await send(client, auth, PARTIAL)).json()
    assert body["content"] == "".join(INVENTED)
    assert body["guard"] is None


async def test_a_language_the_model_cannot_write_is_answered_without_it(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    faq = await publish(client, db, language="es", question="¿Cómo restablezco mi contraseña?")
    runtime.settings.llm.languages = ["en"]
    runtime.settings.guard.source_min_similarity = 0.0
    provider = model(runtime, ["Gibberish gibberish"])
    body = (await send(client, auth, "¿cómo restablezco mi contraseña si olvidé el correo?", language="es")).json()
    assert provider.calls == []
    assert body["guard"]["reason"] == "language_unsupported"
    assert body["content"].startswith(
        "Esto es lo que dice nuestro artículo de ayuda «¿Cómo restablezco mi contraseña?»"
    )
    assert [s["id"] for s in body["sources"]] == [faq["id"]]
    # Spanish written in an English conversation: the same
    body = (await send(client, auth, "¿cómo restablezco mi contraseña si olvidé el correo?", language="en")).json()
    assert provider.calls == []
    assert body["guard"]["reason"] == "language_unsupported"
    # English stays with the model
    model(runtime, ["Open Settings [1]."])
    assert (await send(client, auth, PARTIAL, language="en")).json()["guard"] is None


@pytest.fixture
async def http(live_server: str) -> Any:
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as c:
        yield c


async def test_sse_and_websocket_retract_the_streamed_text(
    http: httpx.AsyncClient, live_server: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(http, db)
    runtime.settings.guard.source_min_similarity = 0.0
    model(runtime, INVENTED)
    tokens = await signed_in(http)
    async with http.stream("POST", "/api/v1/chat/stream", headers=bearer(tokens), json={"message": PARTIAL}) as r:
        events = await read_events(r)
    kinds = [e["event"] for e in events]
    assert kinds[-2:] == ["replace", "response"]
    assert "".join(e["data"]["content"] for e in events if e["event"] == "token") == "".join(INVENTED)
    replace, final = events[-2]["data"], events[-1]["data"]
    assert replace["content"] == final["content"] == LEAD_IN
    assert replace["reason"] == "unsupported_fact"
    # a client re-attaching after the end gets the replaced answer too
    r = await http.get(f"/api/v1/chat/stream/{final['message_id']}", headers=bearer(tokens))
    assert parse_last(r.text)["content"] == LEAD_IN

    async with await ws_connect(live_server, tokens["user"]["id"], tokens["access_token"]) as ws:
        await ws.send(json.dumps({"type": "message", "content": PARTIAL}))
        frames = await until(ws, "response")
        kinds = [f["type"] for f in frames]
        assert kinds[-2:] == ["replace", "response"]
        assert frames[-2]["content"] == frames[-1]["content"] == LEAD_IN
        assert frames[-1]["guard"]["action"] == "article"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv(ws))["type"] == "pong"


def parse_last(text: str) -> dict[str, Any]:
    data = [line.removeprefix("data:").strip() for line in text.splitlines() if line.startswith("data:")]
    return dict(json.loads(data[-1]))


async def test_a_loop_is_stopped_while_it_streams_and_replaced(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db)
    runtime.settings.guard.source_min_similarity = 0.0
    loop = ["Your parcel ", "is on its way ", "to you now. "] * 300  # a 1000-token loop
    provider = model(runtime, loop)
    body = (await send(client, auth, PARTIAL)).json()
    assert body["content"] == LEAD_IN
    assert body["guard"]["reason"] == "repetition"
    assert body["guard"]["stopped_early"] is True
    # The model was stopped within a few repetitions, its stream closed (the local model's worker
    # stops at its next token, an HTTP upstream is disconnected), not read to the end.
    assert provider.yielded < 60
    assert provider.closed
    assert body["tokens_used"] > 0
    _, _, meta = await stored(db, body["message_id"])
    assert meta["guard"]["stopped_early"] is True


async def test_a_loop_is_not_stopped_with_the_guard_off(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db)
    runtime.settings.guard.enabled = False
    loop = ["Your parcel ", "is on its way ", "to you now. "] * 20
    provider = model(runtime, loop)
    body = (await send(client, auth, PARTIAL)).json()
    assert body["content"] == "".join(loop)
    assert provider.yielded == len(loop)


@pytest.mark.parametrize(
    ("answer", "fact"),
    [
        # "1" is in the prompt (the system prompt's "[1]", a citation): "1%" is not.
        ("A restocking fee of 1% applies [1].", {"kind": "percent", "text": "1%"}),
        ("Parcels up to 30 kg are accepted [1].", {"kind": "quantity", "text": "30 kg"}),
        ("Our CEO Elena Pareja can reset it [1].", {"kind": "name", "text": "Elena Pareja"}),
    ],
)
async def test_an_invented_figure_or_name_is_replaced(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    db: asyncpg.Connection,
    runtime: Runtime,
    answer: str,
    fact: dict[str, str],
) -> None:
    await publish(client, db)
    runtime.settings.guard.source_min_similarity = 0.0
    model(runtime, [answer])
    body = (await send(client, auth, PARTIAL)).json()
    assert body["content"] == LEAD_IN
    assert body["guard"]["reason"] == "unsupported_fact"
    assert body["guard"]["unsupported"] == [fact]


async def test_a_question_no_article_applies_to_is_answered_honestly_without_the_model(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db)
    provider = model(runtime, ["France won the 1998 World Cup."])
    body = (await send(client, auth, "Who won the 1998 world cup?")).json()
    assert provider.calls == []  # trivia: the model would answer from memory, with no fact to check
    assert body["content"].startswith("I'm sorry, I don't know the answer to that")
    assert body["model_used"] == "guard"
    assert body["guard"] == {"action": "dont_know", "reason": "no_source", "unsupported": [], "stopped_early": False}
    assert body["sources"] == []
    _, model_used, meta = await stored(db, body["message_id"])
    assert (model_used, meta["guard"]["reason"], meta["provider"]) == ("guard", "no_source", "guard")


@pytest.mark.parametrize("message", ["Hi! Who are you?", "thanks, bye", "¿Quién eres?"])
async def test_small_talk_still_gets_the_model_s_friendly_reply(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime, message: str
) -> None:
    await publish(client, db)
    runtime.settings.llm.languages = ["en", "es"]
    provider = model(runtime, ["Hello! I'm the support assistant. How can I help?"])
    body = (await send(client, auth, message)).json()
    assert len(provider.calls) == 1
    assert body["content"] == "Hello! I'm the support assistant. How can I help?"
    assert body["guard"] is None


@pytest.mark.parametrize(
    ("message", "greeting"),
    [("Hi!", "Hello! I'm the support assistant"), ("¡Hola!", "¡Hola! Soy el asistente de soporte")],
)
async def test_small_talk_the_model_embroidered_gets_a_greeting_not_i_dont_know(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    db: asyncpg.Connection,
    runtime: Runtime,
    message: str,
    greeting: str,
) -> None:
    await publish(client, db)
    runtime.settings.llm.languages = ["en", "es"]
    language = "es" if message.startswith("¡") else "en"  # the reply is in the conversation's language
    first = (await send(client, auth, PARTIAL, language=language)).json()  # about a parcel, then "Hi!"
    model(runtime, ["Hello! Call us at 1-800-463-3339, open 9am to 5pm."])
    body = (await send(client, auth, message, conversation_id=first["conversation_id"])).json()
    assert body["content"].startswith(greeting)
    assert "don't know" not in body["content"]
    assert body["model_used"] == "guard"
    assert body["guard"]["action"] == "greeting"
    assert body["guard"]["reason"] == "unsupported_fact"
    assert body["sources"] == body["related"] == []
    await runtime.hub.drain(5)
    assert await db.fetchval("SELECT count(*) FROM unanswered_questions WHERE text = $1", message) == 0


async def test_the_fallback_is_the_article_for_this_question_in_its_language(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    english = await publish(client, db)
    spanish = await publish(
        client,
        db,
        language="es",
        question="¿Cómo restablezco mi contraseña?",
        answer="Abre Ajustes, elige Seguridad y pulsa Restablecer contraseña.",
    )
    runtime.settings.llm.languages = ["en"]
    runtime.settings.guard.source_min_similarity = 0.0
    provider = model(runtime, ["Gibberish gibberish"])
    # A Spanish question in an English conversation: searched in Spanish, answered with the
    # Spanish article, not the English one the conversation's language would rank first.
    body = (await send(client, auth, "¿cómo restablezco mi contraseña si olvidé el correo?", language="en")).json()
    assert provider.calls == []
    assert body["guard"]["reason"] == "language_unsupported"
    assert [s["id"] for s in body["sources"]] == [spanish["id"]] != [english["id"]]
    assert "Abre Ajustes" in body["content"]


async def test_off_topic_questions_may_be_left_to_the_model(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, runtime: Runtime
) -> None:
    await publish(client, db)
    runtime.settings.guard.refuse_off_topic = False
    provider = model(runtime, ["I can only help with questions about our service."])
    body = (await send(client, auth, "Who won the 1998 world cup?")).json()
    assert len(provider.calls) == 1
    assert body["content"] == "I can only help with questions about our service."
    assert body["guard"] is None
