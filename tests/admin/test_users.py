"""GET/PATCH /api/v1/admin/users: who may use them, search, filters, pagination, usage counts."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg
import httpx

from helpline.core.cursors import encode_cursor
from tests.admin.conftest import Account, account, audit_rows
from tests.conftest import register

USERS = "/api/v1/admin/users"


async def test_who_may_use_the_user_screens(
    client: httpx.AsyncClient, admin: Account, mod: Account, member: Account
) -> None:
    assert (await client.get(USERS)).status_code == 401
    assert (await client.get(f"{USERS}/{member.id}")).status_code == 401
    for staff in (admin, mod):
        assert (await client.get(USERS, headers=staff.auth)).status_code == 200
        assert (await client.get(f"{USERS}/{member.id}", headers=staff.auth)).status_code == 200
    r = await client.get(USERS, headers=member.auth)
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"
    assert (await client.get(f"{USERS}/{admin.id}", headers=member.auth)).status_code == 403
    # Changes and force logout: administrators only.
    for caller in (mod, member):
        r = await client.patch(f"{USERS}/{member.id}", headers=caller.auth, json={"status": "suspended"})
        assert r.status_code == 403
        assert (await client.post(f"{USERS}/{member.id}/logout", headers=caller.auth)).status_code == 403
    assert (await client.get("/api/v1/users/me", headers=member.auth)).json()["status"] == "active"
    assert (await client.get(f"{USERS}/999999", headers=admin.auth)).status_code == 404
    assert (await client.patch(f"{USERS}/999999", headers=admin.auth, json={"role": "user"})).status_code == 404
    assert (await client.post(f"{USERS}/999999/logout", headers=admin.auth)).status_code == 404
    # Not one's own account: an administrator signs out with /auth/logout (and keeps this token).
    r = await client.post(f"{USERS}/{admin.id}/logout", headers=admin.auth)
    assert r.status_code == 400
    assert "sign out" in r.json()["detail"]
    assert (await client.get("/api/v1/users/me", headers=admin.auth)).status_code == 200


async def test_list_items_and_search(
    client: httpx.AsyncClient, admin: Account, mod: Account, member: Account, db: asyncpg.Connection
) -> None:
    assert (await register(client, "zed@other.org", username="Zebra_1")).status_code == 202
    r = await client.get(USERS, headers=mod.auth)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [u["email"] for u in page["items"]] == [
        "boss@example.com",
        "mod@example.com",
        "member@example.com",
        "zed@other.org",
    ]
    assert page["next_cursor"] is None
    boss = page["items"][0]
    assert set(boss) == {"id", "email", "username", "role", "status", "is_guest", "created_at", "last_login_at"}
    assert boss["role"] == "admin"
    assert boss["last_login_at"] is not None
    assert "hashed_password" not in r.text

    async def emails(**params: str) -> list[str]:
        r = await client.get(USERS, headers=admin.auth, params=params)
        assert r.status_code == 200, r.text
        return [u["email"] for u in r.json()["items"]]

    assert await emails(q="EXAMPLE.com") == ["boss@example.com", "mod@example.com", "member@example.com"]
    assert await emails(q="ebra") == ["zed@other.org"]  # the username, case aside
    assert await emails(q="a_") == ["zed@other.org"]  # not a wildcard: "ample" in example.com does not match
    assert await emails(q="%") == []
    assert await emails(role="moderator") == ["mod@example.com"]
    await db.execute("UPDATE users SET status = 'suspended' WHERE email = 'zed@other.org'")
    assert await emails(status="suspended") == ["zed@other.org"]
    assert await emails(status="active", q="m") == ["boss@example.com", "mod@example.com", "member@example.com"]
    assert await emails(guest="true") == []
    assert len(await emails(guest="false")) == 4
    assert (await client.get(USERS, headers=admin.auth, params={"role": "king"})).status_code == 422


async def test_pagination_walks_every_user_once(
    client: httpx.AsyncClient, admin: Account, db: asyncpg.Connection
) -> None:
    for i in range(6):
        await db.execute(
            "INSERT INTO users (email, username, hashed_password) VALUES ($1, $2, 'x')", f"p{i}@example.com", f"p{i}"
        )
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = await client.get(USERS, headers=admin.auth, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 3
        seen += [u["id"] for u in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(set(seen))
    assert len(seen) == 7
    for bad in ("not-a-cursor!", encode_cursor(2**40), encode_cursor(1, 2)):
        r = await client.get(USERS, headers=admin.auth, params={"cursor": bad})
        assert r.status_code == 400, bad
        assert "cursor" in r.json()["detail"]
    assert (await client.get(USERS, headers=admin.auth, params={"limit": 101})).status_code == 422


async def test_user_detail_has_usage_counts(
    client: httpx.AsyncClient, admin: Account, mod: Account, member: Account, db: asyncpg.Connection
) -> None:
    r = await client.get(f"{USERS}/{member.id}", headers=admin.auth)
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["email"] == "member@example.com"
    assert fresh["usage"] == {
        "conversations": 0,
        "messages": 0,
        "feedback_given": 0,
        "faq_votes": 0,
        "total_tokens": 0,
        "last_activity_at": fresh["last_login_at"],
    }

    first = (await client.post("/api/v1/chat/send", headers=member.auth, json={"message": "hello"})).json()
    body = {"message": "again", "conversation_id": first["conversation_id"]}
    second = (await client.post("/api/v1/chat/send", headers=member.auth, json=body)).json()
    await client.post("/api/v1/chat/send", headers=member.auth, json={"message": "a new conversation"})
    url = f"/api/v1/messages/{second['message_id']}/feedback"
    assert (await client.post(url, headers=member.auth, json={"helpful": True})).status_code == 200
    faq = await client.post(
        "/api/v1/faqs",
        headers=mod.auth,
        json={"question": "How do I pay?", "answer": "By card.", "status": "published"},
    )
    assert faq.status_code == 201, faq.text
    vote = await client.post(f"/api/v1/faqs/{faq.json()['id']}/vote", headers=member.auth, json={"helpful": True})
    assert vote.status_code == 200, vote.text

    detail = (await client.get(f"{USERS}/{member.id}", headers=mod.auth)).json()
    usage = detail["usage"]
    row = await db.fetchrow(
        "SELECT sum(c.total_tokens), greatest(max(c.last_message_at), max(u.last_login)) "
        "FROM conversations c JOIN users u ON u.id = c.user_id WHERE c.user_id = $1",
        member.id,
    )
    assert row is not None
    tokens, last_activity = row
    assert usage["conversations"] == 2
    assert usage["messages"] == 6  # three questions and their three answers
    assert usage["feedback_given"] == 1
    assert usage["faq_votes"] == 1
    assert usage["total_tokens"] == tokens > 0
    assert datetime.fromisoformat(usage["last_activity_at"]) == last_activity
    # Someone else's activity is not theirs.
    other = (await client.get(f"{USERS}/{mod.id}", headers=admin.auth)).json()["usage"]
    assert (other["conversations"], other["messages"], other["faq_votes"]) == (0, 0, 0)


async def test_admin_changes_role_and_status(
    client: httpx.AsyncClient, admin: Account, member: Account, db: asyncpg.Connection
) -> None:
    r = await client.patch(f"{USERS}/{member.id}", headers=admin.auth, json={"role": "moderator"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "moderator"
    assert (await client.get(USERS, headers=member.auth)).status_code == 200  # a moderator now
    r = await client.patch(f"{USERS}/{member.id}", headers=admin.auth, json={"status": "suspended"})
    assert r.json()["status"] == "suspended"
    r = await client.get("/api/v1/users/me", headers=member.auth)
    assert r.status_code == 403
    # Their refresh token went with the suspension.
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": member.tokens["refresh_token"]})
    assert r.status_code in (401, 403)
    # Not on yourself, and guests get no staff role; bad values are a 422.
    r = await client.patch(f"{USERS}/{admin.id}", headers=admin.auth, json={"status": "suspended"})
    assert r.status_code == 400
    assert (await client.patch(f"{USERS}/{member.id}", headers=admin.auth, json={"role": "god"})).status_code == 422
    r = await client.patch(f"{USERS}/{member.id}", headers=admin.auth, json={"email": "x@example.com"})
    assert r.status_code == 422
    rows = await audit_rows(db, "admin.user_updated")
    assert [(r["actor_user_id"], r["target_id"], json.loads(r["details"])) for r in rows] == [
        (admin.id, str(member.id), {"role": "moderator"}),
        (admin.id, str(member.id), {"status": "suspended"}),
    ]


async def test_the_old_users_routes_keep_working(
    client: httpx.AsyncClient, admin: Account, mod: Account, member: Account, db: asyncpg.Connection
) -> None:
    r = await client.get("/api/v1/users", headers=mod.auth, params={"q": "member"})
    assert r.status_code == 200
    assert [u["email"] for u in r.json()["items"]] == ["member@example.com"]
    r = await client.patch(f"/api/v1/users/{member.id}", headers=admin.auth, json={"status": "inactive"})
    assert r.status_code == 200
    assert r.json()["status"] == "inactive"
    assert [r["actor_user_id"] for r in await audit_rows(db, "admin.users_listed")] == [mod.id]


async def test_guests_are_filtered(client: httpx.AsyncClient, admin: Account, db: asyncpg.Connection) -> None:
    await db.execute(
        "INSERT INTO users (email, username, hashed_password, is_guest) VALUES ('g@guest.invalid', 'guest-1', '', true)"
    )
    other = await account(client, db, "x@example.com")
    r = await client.get(USERS, headers=admin.auth, params={"guest": "true"})
    assert [(u["username"], u["is_guest"]) for u in r.json()["items"]] == [("guest-1", True)]
    r = await client.get(USERS, headers=admin.auth, params={"guest": "false"})
    assert [u["email"] for u in r.json()["items"]] == [admin.email, other.email]
