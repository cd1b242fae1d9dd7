"""Account erasure: DELETE /api/v1/users/me and DELETE /api/v1/admin/users/{id}."""

from __future__ import annotations

import json
import re
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

from helpline.core.ratelimit import hashed_key as ratelimit_key
from helpline.models import Base
from tests.privacy.conftest import PASSWORD, account, bearer, finished_export

EMAIL = "zebulon.erasable@example.com"
USERNAME = "zq_erasable"
FIRST, LAST = "Zebulonius", "Quixoticsson"
SECRET_TEXT = "my parcel to 12 Rue Zanzibarique never arrived"
FEEDBACK_TEXT = "Feedback by Zebulonius about the answer"
# A user id no other number in a key looks like (rate-limit keys hold amounts such as 60 or 1000).
USER_ID = 987_655


async def erase_me(client: httpx.AsyncClient, auth: dict[str, str], password: str = PASSWORD) -> httpx.Response:
    return await client.request("DELETE", "/api/v1/users/me", headers=auth, json={"current_password": password})


async def user_tables(db: asyncpg.Connection) -> dict[str, str]:
    """Each table holding rows of a user, and the SQL condition selecting those of user $1."""
    conditions: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "users":
                conditions.setdefault(table.name, []).append(f"{fk.parent.name} = $1")
    where = {table: " OR ".join(c) for table, c in conditions.items()}
    where["users"] = "id = $1"
    owned = "conversation_id IN (SELECT id FROM conversations WHERE user_id = $1)"
    where["messages"] = owned
    # A hand-over of their conversation (and a staff note on it), or one they handled as an agent.
    where["conversation_handoffs"] = f"{owned} OR agent_id = $1"
    where["conversation_notes"] = f"{owned} OR author_id = $1"
    where["audit_log"] = "actor_user_id = $1 OR (target_type = 'user' AND target_id = $1::text)"
    return where


