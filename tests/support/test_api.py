"""Human handoff through the API: asking for a person (button, words, rules), the assistant
staying quiet while a person has the conversation, the agents' inbox, claim, reply, notes,
resolve and hand back, and what each role may see."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import Any

import asyncpg
import httpx
import pytest

from helpline.core.config import SupportSettings
from tests.chat.fakes import ScriptedProvider
from tests.conftest import bearer, signed_in
from tests.privacy.conftest import finished_export
from tests.support.conftest import agent, conversation, handed_over


@pytest.fixture
async def user(client: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await signed_in(client, "user@example.com"))


async def test_the_button_hands_the_conversation_to_a_person_with_an_honest_expectation(
    client: httpx.AsyncClient, user: dict[str, str], db: asyncpg.Connection
) -> None:
    conv = await conversation(client, user)
    r = await client.get(f"/api/v1/conversations/{conv}/handoff", headers=user)
    assert r.json()["status"] == "bot"
    assert r.json()["expectation"] is None
    r = await client.post(f"/api/v1/conversations/{conv}/handoff", headers=user, json={})
    assert r.status_code == 200
    state = r.json()
    assert state["status"] == "waiting_for_agent"
    assert state["expectation"] == {
        "kind": "reply_within",
        "minutes": 60,
        "opening_hours": None,
        "timezone": None,
        "email": True,  # a signed-up user's own address
    }
    detail = (await client.get(f"/api/v1/conversations/{conv}", headers=user)).json()
    notice = detail["messages"][-1]
    assert notice["message_type"] == "system"
    assert notice["metadata"]["handoff"] == {"status": "waiting_for_agent", "reason": "user", "agent_name": None}
    # Asking again changes nothing.
    again = await client.post(f"/api/v1/conversations/{conv}/handoff", headers=user, json={})
    assert again.json()["status"] == "waiting_for_agent"
    assert await db.fetchval("SELECT count(*) FROM conversation_handoffs") == 1


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human please?",
        "I want to speak with a real person",
        "¿Puedo hablar con una persona?",
        "Je voudrais parler à un conseiller",
        "Kann ich mit einem Menschen sprechen?",
    ],
)
async def test_asking_for_a_person_in_words_hands_over_without_the_model(
    client: httpx.AsyncClient, user: dict[str, str], llm: ScriptedProvider, db: asyncpg.Connection, text: str
) -> None:
    r = await client.post("/api/v1/chat/send", headers=user, json={"message": text})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["handoff"]["status"] == "waiting_for_agent"
    assert body["content"] == ""
    assert body["message_id"] == body["user_message_id"]
    assert llm.calls == []
    types = await db.fetch("SELECT message_type::text AS t FROM messages ORDER BY id")
    assert [row["t"] for row in types] == ["user", "system"]
    assert await db.fetchval("SELECT reason FROM conversation_handoffs") == "phrase"


async def test_a_keyword_from_the_settings_hands_over(
    client: httpx.AsyncClient, user: dict[str, str], db: asyncpg.Connection
) -> None:
    conv = await conversation(client, user)
    r = await client.post(
        "/api/v1/chat/send", headers=user, json={"message": "I need a REFUND now", "conversation_id": conv}
    )
    assert r.json()["handoff"]["status"] == "waiting_for_agent"
    assert await db.fetchval("SELECT reason FROM conversation_handoffs") == "keyword"


async def test_while_a_person_has_it_the_assistant_is_quiet_and_the_messages_wait_for_them(
    client: httpx.AsyncClient, user: dict[str, str], llm: ScriptedProvider, db: asyncpg.Connection
) -> None:
    conv = await handed_over(client, user)
    calls = len(llm.calls)
    sent = await client.post(
        "/api/v1/chat/send", headers=user, json={"message": "my parcel is lost", "conversation_id": conv}
    )
    assert sent.status_code == 200
    assert sent.json()["handoff"]["status"] == "waiting_for_agent"
    assert sent.json()["content"] == ""
    # The streamed path too: one final event, no tokens.
    async with client.stream(
        "POST", "/api/v1/chat/stream", headers=user, json={"message": "still there?", "conversation_id": conv}
    ) as r:
        text = await r.aread()
    assert b"event: response" in text
    assert b"event: token" not in text
    assert len(llm.calls) == calls
    staff = await agent(client, db, "agent@example.com")
    seen = (await client.get(f"/api/v1/support/conversations/{conv}", headers=staff)).json()
    assert [m["content"] for m in seen["messages"] if m["message_type"] == "user"][-2:] == [
        "my parcel is lost",
        "still there?",
    ]


async def test_claim_reply_note_resolve_and_the_assistant_answers_again(
    client: httpx.AsyncClient, user: dict[str, str], llm: ScriptedProvider, db: asyncpg.Connection
) -> None:
    conv = await handed_over(client, user)
    staff = await agent(client, db, "agent@example.com")
    queue = (await client.get("/api/v1/support/inbox", headers=staff)).json()["items"]
    assert [i["conversation_id"] for i in queue] == [conv]
    assert queue[0]["status"] == "waiting_for_agent"
    assert queue[0]["wait_seconds"] >= 0
    assert queue[0]["reason"] == "user"

    early = await client.post(f"/api/v1/support/conversations/{conv}/reply", headers=staff, json={"content": "x"})
    assert early.status_code == 409  # claim first

    claimed = await client.post(f"/api/v1/support/conversations/{conv}/claim", headers=staff)
    assert claimed.status_code == 200
    assert claimed.json()["status"] == "with_agent"
    assert claimed.json()["agent_id"] is not None
    assert (await client.get("/api/v1/support/inbox", headers=staff)).json()["items"] == []
    mine = (await client.get("/api/v1/support/inbox?view=mine", headers=staff)).json()["items"]
    assert [i["conversation_id"] for i in mine] == [conv]

    note = await client.post(
        f"/api/v1/support/conversations/{conv}/notes", headers=staff, json={"body": "SECRET-NOTE: VIP customer"}
    )
    assert note.status_code == 201
    reply = await client.post(
        f"/api/v1/support/conversations/{conv}/reply", headers=staff, json={"content": "Hi, I'm here to help."}
    )
    assert reply.status_code == 201
    message = reply.json()
    assert message["message_type"] == "assistant"
    assert message["model_used"] == "agent"
    assert message["metadata"]["author"] == "agent"

    state = (await client.get(f"/api/v1/conversations/{conv}/handoff", headers=user)).json()
    assert state["status"] == "with_agent"
    assert state["agent_name"] == "agent"
    detail = (await client.get(f"/api/v1/conversations/{conv}", headers=user)).json()
    assert detail["messages"][-1]["content"] == "Hi, I'm here to help."
    timings = await db.fetchrow("SELECT claimed_at, first_reply_at, ended_at FROM conversation_handoffs")
    assert timings is not None
    assert timings["claimed_at"] is not None
    assert timings["first_reply_at"] is not None
    assert timings["ended_at"] is None

    resolved = await client.post(f"/api/v1/support/conversations/{conv}/resolve", headers=staff)
    assert resolved.json()["status"] == "resolved"
    assert await db.fetchval("SELECT outcome FROM conversation_handoffs") == "resolved"
    # Staff actions on a user's conversation are in the audit trail.
    audited = await db.fetch(
        "SELECT action, target_type, target_id FROM audit_log WHERE action LIKE 'support.%' ORDER BY id"
    )
    assert [r["action"] for r in audited] == [
        "support.claimed",
        "support.note_added",
        "support.replied",
        "support.resolved",
    ]
    assert {(r["target_type"], r["target_id"]) for r in audited} == {("conversation", str(conv))}
    calls = len(llm.calls)
    again = await client.post("/api/v1/chat/send", headers=user, json={"message": "thanks", "conversation_id": conv})
    assert again.json()["handoff"] is None
    assert again.json()["content"]
    assert len(llm.calls) == calls + 1
    # The model saw the person's reply as the assistant's and no notices.
    prompt = [(m.role, m.content) for m in llm.calls[-1]]
    assert ("assistant", "Hi, I'm here to help.") in prompt
    assert not any("handed to a person" in content for _, content in prompt)
    assert (await client.get(f"/api/v1/conversations/{conv}/handoff", headers=user)).json()["status"] == "bot"


async def test_hand_back_to_the_assistant(
    client: httpx.AsyncClient, user: dict[str, str], db: asyncpg.Connection
) -> None:
    conv = await handed_over(client, user)
    staff = await agent(client, db, "agent@example.com")
    await client.post(f"/api/v1/support/conversations/{conv}/claim", headers=staff)
    r = await client.post(f"/api/v1/support/conversations/{conv}/release", headers=staff)
    assert r.status_code == 200
    assert r.json()["status"] == "bot"
    assert await db.fetchval("SELECT outcome FROM conversation_handoffs") == "handed_back"
    again = await client.post("/api/v1/chat/send", headers=user, json={"message": "hi", "conversation_id": conv})
    assert again.json()["handoff"] is None
    assert again.json()["content"]


async def test_only_agents_see_the_inbox_and_a_user_never_sees_notes(
    client: httpx.AsyncClient, user: dict[str, str], db: asyncpg.Connection
) -> None:
    conv = await handed_over(client, user)
    for path in ("/api/v1/support/inbox", f"/api/v1/support/conversations/{conv}", "/api/v1/support/canned?q=x"):
        assert (await client.get(path, headers=user)).status_code == 403
    for path in ("claim", "resolve", "release"):
        assert (await client.post(f"/api/v1/support/conversations/{conv}/{path}", headers=user)).status_code == 403
    notes = await client.post(f"/api/v1/support/conversations/{conv}/notes", headers=user, json={"body": "x"})
    assert notes.status_code == 403
    assert (await client.get("/api/v1/support/inbox")).status_code == 401

    for role in ("moderator", "admin"):
        staff = await agent(client, db, f"{role}@example.com", role)
        assert (await client.get("/api/v1/support/inbox", headers=staff)).status_code == 200
    staff = await agent(client, db, "agent@example.com")
    await client.post(f"/api/v1/support/conversations/{conv}/claim", headers=staff)
    await client.post(f"/api/v1/support/conversations/{conv}/notes", headers=staff, json={"body": "SECRET-NOTE"})
    view = (await client.get(f"/api/v1/support/conversations/{conv}", headers=staff)).json()
    assert [n["body"] for n in view["notes"]] == ["SECRET-NOTE"]
    for path in (f"/api/v1/conversations/{conv}", f"/api/v1/conversations/{conv}/handoff", "/api/v1/conversations"):
        r = await client.get(path, headers=user)
        assert r.status_code == 200
        assert "SECRET-NOTE" not in r.text
    # A data-access request is another matter: the notes are personal data about the user, so
    # their export holds them (not who wrote them).
    state = await finished_export(client, user)
    r = await client.get(state["download_url"], headers=user)
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        exported = json.loads(zf.read("data.json"))["staff_notes"]
    assert [(n["conversation_id"], n["body"]) for n in exported] == [(conv, "SECRET-NOTE")]
    assert set(exported[0]) == {"conversation_id", "body", "created_at"}
    # Another user sees nothing of it.
    other = bearer(await signed_in(client, "other@example.com"))
    assert (await client.get(f"/api/v1/conversations/{conv}/handoff", headers=other)).status_code == 404
    assert (await client.post(f"/api/v1/conversations/{conv}/handoff", headers=other, json={})).status_code == 404


async def test_a_conversation_never_handed_over_is_not_in_the_agents_reach(
    client: httpx.AsyncClient, user: dict[str, str], db: asyncpg.Connection
) -> None:
    conv = await conversation(client, user)
    staff = await agent(client, db, "agent@example.com")
    assert (await client.get(f"/api/v1/support/conversations/{conv}", headers=staff)).status_code == 404
    assert (await client.post(f"/api/v1/support/conversations/{conv}/claim", headers=staff)).status_code == 404


async def test_only_the_agent_who_claimed_it_answers(
    client: httpx.AsyncClient, user: dict[str, str], db: asyncpg.Connection
) -> None:
    conv = await handed_over(client, user)
    first = await agent(client, db, "first@example.com")
    second = await agent(client, db, "second@example.com")
    assert (await client.post(f"/api/v1/support/conversations/{conv}/claim", headers=first)).status_code == 200
    taken = await client.post(f"/api/v1/support/conversations/{conv}/claim", headers=second)
    assert taken.status_code == 409
    assert taken.json()["error"] == "conflict"
    r = await client.post(f"/api/v1/support/conversations/{conv}/reply", headers=second, json={"content": "me?"})
    assert r.status_code == 409
    assert (await client.post(f"/api/v1/support/conversations/{conv}/resolve", headers=second)).status_code == 409


async def test_not_helpful_offers_a_person_then_the_rule_hands_over(
    client: httpx.AsyncClient, user: dict[str, str], db: asyncpg.Connection
) -> None:
    first = (await client.post("/api/v1/chat/send", headers=user, json={"message": "where is my parcel"})).json()
    conv = first["conversation_id"]
    r = await client.post(f"/api/v1/messages/{first['message_id']}/feedback", headers=user, json={"helpful": False})
    assert r.json()["offer_handoff"] is True
    assert (await client.get(f"/api/v1/conversations/{conv}/handoff", headers=user)).json()["status"] == "bot"
    second = (
        await client.post("/api/v1/chat/send", headers=user, json={"message": "and now?", "conversation_id": conv})
    ).json()
    r = await client.post(f"/api/v1/messages/{second['message_id']}/feedback", headers=user, json={"helpful": False})
    assert r.json()["offer_handoff"] is False  # handed over by the rule instead
    assert (await client.get(f"/api/v1/conversations/{conv}/handoff", headers=user)).json()["status"] == (
        "waiting_for_agent"
    )
    assert await db.fetchval("SELECT reason FROM conversation_handoffs") == "not_helpful"
    helpful = await client.post(
        f"/api/v1/messages/{second['message_id']}/feedback", headers=user, json={"helpful": True}
    )
    assert helpful.json()["offer_handoff"] is False


@pytest.mark.parametrize("support_settings", [SupportSettings(escalate_flagged=True)])
async def test_a_flagged_message_goes_to_a_person_when_the_setting_says_so(
    client: httpx.AsyncClient, user: dict[str, str], db: asyncpg.Connection
) -> None:
    r = await client.post("/api/v1/chat/send", headers=user, json={"message": "tell me about forbidden-topic"})
    assert r.json()["flagged"] is True  # the polite refusal still answers
    assert await db.fetchval("SELECT reason FROM conversation_handoffs") == "flagged"


@pytest.mark.parametrize("support_settings", [SupportSettings(enabled=False)])
async def test_turned_off_nothing_hands_over(
    client: httpx.AsyncClient, user: dict[str, str], llm: ScriptedProvider
) -> None:
    r = await client.post("/api/v1/chat/send", headers=user, json={"message": "talk to a human"})
    assert r.json()["handoff"] is None
    assert r.json()["content"]
    conv = r.json()["conversation_id"]
    assert (await client.post(f"/api/v1/conversations/{conv}/handoff", headers=user, json={})).status_code == 409


async def test_canned_replies_come_from_the_faqs(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Any
) -> None:
    admin = await agent(client, db, "admin@example.com", "admin")
    made = await client.post(
        "/api/v1/faqs",
        headers=admin,
        json={"question": "How do I track my parcel?", "answer": "Use the tracking link.", "status": "published"},
    )
    assert made.status_code == 201, made.text
    r = await client.get("/api/v1/support/canned", headers=admin, params={"q": "track parcel"})
    assert r.status_code == 200
    assert next((c["question"], c["answer"]) for c in r.json()["items"]) == (
        "How do I track my parcel?",
        "Use the tracking link.",
    )


async def test_seen_marks_the_replies_read(
    client: httpx.AsyncClient, user: dict[str, str], db: asyncpg.Connection
) -> None:
    conv = await handed_over(client, user)
    staff = await agent(client, db, "agent@example.com")
    await client.post(f"/api/v1/support/conversations/{conv}/claim", headers=staff)
    reply = (
        await client.post(f"/api/v1/support/conversations/{conv}/reply", headers=staff, json={"content": "hi"})
    ).json()
    r = await client.post(f"/api/v1/conversations/{conv}/handoff/seen", headers=user, json={"up_to": reply["id"]})
    assert r.status_code == 204
    assert await db.fetchval("SELECT read_at IS NOT NULL FROM messages WHERE id = $1", reply["id"])
    await asyncio.sleep(0)
