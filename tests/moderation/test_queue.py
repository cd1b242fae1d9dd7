"""The moderation queue: GET /api/v1/admin/moderation/queue and /categories, reviews and flags."""

from __future__ import annotations

import json

import asyncpg
import httpx
import pytest

from helpline.ai.moderation import LocalModerator
from helpline.core.cursors import encode_cursor
from helpline.core.runtime import Runtime
from helpline.moderation.schemas import QueueStatus
from helpline.moderation.service import queue_statement
from tests.conftest import bearer
from tests.moderation.conftest import CATEGORIES, QUEUE, flag_url, member, queue, review_url, say

ABUSE = "you are a fucking idiot, shut up"


async def test_only_staff_see_and_act_on_the_queue(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await member(client, db, "user@example.com")
    moderator = await member(client, db, "mod@example.com", "moderator")
    admin = await member(client, db, "admin@example.com", "admin")
    turn = await say(client, db, user, "a forbidden-topic message")
    mid = turn["user_message_id"]
    for method, url, body in (
        ("GET", QUEUE, None),
        ("GET", CATEGORIES, None),
        ("POST", review_url(mid), {"decision": "dismiss"}),
        ("POST", flag_url(mid), {"category": "spam"}),
    ):
        r = await client.request(method, url, headers=bearer(user), json=body)
        assert r.status_code == 403, (url, r.text)
        assert set(r.json()) >= {"error", "detail", "request_id"}
        r = await client.request(method, url, json=body)
        assert r.status_code == 401, (url, r.text)
    for staff in (moderator, admin):
        assert (await client.get(QUEUE, headers=bearer(staff))).status_code == 200
        assert (await client.get(CATEGORIES, headers=bearer(staff))).status_code == 200


async def test_a_chat_turn_the_local_moderation_flags_is_queued(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    runtime.moderator = LocalModerator(runtime.settings.moderation)
    user = await member(client, db, "rude@example.com")
    moderator = await member(client, db, "mod@example.com", "moderator")
    await say(client, db, user, "How do I change my billing address?")
    turn = await say(client, db, user, ABUSE)
    assert turn["flagged"] is True

    page = await queue(client, moderator)
    assert page["next_cursor"] is None
    [item] = page["items"]  # the polite question and the refusal are not in the queue
    assert item["message_id"] == turn["user_message_id"]
    assert item["conversation_id"] == turn["conversation_id"]
    assert item["text"] == ABUSE
    assert item["categories"] == ["profanity"]
    assert item["source"] == "local"
    assert item["review"] is None
    assert item["author"] == {
        "id": user["user"]["id"],
        "email": "rude@example.com",
        "username": user["user"]["username"],
        "role": "user",
        "status": "active",
        "is_guest": False,
    }
    r = await client.get(CATEGORIES, headers=bearer(moderator))
    assert r.json() == {"items": [{"category": "profanity", "pending": 1, "total": 1}], "pending": 1}


async def test_a_review_is_recorded_audited_and_decided_once(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await member(client, db, "user@example.com")
    moderator = await member(client, db, "mod@example.com", "moderator")
    admin = await member(client, db, "admin@example.com", "admin")
    mid = (await say(client, db, user, "forbidden-topic again"))["user_message_id"]

    r = await client.post(review_url(mid), headers=bearer(moderator), json={"decision": "confirm", "note": " rude "})
    assert r.status_code == 200, r.text
    review = r.json()["review"]
    assert (review["decision"], review["note"], review["reviewer_id"]) == ("confirm", "rude", moderator["user"]["id"])
    assert review["reviewer_username"] == moderator["user"]["username"]
    row = await db.fetchrow("SELECT * FROM moderation_reviews WHERE message_id = $1", mid)
    assert row is not None
    assert (row["decision"], row["note"], row["reviewer_user_id"]) == ("confirm", "rude", moderator["user"]["id"])
    audit = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'moderation.reviewed'")
    assert audit is not None
    assert (audit["actor_user_id"], audit["target_type"], audit["target_id"]) == (
        moderator["user"]["id"],
        "message",
        str(mid),
    )
    assert json.loads(audit["details"])["decision"] == "confirm"

    # Out of the pending list, into the reviewed one.
    assert (await queue(client, moderator))["items"] == []
    [item] = (await queue(client, moderator, status="reviewed"))["items"]
    assert item["review"]["decision"] == "confirm"
    assert len((await queue(client, moderator, status="all"))["items"]) == 1
    assert (await client.get(CATEGORIES, headers=bearer(moderator))).json() == {
        "items": [{"category": "harassment", "pending": 0, "total": 1}],
        "pending": 0,
    }

    # Decided once: a moderator cannot review again, an administrator only to change the decision.
    for tokens, decision in ((moderator, "dismiss"), (admin, "confirm")):
        r = await client.post(review_url(mid), headers=bearer(tokens), json={"decision": decision})
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "conflict"
    r = await client.post(review_url(mid), headers=bearer(admin), json={"decision": "dismiss"})
    assert r.status_code == 200, r.text
    assert r.json()["review"]["decision"] == "dismiss"
    assert r.json()["review"]["reviewer_id"] == admin["user"]["id"]
    assert await db.fetchval("SELECT count(*) FROM moderation_reviews WHERE message_id = $1", mid) == 2
    audit = await db.fetchrow("SELECT details FROM audit_log WHERE action = 'moderation.reviewed' ORDER BY id DESC")
    assert audit is not None
    assert json.loads(audit["details"])["overrules"] == "confirm"


async def test_only_flagged_messages_can_be_reviewed(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await member(client, db, "user@example.com")
    moderator = await member(client, db, "mod@example.com", "moderator")
    turn = await say(client, db, user, "a harmless question")
    for mid in (turn["user_message_id"], turn["message_id"], 2_000_000_000):
        r = await client.post(review_url(mid), headers=bearer(moderator), json={"decision": "dismiss"})
        assert r.status_code == 404, r.text
        assert r.json()["error"] == "not_found"
    r = await client.post(review_url(turn["user_message_id"]), headers=bearer(moderator), json={"decision": "ban"})
    assert r.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM moderation_reviews") == 0


async def test_suspend_user_suspends_the_author(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await member(client, db, "user@example.com")
    moderator = await member(client, db, "mod@example.com", "moderator")
    mid = (await say(client, db, user, "forbidden-topic"))["user_message_id"]
    r = await client.post(review_url(mid), headers=bearer(moderator), json={"decision": "suspend_user"})
    assert r.status_code == 200, r.text
    assert r.json()["author"]["status"] == "suspended"
    assert (await client.get("/api/v1/users/me", headers=bearer(user))).status_code == 403
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": user["refresh_token"]})
    assert r.status_code == 401
    audit = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'moderation.user_suspended'")
    assert audit is not None
    assert (audit["actor_user_id"], audit["target_type"], audit["target_id"]) == (
        moderator["user"]["id"],
        "user",
        str(user["user"]["id"]),
    )


async def test_staff_accounts_are_suspended_by_admins_only(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    moderator = await member(client, db, "mod@example.com", "moderator")
    other = await member(client, db, "mod2@example.com", "moderator")
    admin = await member(client, db, "admin@example.com", "admin")
    own = (await say(client, db, moderator, "forbidden-topic mine"))["user_message_id"]
    theirs = (await say(client, db, other, "forbidden-topic theirs"))["user_message_id"]
    r = await client.post(review_url(own), headers=bearer(moderator), json={"decision": "suspend_user"})
    assert r.status_code == 400, r.text
    r = await client.post(review_url(theirs), headers=bearer(moderator), json={"decision": "suspend_user"})
    assert r.status_code == 403, r.text
    assert await db.fetchval("SELECT count(*) FROM moderation_reviews") == 0
    r = await client.post(review_url(theirs), headers=bearer(admin), json={"decision": "suspend_user"})
    assert r.status_code == 200, r.text
    assert await db.fetchval("SELECT status::text FROM users WHERE id = $1", other["user"]["id"]) == "suspended"


async def test_staff_flag_a_message_by_hand(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await member(client, db, "user@example.com")
    moderator = await member(client, db, "mod@example.com", "moderator")
    turn = await say(client, db, user, "buy cheap watches at example.biz")
    mid = turn["user_message_id"]
    assert (await queue(client, moderator))["items"] == []
    r = await client.post(flag_url(mid), headers=bearer(moderator), json={"category": "Spam", "note": "an advert"})
    assert r.status_code == 200, r.text
    item = r.json()
    assert (item["message_id"], item["categories"], item["source"], item["flag_note"]) == (
        mid,
        ["spam"],
        "staff",
        "an advert",
    )
    assert [i["message_id"] for i in (await queue(client, moderator))["items"]] == [mid]
    audit = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'moderation.flagged'")
    assert audit is not None
    assert (audit["actor_user_id"], audit["target_id"]) == (moderator["user"]["id"], str(mid))

    r = await client.post(flag_url(mid), headers=bearer(moderator), json={"category": "spam"})
    assert r.status_code == 409
    r = await client.post(flag_url(turn["message_id"]), headers=bearer(moderator), json={"category": "spam"})
    assert r.status_code == 400  # an answer
    r = await client.post(flag_url(2_000_000_000), headers=bearer(moderator), json={"category": "spam"})
    assert r.status_code == 404
    for bad in ({"category": ""}, {"category": "<b>x</b>"}, {"category": "spam", "extra": 1}, {}):
        r = await client.post(flag_url(mid), headers=bearer(moderator), json=bad)
        assert r.status_code == 422, (bad, r.text)
    # A flagged message leaves the history the model sees, as the moderation's flags do.
    r = await client.post(
        "/api/v1/chat/send",
        headers=bearer(user),
        json={"message": "and?", "conversation_id": turn["conversation_id"]},
    )
    assert "I saw 2 messages" in r.json()["content"], r.json()["content"]


async def test_pages_newest_first_and_filter_by_category(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await member(client, db, "user@example.com")
    moderator = await member(client, db, "mod@example.com", "moderator")
    flagged = [(await say(client, db, user, f"forbidden-topic {n}"))["user_message_id"] for n in range(5)]
    spam = (await say(client, db, user, "buy watches"))["user_message_id"]
    r = await client.post(flag_url(spam), headers=bearer(moderator), json={"category": "spam"})
    assert r.status_code == 200
    await client.post(review_url(flagged[0]), headers=bearer(moderator), json={"decision": "dismiss"})

    seen: list[int] = []
    cursor = None
    while True:
        page = await queue(client, moderator, limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 2
        seen += [i["message_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted([*flagged[1:], spam], reverse=True)

    page = await queue(client, moderator, category="spam")
    assert [i["message_id"] for i in page["items"]] == [spam]
    page = await queue(client, moderator, category="harassment", status="all")
    assert [i["message_id"] for i in page["items"]] == sorted(flagged, reverse=True)
    # A message in two categories counts in each, once in all.
    await db.execute(
        "UPDATE messages SET metadata = jsonb_set(metadata, '{moderation,categories}', '[\"harassment\", \"spam\"]') "
        "WHERE id = $1",
        flagged[1],
    )
    counts = (await client.get(CATEGORIES, headers=bearer(moderator))).json()
    assert counts == {
        "items": [
            {"category": "harassment", "pending": 4, "total": 5},
            {"category": "spam", "pending": 2, "total": 2},
        ],
        "pending": 5,
    }
    r = await client.get(QUEUE, headers=bearer(moderator), params={"cursor": "not-a-cursor"})
    assert r.status_code == 400
    r = await client.get(QUEUE, headers=bearer(moderator), params={"status": "everything"})
    assert r.status_code == 422


@pytest.mark.parametrize("status", ["pending", "reviewed", "all"])
async def test_the_queue_reads_the_flagged_index(db: asyncpg.Connection, runtime: Runtime, status: QueueStatus) -> None:
    """The queue's query has the partial index's predicate, so the planner can use it (here made
    to, as a test database is too small for any index to be worth it)."""
    stmt = queue_statement(status=status, category=None, cursor=encode_cursor(1000), limit=50)
    sql = stmt.compile(dialect=runtime.engine.dialect, compile_kwargs={"literal_binds": True})
    await db.execute("SET enable_seqscan = off")
    plan = "\n".join(r[0] for r in await db.fetch(f"EXPLAIN {sql}"))
    assert "ix_messages_flagged" in plan, plan