async def full_account(client: httpx.AsyncClient, db: asyncpg.Connection) -> tuple[int, dict[str, Any]]:
    """A user with rows in every table that can hold a user's data."""
    await db.execute(f"SELECT setval('users_id_seq', {USER_ID - 1})")
    tokens = await account(client, EMAIL, username=USERNAME, first_name=FIRST, last_name=LAST)
    user_id = tokens["user"]["id"]
    assert user_id == USER_ID
    auth = bearer(tokens)
    r = await client.post("/api/v1/chat/send", headers=auth, json={"message": SECRET_TEXT})
    assert r.status_code == 200, r.text
    answer_id = r.json()["message_id"]
    r = await client.post(
        f"/api/v1/messages/{answer_id}/feedback", headers=auth, json={"helpful": False, "comment": FEEDBACK_TEXT}
    )
    assert r.status_code == 200, r.text
    # A moderation review of their message, written by them as staff: reviews of their messages go
    # with the messages, and so does (or is unsigned) any review they wrote.
    await db.execute(
        "INSERT INTO moderation_reviews (message_id, reviewer_user_id, decision, note) "
        "SELECT id, $1, 'dismiss', $2 FROM messages WHERE user_id = $1 AND message_type = 'user'",
        user_id,
        f"Reviewed {FIRST}'s message",
    )
    faq_id = await db.fetchval(
        "INSERT INTO faqs (question, answer, status) "
        "VALUES ('How do I track?', 'Use the link.', 'published') RETURNING id"
    )
    r = await client.post(f"/api/v1/faqs/{faq_id}/vote", headers=auth, json={"helpful": True})
    assert r.status_code == 200, r.text
    if not await db.fetchval("SELECT count(*) FROM unanswered_questions WHERE user_id = $1", user_id):
        await db.execute(
            "INSERT INTO unanswered_questions (text, user_id, conversation_id) "
            "SELECT $2, $1, id FROM conversations WHERE user_id = $1",
            user_id,
            SECRET_TEXT,
        )
    # Their question suggested as a phrasing of the FAQ, and one approved in their words: both
    # carry their text (faqs/suggestions.py), and the FAQ's full-text copy of its phrasings too.
    message_id = await db.fetchval(
        "SELECT id FROM messages WHERE user_id = $1 AND message_type = 'user' ORDER BY id LIMIT 1", user_id
    )
    await db.execute(
        "INSERT INTO faq_phrasing_suggestions (faq_id, text, norm, user_id, message_id, status) "
        "VALUES ($1, $2, lower($2), $3, $4, 'approved')",
        faq_id,
        SECRET_TEXT,
        user_id,
        message_id,
    )
    await db.execute(
        "INSERT INTO faq_phrasings (faq_id, text, norm, source_user_id) VALUES ($1, $2, lower($2), $3)",
        faq_id,
        SECRET_TEXT,
        user_id,
    )
    # Their conversation handed to a person (helpline.support), with a staff note about it (written,
    # here, by themselves as staff): the hand-over's timings and the note go with the conversation.
    conversation_id = await db.fetchval("SELECT id FROM conversations WHERE user_id = $1", user_id)
    r = await client.post(f"/api/v1/conversations/{conversation_id}/handoff", headers=auth, json={})
    assert r.status_code == 200, r.text
    await db.execute(
        "INSERT INTO conversation_notes (conversation_id, author_id, body) VALUES ($1, $2, $3)",
        conversation_id,
        user_id,
        f"{FIRST} called about this",
    )
    # A search synonym set they made as staff: it stays (vocabulary, not their data), unattributed.
    await db.execute("INSERT INTO search_synonyms (terms, created_by) VALUES (ARRAY['parcel', 'package'], $1)", user_id)
    await finished_export(client, auth)
    change = {"settings": [{"channel": "email", "kind": "human_reply", "enabled": False}]}
    assert (await client.put("/api/v1/users/me/notifications", headers=auth, json=change)).status_code == 200
    await db.execute(
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES ($1, $2, 'key', 'secret')",
        user_id,
        "https://fcm.googleapis.com/fcm/send/erase-me",
    )
    # Their activity in the analytics roll-ups (helpline.analytics.rollup), counted from messages.
    await db.execute(
        "INSERT INTO analytics_user_slots (user_id, slot, messages, questions, tokens) "
        "VALUES ($1, date_trunc('hour', now()), 2, 1, 30)",
        user_id,
    )
    r = await client.post("/api/v1/users/me/api-keys", headers=auth, json={"name": "my script", "scopes": ["chat"]})
    assert r.status_code == 201, r.text
    # A second login, signed out: a revoked login (sid) row.
    other = (await client.post("/api/v1/auth/login", json={"login": EMAIL, "password": PASSWORD})).json()
    r = await client.post("/api/v1/auth/logout", headers=bearer(other), json={"refresh_token": other["refresh_token"]})
    assert r.status_code in (200, 204), r.text
    # A signed-out access token from before tokens carried a login id (sid) is revoked by its jti.
    await db.execute(
        "INSERT INTO revoked_access_tokens (jti, user_id, expires_at) "
        "VALUES (gen_random_uuid(), $1, now() + interval '15 minutes')",
        user_id,
    )
    for table, where in (await user_tables(db)).items():
        count = await db.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", user_id)  # noqa: S608
        assert count, f"the test user has no row in {table}: the scan would prove nothing there"
    return user_id, tokens


async def text_columns(db: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await db.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'USER-DEFINED', 'ARRAY')"
        " AND udt_name NOT IN ('vector', 'tsvector')"
    )
    return [(r["table_name"], r["column_name"]) for r in rows]


async def redis_strings(redis: Redis) -> list[tuple[str, str]]:
    """Every key of the test database, with everything stored under it as text."""
    found: list[tuple[str, str]] = []
    parts: list[Any]
    async for key in redis.scan_iter(count=500):
        kind = await redis.type(key)
        if kind == "string":
            parts = [await redis.get(key) or ""]
        elif kind == "hash":
            parts = [f"{k!s}={v!s}" for k, v in (await redis.hgetall(key)).items()]
        elif kind == "stream":
            parts = [str(fields) for _, fields in await redis.xrange(key) or []]
        elif kind == "zset":
            parts = list(await redis.zrange(key, 0, -1))
        elif kind == "list":
            parts = list(await redis.lrange(key, 0, -1))
        elif kind == "set":
            parts = list(await redis.smembers(key))
        else:
            parts = []
        found.append((str(key), " ".join(str(p) for p in parts)))
    return found


