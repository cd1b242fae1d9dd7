"""API keys: shown once, hashed at rest, listed without secrets, revoked at once (by their user or
an administrator), scoped, last use written at most once a minute, gone with their user."""

from __future__ import annotations

import hashlib

import asyncpg
import httpx

from helpline.core.runtime import Runtime
from helpline.privacy.export import collect
from tests.conftest import PASSWORD, bearer, make_admin, signed_in, sql_statements
from tests.openai_api.conftest import make_key, user_with_key


def key_auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_is_shown_once_and_kept_only_as_its_hash(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    auth = bearer(await signed_in(client))
    created = await make_key(client, auth, name="Open WebUI")
    key = created["key"]
    assert key.startswith(f"hl_{created['prefix']}_")
    assert len(key) > 50
    assert created["scopes"] == ["chat"]
    assert created["last_used_at"] is None
    listed = (await client.get("/api/v1/users/me/api-keys", headers=auth)).json()["items"]
    assert [k["name"] for k in listed] == ["Open WebUI"]
    assert "key" not in listed[0]
    assert key not in str(listed)
    row = await db.fetchrow("SELECT * FROM api_keys")
    assert row is not None
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(dict(row))
    assert key.split("_", 2)[2] not in str(dict(row))
    r = await client.get("/v1/models", headers=key_auth(key))
    assert r.status_code == 200
    assert r.json()["data"][0]["id"] == "helpline"
    metrics = (await client.get("/metrics")).text
    assert 'openai_api_requests_total{endpoint="/v1/models",status="200"}' in metrics


async def test_a_revoked_key_stops_at_once_and_stays_listed(client: httpx.AsyncClient) -> None:
    auth, key = await user_with_key(client)
    assert (await client.get("/v1/models", headers=key_auth(key))).status_code == 200
    key_id = (await client.get("/api/v1/users/me/api-keys", headers=auth)).json()["items"][0]["id"]
    assert (await client.delete(f"/api/v1/users/me/api-keys/{key_id}", headers=auth)).status_code == 204
    r = await client.get("/v1/models", headers=key_auth(key))
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "This API key has been revoked."
    listed = (await client.get("/api/v1/users/me/api-keys", headers=auth)).json()["items"]
    assert listed[0]["revoked_at"] is not None
    assert listed[0]["last_used_at"] is not None


async def test_another_users_key_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    _, key = await user_with_key(client, "owner@example.com")
    owner_key_id = (await client.get("/v1/models", headers=key_auth(key))).status_code
    assert owner_key_id == 200
    other = bearer(await signed_in(client, "other@example.com"))
    r = await client.get("/api/v1/users/me/api-keys", headers=other)
    assert r.json()["items"] == []
    for key_id in (1, 2, 999):
        assert (await client.delete(f"/api/v1/users/me/api-keys/{key_id}", headers=other)).status_code == 404
    assert (await client.get("/v1/models", headers=key_auth(key))).status_code == 200


async def test_scopes(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    auth = bearer(await signed_in(client))
    r = await client.post("/api/v1/users/me/api-keys", headers=auth, json={"name": "x", "scopes": ["admin_read"]})
    assert r.status_code == 403
    assert "staff" in r.json()["detail"]
    r = await client.post("/api/v1/users/me/api-keys", headers=auth, json={"name": "x", "scopes": ["owner"]})
    assert r.status_code == 422
    search_only = await make_key(client, auth, scopes=["search"])
    r = await client.get("/v1/models", headers=key_auth(search_only["key"]))
    assert r.status_code == 403
    assert r.json()["error"] == {
        "message": "This API key does not have the 'chat' scope",
        "type": "permission_error",
        "param": None,
        "code": "forbidden",
    }
    await make_admin(db, "user@example.com")
    staff = await make_key(client, auth, scopes=["chat", "admin_read", "chat"])
    assert staff["scopes"] == ["chat", "admin_read"]


async def test_keys_that_are_not_ours_are_refused(client: httpx.AsyncClient) -> None:
    _, key = await user_with_key(client)
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    tokens = await signed_in(client, "jwt@example.com")
    for value in (tampered, "hl_nothing", "sk-proj-123", tokens["access_token"]):
        r = await client.get("/v1/models", headers=key_auth(value))
        assert r.status_code == 401, value
        assert r.json()["error"]["code"] == "invalid_api_key"
    r = await client.get("/v1/models")
    assert r.status_code == 401
    assert "didn't provide an API key" in r.json()["error"]["message"]


async def test_a_suspended_or_erased_users_keys_stop_at_once(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    auth, key = await user_with_key(client)
    await db.execute("UPDATE users SET status = 'suspended'")
    assert (await client.get("/v1/models", headers=key_auth(key))).status_code == 403
    await db.execute("UPDATE users SET status = 'active'")
    assert (await client.get("/v1/models", headers=key_auth(key))).status_code == 200
    r = await client.request("DELETE", "/api/v1/users/me", headers=auth, json={"current_password": PASSWORD})
    assert r.status_code == 204, r.text
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 0
    assert (await client.get("/v1/models", headers=key_auth(key))).status_code == 401


async def test_last_use_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    _, key = await user_with_key(client)
    with sql_statements(runtime) as statements:
        for _ in range(5):
            assert (await client.get("/v1/models", headers=key_auth(key))).status_code == 200
    writes = [s for s in statements if s.lstrip().upper().startswith("UPDATE API_KEYS")]
    assert len(writes) == 1
    first = await db.fetchval("SELECT last_used_at FROM api_keys")
    await db.execute("UPDATE api_keys SET last_used_at = last_used_at - interval '61 seconds'")
    assert (await client.get("/v1/models", headers=key_auth(key))).status_code == 200
    assert await db.fetchval("SELECT last_used_at FROM api_keys") > first


async def test_administrators_list_and_revoke_keys(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    _, key_a = await user_with_key(client, "a@example.com", name="a's tool")
    _, key_b = await user_with_key(client, "b@example.com", name="b's tool")
    admin = bearer(await signed_in(client, "boss@example.com"))
    assert (await client.get("/api/v1/admin/api-keys", headers=admin)).status_code == 403
    await make_admin(db, "boss@example.com")
    page = (await client.get("/api/v1/admin/api-keys", headers=admin)).json()
    assert [(k["name"], k["user_email"]) for k in page["items"]] == [
        ("b's tool", "b@example.com"),
        ("a's tool", "a@example.com"),
    ]
    user_a = await db.fetchval("SELECT id FROM users WHERE email = 'a@example.com'")
    only_a = (await client.get(f"/api/v1/admin/api-keys?user_id={user_a}", headers=admin)).json()["items"]
    assert [k["name"] for k in only_a] == ["a's tool"]
    r = await client.post(f"/api/v1/admin/api-keys/{only_a[0]['id']}/revoke", headers=admin)
    assert r.status_code == 200
    assert r.json()["revoked_at"] is not None
    assert (await client.get("/v1/models", headers=key_auth(key_a))).status_code == 401
    assert (await client.get("/v1/models", headers=key_auth(key_b))).status_code == 200
    active = (await client.get("/api/v1/admin/api-keys?active=true", headers=admin)).json()["items"]
    assert [k["name"] for k in active] == ["b's tool"]
    page1 = (await client.get("/api/v1/admin/api-keys?limit=1", headers=admin)).json()
    page2 = (await client.get(f"/api/v1/admin/api-keys?limit=1&cursor={page1['next_cursor']}", headers=admin)).json()
    assert [k["name"] for k in page1["items"] + page2["items"]] == ["b's tool", "a's tool"]
    actions = await db.fetch("SELECT action FROM audit_log WHERE action LIKE '%api_key%' ORDER BY id")
    assert [a["action"] for a in actions].count("admin.api_key_revoked") == 1


async def test_the_data_export_lists_keys_without_secrets(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    _, key = await user_with_key(client, name="export me")
    user_id = await db.fetchval("SELECT id FROM users")
    async with runtime.sessionmaker() as session:
        sections = await collect(session, user_id)
    assert [k["name"] for k in sections["api_keys"]] == ["export me"]  # type: ignore[index]
    assert "key_hash" not in sections["api_keys"][0]  # type: ignore[index]
    assert key not in str(sections)
    assert hashlib.sha256(key.encode()).hexdigest() not in str(sections)


async def test_a_completion_costs_a_chat_turns_statements_and_one_key_lookup(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    auth, key = await user_with_key(client)
    body = {"model": "helpline", "messages": [{"role": "user", "content": "Where is my parcel?"}]}
    # Warm: the first turn and the key's first use (its last_used_at write) out of the way.
    assert (await client.post("/api/v1/chat/send", headers=auth, json={"message": "hello"})).status_code == 200
    assert (await client.post("/v1/chat/completions", headers=key_auth(key), json=body)).status_code == 200
    with sql_statements(runtime) as turn:
        r = await client.post("/api/v1/chat/send", headers=auth, json={"message": "Where is my parcel?"})
        assert r.status_code == 200
    with sql_statements(runtime) as completion:
        r = await client.post("/v1/chat/completions", headers=key_auth(key), json=body)
        assert r.status_code == 200
    assert len(completion) == len(turn) + 1, (turn, completion)
    assert "FROM api_keys" in completion[0]


async def test_a_key_with_the_search_scope_searches_as_its_user(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    from tests.chat.test_grounding import publish

    faq = await publish(client, db)
    auth = bearer(await signed_in(client))
    search_key = (await make_key(client, auth, scopes=["search"]))["key"]
    chat_key = (await make_key(client, auth, scopes=["chat"]))["key"]
    r = await client.get("/api/v1/faqs/search?q=reset password", headers=key_auth(search_key))
    assert r.status_code == 200, r.text
    assert [hit["id"] for hit in r.json()["items"]][:1] == [faq["id"]]
    r = await client.get("/api/v1/faqs/search?q=reset password", headers=key_auth(chat_key))
    assert r.status_code == 403
    assert "'search' scope" in r.json()["detail"]
    revoked_id = (await client.get("/api/v1/users/me/api-keys", headers=auth)).json()["items"][1]["id"]
    await client.delete(f"/api/v1/users/me/api-keys/{revoked_id}", headers=auth)
    r = await client.get("/api/v1/faqs/search?q=reset password", headers=key_auth(search_key))
    assert r.status_code == 401


async def test_an_admin_read_key_reads_staff_routes_and_never_writes(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    auth = bearer(await signed_in(client, "boss@example.com"))
    await make_admin(db, "boss@example.com")
    reader = {"Authorization": "Bearer " + (await make_key(client, auth, scopes=["admin_read"]))["key"]}
    chat_only = {"Authorization": "Bearer " + (await make_key(client, auth, name="chat"))["key"]}

    for path in ("/api/v1/admin/users", "/api/v1/analytics/dashboard", "/api/v1/admin/jobs", "/api/v1/support/inbox"):
        r = await client.get(path, headers=reader)
        assert r.status_code == 200, (path, r.text)
    assert (await client.get("/api/v1/admin/users", headers=chat_only)).status_code == 403  # no admin_read
    # Reading only: a change wants a signed-in administrator's access token.
    r = await client.post("/api/v1/faq-categories", headers=reader, json={"name": "By key"})
    assert r.status_code == 401, r.text
    assert "only read" in r.json()["detail"]
    # The key's account decides, at every request.
    await db.execute("UPDATE users SET role = 'moderator' WHERE email = 'boss@example.com'")
    assert (await client.get("/api/v1/admin/audit", headers=reader)).status_code == 403  # admins only
    assert (await client.get("/api/v1/analytics/dashboard", headers=reader)).status_code == 200  # staff
    await db.execute("UPDATE users SET status = 'suspended' WHERE email = 'boss@example.com'")
    assert (await client.get("/api/v1/analytics/dashboard", headers=reader)).status_code == 403
