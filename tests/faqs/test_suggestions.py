"""Phrasings suggested by helpful answers: made from the user's question, reviewed by staff
(approve, with an edit or not, or reject), audited, searched once approved, and gone with the
user's account (fake embedder; a scripted model citing its source)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import asyncpg
import httpx
import pytest

from helpline.core.runtime import Runtime
from helpline.faqs.suggestions import cited_faq, suggestion_text
from tests.chat.fakes import ScriptedProvider
from tests.conftest import PASSWORD, bearer, signed_in
from tests.faqs.conftest import create_faq
from tests.privacy.conftest import finished_export

FAQ = {
    "question": "How do I reset my password?",
    "answer": "Open Settings, choose Security, then click Reset password and follow the email link.",
    "status": "published",
}
# Close to the FAQ, not close enough to be answered with it: the model answers, citing it.
ASKED = "my password reset email link never arrived, what now?"
QUEUE = "/api/v1/faq-phrasing-suggestions"


@pytest.fixture(autouse=True)
def citing_model(runtime: Runtime) -> None:
    runtime.llm = ScriptedProvider(chunks=["Follow the email link [1]."])
    # The FAQ counts as applying to ASKED, so the guard asks the model (the bag-of-words
    # embedder's similarities are not on MiniLM's scale, which the guard's bar is measured on).
    runtime.settings.guard.source_min_similarity = 0.0


async def ask(client: httpx.AsyncClient, auth: dict[str, str], text: str, helpful: bool = True) -> dict[str, Any]:
    r = await client.post("/api/v1/chat/send", headers=auth, json={"message": text})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    r = await client.post(f"/api/v1/messages/{answer['message_id']}/feedback", headers=auth, json={"helpful": helpful})
    assert r.status_code == 200, r.text
    return answer


async def queue(client: httpx.AsyncClient, auth: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = await client.get(QUEUE, headers=auth, params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_a_helpful_answer_suggests_the_question_and_staff_approve_it(
    client: httpx.AsyncClient, staff: dict[str, str], reader: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(client, staff, **FAQ)
    answer = await ask(client, reader, ASKED)
    assert [s["id"] for s in answer["sources"]] == [faq["id"]]
    # Asked again, by the same user or another: still one suggestion.
    await ask(client, reader, ASKED.upper())
    [item] = await queue(client, staff)
    assert item["faq_id"] == faq["id"]
    assert item["faq_question"] == FAQ["question"]
    assert item["text"] == ASKED
    assert item["status"] == "pending"
    # Users do not see the queue nor review it.
    assert (await client.get(QUEUE, headers=reader)).status_code == 403
    assert (await client.post(f"{QUEUE}/{item['id']}/approve", headers=reader)).status_code == 403

    r = await client.post(f"{QUEUE}/{item['id']}/approve", headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    got = (await client.get(f"/api/v1/faqs/{faq['id']}")).json()
    assert got["phrasings"] == [ASKED]
    assert await queue(client, staff) == []
    assert [i["id"] for i in await queue(client, staff, status="approved")] == [item["id"]]
    # Once reviewed it stays so.
    r = await client.post(f"{QUEUE}/{item['id']}/reject", headers=staff)
    assert r.status_code == 409, r.text
    row = await db.fetchrow(
        "SELECT action, target_type, target_id, details FROM audit_log WHERE action LIKE 'faq.phrasing%'"
    )
    assert row is not None
    assert (row["action"], row["target_type"], row["target_id"]) == ("faq.phrasing_approved", "faq", str(faq["id"]))
    assert json.loads(row["details"]) == {"suggestion_id": item["id"], "edited": False, "added": True}
    # The phrasing is the user's words: it names them as its source.
    assert await db.fetchval("SELECT source_user_id FROM faq_phrasings") == await db.fetchval(
        "SELECT id FROM users WHERE email = 'reader@example.com'"
    )
    # Now a question near it finds the FAQ, and it is never suggested again.
    r = await client.get("/api/v1/faqs/search", params={"q": "email link never arrived"})
    top = r.json()["items"][0]
    assert top["id"] == faq["id"]
    assert "vector_phrasing" in top["signals"]
    await ask(client, reader, ASKED)
    assert [i["id"] for i in await queue(client, staff, status="all")] == [item["id"]]


async def test_staff_edit_before_approving_or_reject(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    boss: dict[str, str],
    reader: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    faq = await create_faq(client, staff, **FAQ)
    await ask(client, reader, ASKED)
    await ask(client, reader, "password reset email link did not arrive")
    second, first = await queue(client, staff)
    r = await client.post(
        f"{QUEUE}/{first['id']}/approve", headers=boss, json={"text": "  The reset email never came "}
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"{QUEUE}/{second['id']}/reject", headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected"
    assert (await client.get(f"/api/v1/faqs/{faq['id']}")).json()["phrasings"] == ["The reset email never came"]
    # Staff's rewording is staff's text: no user as its source.
    assert await db.fetchval("SELECT source_user_id FROM faq_phrasings") is None
    actions = await db.fetch("SELECT action, details FROM audit_log WHERE action LIKE 'faq.phrasing%' ORDER BY id")
    assert [a["action"] for a in actions] == ["faq.phrasing_approved", "faq.phrasing_rejected"]
    assert json.loads(actions[0]["details"])["edited"] is True
    # The audit trail outlives an erasure: it never holds the user's text.
    assert "arrive" not in " ".join(a["details"] for a in actions)
    # A rejected text is not suggested again; bad edits, unknown ids and pages are clear.
    await ask(client, reader, "password reset email link did not arrive")
    assert await queue(client, staff) == []
    r = await client.post(f"{QUEUE}/999999/approve", headers=staff)
    assert r.status_code == 404, r.text
    r = await client.post(f"{QUEUE}/{first['id']}/approve", headers=staff, json={"text": "  "})
    assert r.status_code == 422, r.text
    r = await client.get(QUEUE, headers=staff, params={"cursor": "nonsense"})
    assert r.status_code == 400, r.text


async def test_the_queue_pages_newest_first(
    client: httpx.AsyncClient, staff: dict[str, str], reader: dict[str, str]
) -> None:
    await create_faq(client, staff, **FAQ)
    texts = [f"my password reset email link never arrived {n}" for n in ("today", "again", "yesterday")]
    for text in texts:
        await ask(client, reader, text)
    r = await client.get(QUEUE, headers=staff, params={"limit": 2})
    page = r.json()
    assert [i["text"] for i in page["items"]] == texts[:0:-1]
    r = await client.get(QUEUE, headers=staff, params={"limit": 2, "cursor": page["next_cursor"]})
    assert [i["text"] for i in r.json()["items"]] == texts[:1]
    assert r.json()["next_cursor"] is None


async def test_what_is_not_suggested(
    client: httpx.AsyncClient, staff: dict[str, str], reader: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(client, staff, **FAQ, phrasings=["I never got the reset email"])
    await ask(client, reader, "How do I reset my password")  # the question itself (answered from it)
    await ask(client, reader, "I never got the reset email!")  # already a phrasing
    await ask(client, reader, "password reset link to ada@example.com never arrived")  # personal data
    await ask(client, reader, ASKED, helpful=False)  # not helpful
    await ask(client, reader, "What is the capital of France?")  # cites no FAQ
    assert await queue(client, staff, status="all") == []
    # Helpful, then changed to not helpful: the pending suggestion is withdrawn.
    answer = await ask(client, reader, "password reset email link did not arrive")
    assert len(await queue(client, staff)) == 1
    r = await client.post(f"/api/v1/messages/{answer['message_id']}/feedback", headers=reader, json={"helpful": False})
    assert r.status_code == 200
    assert await queue(client, staff) == []
    assert faq["id"]


def test_which_answers_can_suggest() -> None:
    sources = [{"id": 4, "score": 0.5}, {"id": 7, "score": 0.9}]
    assert cited_faq({"sources": sources}) == 7  # the best-scored source
    assert cited_faq({"sources": sources, "answered_from_faq": 4}) == 4
    assert cited_faq({"sources": sources, "guard": {"action": "article"}}) is None  # replaced by the guard
    assert cited_faq({"sources": sources, "stopped": True}) is None
    assert cited_faq({"sources": []}) is None
    assert cited_faq(None) is None
    assert suggestion_text("  where is\nmy parcel ", None) == "where is my parcel"
    assert suggestion_text("where is my parcel", {"flagged": True}) is None
    assert suggestion_text("call me on +44 20 7946 0958", None) is None
    assert suggestion_text("ok", None) is None
    assert suggestion_text("x " * 200, None) is None


async def test_erasure_takes_the_users_suggestions_and_words_and_the_export_lists_them(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(client, staff, **FAQ)
    tokens = await signed_in(client, "leaving@example.com")
    auth = bearer(tokens)
    await ask(client, auth, ASKED)
    await ask(client, auth, "password reset email link did not arrive")
    await ask(client, auth, "the reset email went to spam, how do I reset")
    verbatim, edited, pending = sorted(await queue(client, staff), key=lambda i: i["id"])
    assert (await client.post(f"{QUEUE}/{verbatim['id']}/approve", headers=staff)).status_code == 200
    r = await client.post(f"{QUEUE}/{edited['id']}/approve", headers=staff, json={"text": "Reset email missing"})
    assert r.status_code == 200

    state = await finished_export(client, auth)
    r = await client.get(state["download_url"], headers=auth)
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        data = json.loads(zf.read("data.json"))
    exported = {(e["kind"], e["text"], e["status"]) for e in data["phrasing_suggestions"]}
    assert exported == {
        ("suggestion", ASKED, "approved"),
        ("suggestion", "password reset email link did not arrive", "approved"),
        ("suggestion", pending["text"], "pending"),
        ("phrasing", ASKED, "in use"),
    }

    r = await client.request("DELETE", "/api/v1/users/me", headers=auth, json={"current_password": PASSWORD})
    assert r.status_code == 204, r.text
    assert await db.fetchval("SELECT count(*) FROM faq_phrasing_suggestions") == 0
    # Their words went from the FAQ (rows, full-text copy); staff's rewording stays.
    assert (await client.get(f"/api/v1/faqs/{faq['id']}")).json()["phrasings"] == ["Reset email missing"]
    assert await db.fetchval("SELECT count(*) FROM faqs WHERE search_vector @@ to_tsquery('english', 'arrived')") == 0