async def test_erasing_me_leaves_nothing_of_mine_in_the_database_or_redis(
    client: httpx.AsyncClient, db: asyncpg.Connection, redis_db: Redis
) -> None:
    user_id, tokens = await full_account(client, db)
    auth = bearer(tokens)
    # Rate-limit windows are kept under hashed keys: the user's id, hashed as they hash it.
    hashed = [ratelimit_key(f"{user_id}"), ratelimit_key(f"u{user_id}")]
    id_in_key = re.compile(rf"(?<!\d){user_id}(?!\d)|{'|'.join(hashed)}")
    before = await redis_strings(redis_db)
    assert any(id_in_key.search(k) for k, _ in before), "nothing of the user in Redis: the scan would prove nothing"
    assert any("Zanzibarique" in v for _, v in before), "no message text in Redis: the scan would prove nothing"

    r = await erase_me(client, auth)
    assert r.status_code == 204, r.text

    needles = [EMAIL, USERNAME, FIRST, LAST, SECRET_TEXT, "Zanzibarique", FEEDBACK_TEXT]
    for table, column in await text_columns(db):
        for needle in needles:
            hits = await db.fetchval(
                f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE $1',  # noqa: S608
                f"%{needle}%",
            )
            assert not hits, f"{needle!r} still in {table}.{column}"
    for table, where in (await user_tables(db)).items():
        if table == "audit_log":
            continue
        count = await db.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", user_id)  # noqa: S608
        assert count == 0, f"rows of the erased user left in {table}"
    for key, value in await redis_strings(redis_db):
        assert not id_in_key.search(key), f"Redis key {key!r} names the erased user"
        for needle in needles:
            assert needle.lower() not in value.lower(), f"{needle!r} still in Redis under {key!r}"

    # The audit trail keeps what happened, under a pseudonym, with no address or browser.
    rows = await db.fetch(
        "SELECT action, actor_user_id, actor_pseudonym, target_id, ip_address, user_agent FROM audit_log "
        "WHERE actor_pseudonym IS NOT NULL OR target_id LIKE 'erased:%' ORDER BY id"
    )
    actions = [r["action"] for r in rows]
    assert "user.registered" in actions
    assert actions[-1] == "privacy.account_erased"
    assert {r["actor_pseudonym"] for r in rows} - {None} == {rows[-1]["target_id"].removeprefix("erased:")}
    assert all(r["actor_user_id"] is None and r["ip_address"] is None and r["user_agent"] is None for r in rows)
    assert not await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE actor_user_id = $1 OR target_id = $1::text", user_id
    )

    # The user's tokens stop at once, with a clean 401; so does signing in.
    r = await client.get("/api/v1/users/me", headers=auth)
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "unauthorized"
    r = await client.post("/api/v1/chat/send", headers=auth, json={"message": "still there?"})
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "unauthorized"
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401, r.text
    r = await client.post("/api/v1/auth/login", json={"login": EMAIL, "password": PASSWORD})
    assert r.status_code == 401, r.text


async def test_the_audit_trail_stays_append_only_outside_an_erasure(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await account(client, "someone@example.com")
    with pytest.raises(asyncpg.RaiseError):
        await db.execute("UPDATE audit_log SET actor_user_id = NULL")
    with pytest.raises(asyncpg.RaiseError):
        await db.execute("DELETE FROM audit_log")
    async with db.transaction():
        await db.execute("SELECT set_config('helpline.audit_pseudonymise', 'on', true)")
        # Even then, only the user's ids and address may change: never the action or details.
        with pytest.raises(asyncpg.RaiseError):
            await db.execute("UPDATE audit_log SET action = 'forged'")
    async with db.transaction():
        await db.execute("SELECT set_config('helpline.audit_pseudonymise', 'on', true)")
        with pytest.raises(asyncpg.RaiseError):
            await db.execute("DELETE FROM audit_log")


@pytest.mark.parametrize("password", ["wrong-password", ""])
async def test_wrong_password_erases_nothing(client: httpx.AsyncClient, db: asyncpg.Connection, password: str) -> None:
    tokens = await account(client, EMAIL)
    r = await erase_me(client, bearer(tokens), password)
    assert r.status_code in (403, 422), r.text
    assert set(r.json()) >= {"error", "detail", "request_id"}
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = $1", EMAIL) == 1
    r = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert r.status_code == 200


async def test_erasure_needs_a_password_body(client: httpx.AsyncClient) -> None:
    tokens = await account(client, EMAIL)
    r = await client.request("DELETE", "/api/v1/users/me", headers=bearer(tokens))
    assert r.status_code == 422, r.text


async def test_admin_erases_a_user(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    admin = await account(client, "boss@example.com")
    await db.execute("UPDATE users SET role = 'admin' WHERE email = 'boss@example.com'")
    victim = await account(client, EMAIL, first_name=FIRST)
    victim_id = victim["user"]["id"]
    r = await client.post("/api/v1/chat/send", headers=bearer(victim), json={"message": SECRET_TEXT})
    assert r.status_code == 200, r.text

    # Not as a plain user.
    r = await client.delete(f"/api/v1/admin/users/{victim_id}", headers=bearer(victim))
    assert r.status_code == 403, r.text

    r = await client.delete(f"/api/v1/admin/users/{victim_id}", headers=bearer(admin))
    assert r.status_code == 204, r.text
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", victim_id) == 0
    assert await db.fetchval("SELECT count(*) FROM messages WHERE content = $1", SECRET_TEXT) == 0
    row = await db.fetchrow(
        "SELECT actor_user_id, target_id, details FROM audit_log WHERE action = 'privacy.account_erased'"
    )
    assert row is not None
    assert row["actor_user_id"] == admin["user"]["id"]
    assert row["target_id"].startswith("erased:")
    r = await client.get("/api/v1/users/me", headers=bearer(victim))
    assert r.status_code == 401, r.text
    # The erased user's app logs out with the tokens it still holds: nothing is left to end.
    r = await client.post(
        "/api/v1/auth/logout", headers=bearer(victim), json={"refresh_token": victim["refresh_token"]}
    )
    assert r.status_code == 204, r.text

    r = await client.delete(f"/api/v1/admin/users/{victim_id}", headers=bearer(admin))
    assert r.status_code == 404, r.text


async def test_admin_cannot_erase_themselves_nor_the_last_admin(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin = await account(client, "boss@example.com")
    await db.execute("UPDATE users SET role = 'admin' WHERE email = 'boss@example.com'")
    admin_id = admin["user"]["id"]
    r = await client.delete(f"/api/v1/admin/users/{admin_id}", headers=bearer(admin))
    assert r.status_code == 400, r.text
    r = await erase_me(client, bearer(admin))
    assert r.status_code == 409, r.text
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", admin_id) == 1

    # With a second admin, either may go; then the remaining one is the last.
    second = await account(client, "deputy@example.com")
    await db.execute("UPDATE users SET role = 'admin' WHERE email = 'deputy@example.com'")
    r = await client.delete(f"/api/v1/admin/users/{admin_id}", headers=bearer(second))
    assert r.status_code == 204, r.text
    r = await erase_me(client, bearer(second))
    assert r.status_code == 409, r.text


async def test_an_open_websocket_of_an_erased_user_is_refused(client: httpx.AsyncClient, live_server: str) -> None:
    tokens = await account(client, EMAIL)
    uid = tokens["user"]["id"]
    url = f"ws://{live_server}/api/v1/chat/ws/{uid}?token={tokens['access_token']}"
    async with websockets.connect(url, proxy=None) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}
        r = await erase_me(client, bearer(tokens))
        assert r.status_code == 204, r.text
        with pytest.raises(ConnectionClosed) as closed:  # closed by the erasure, nothing more is read
            await ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "This account has been erased")
    async with websockets.connect(url, proxy=None) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4401
