"""GET /api/v1/admin/audit (administrators only, read-only), its filters and pagination, and the
audit entries that auth events and staff actions leave."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from helpline.core.cursors import encode_cursor
from tests.admin.conftest import Account, account, audit_rows
from tests.conftest import PASSWORD, bearer, login

AUDIT = "/api/v1/admin/audit"


async def entries(client: httpx.AsyncClient, who: Account, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(AUDIT, headers=who.auth, params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_only_administrators_read_the_audit_log(
    client: httpx.AsyncClient, admin: Account, mod: Account, member: Account
) -> None:
    assert (await client.get(AUDIT)).status_code == 401
    for caller in (mod, member):
        r = await client.get(AUDIT, headers=caller.auth)
        assert r.status_code == 403
        assert r.json()["error"] == "forbidden"
    r = await client.get(AUDIT, headers=admin.auth)
    assert r.status_code == 200
    entry = r.json()["items"][0]
    assert set(entry) == {
        "id", "created_at", "actor_user_id", "actor_pseudonym", "action", "target_type", "target_id",
        "ip_address", "user_agent", "request_id", "details", "note",
    }  # fmt: skip


async def test_nothing_changes_or_deletes_entries_through_the_api(
    client: httpx.AsyncClient, admin: Account, db: asyncpg.Connection
) -> None:
    before = await db.fetch("SELECT * FROM audit_log ORDER BY id")
    first = before[0]["id"]
    for method in ("PUT", "PATCH", "DELETE"):
        r = await client.request(method, AUDIT, headers=admin.auth, json={"action": "nothing.happened"})
        assert r.status_code == 405, (method, r.text)
        assert r.json()["error"] == "method_not_allowed"
        r = await client.request(method, f"{AUDIT}/{first}", headers=admin.auth, json={"note": "x"})
        assert r.status_code in (404, 405), (method, r.text)
    r = await client.post(AUDIT, headers=admin.auth, json={"action": "forged"})
    assert r.status_code == 405
    assert await db.fetch("SELECT * FROM audit_log ORDER BY id") == before


async def test_filters_and_pagination_newest_first(
    client: httpx.AsyncClient, admin: Account, member: Account, db: asyncpg.Connection
) -> None:
    await login(client, member.email, "wrong-password")
    await client.get(f"/api/v1/admin/users/{member.id}", headers=admin.auth)

    everything = await entries(client, admin, limit=200)
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True)
    # Pages of 2 walk the same entries (the reads themselves land after, so they are not in it).
    walked: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "until": "2999-01-01T00:00:00Z"}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(AUDIT, headers=admin.auth, params=params)
        body = r.json()
        walked += [e["id"] for e in body["items"] if e["id"] <= ids[0]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert walked == ids

    logins = await entries(client, admin, action="auth.login")
    assert {e["action"] for e in logins} == {"auth.login"}
    assert {e["actor_user_id"] for e in logins} == {admin.id, member.id}
    for prefix in ("auth.", "auth.*"):
        auth_events = await entries(client, admin, action=prefix)
        assert {e["action"] for e in auth_events} == {"auth.login", "auth.login_failed"}
    assert await entries(client, admin, action="auth") == []  # not a prefix: an exact action
    assert await entries(client, admin, action="auth%") == []

    mine = await entries(client, admin, actor_user_id=admin.id)
    assert mine
    assert {e["actor_user_id"] for e in mine} == {admin.id}
    about_member = await entries(client, admin, target_type="user", target_id=str(member.id))
    assert {e["action"] for e in about_member} >= {
        "user.registered",
        "auth.login",
        "auth.login_failed",
        "admin.user_viewed",
    }
    assert all(e["target_id"] == str(member.id) for e in about_member)

    now = datetime.now(UTC)
    assert await entries(client, admin, since=(now + timedelta(hours=1)).isoformat()) == []
    assert await entries(client, admin, until=(now - timedelta(hours=1)).isoformat()) == []
    naive = (now - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert len(await entries(client, admin, since=naive, limit=200)) >= len(ids)
    for bad in ("%%%", encode_cursor(2**70), encode_cursor("x")):
        r = await client.get(AUDIT, headers=admin.auth, params={"cursor": bad})
        assert r.status_code == 400, bad
    assert (await client.get(AUDIT, headers=admin.auth, params={"since": "yesterday"})).status_code == 422


async def test_auth_events_are_audited(client: httpx.AsyncClient, admin: Account, db: asyncpg.Connection) -> None:
    member = await account(client, db, "member@example.com")
    assert (await login(client, member.email, "Wrong-pass-1")).status_code == 401
    r = await login(client, "nobody@example.com", "Wrong-pass-1")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["detail"] == "Invalid email/username or password"

    failed = await audit_rows(db, "auth.login_failed")
    assert [(f["actor_user_id"], f["target_type"], f["target_id"], json.loads(f["details"])) for f in failed] == [
        (None, "user", str(member.id), {"known_account": True}),
        (None, None, None, {"known_account": False}),
    ]

    # Refresh-token reuse, then logout, then a password change.
    first = (await client.post("/api/v1/auth/refresh", json={"refresh_token": member.tokens["refresh_token"]})).json()
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": member.tokens["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["error"] == "refresh_token_reused"
    assert [x["actor_user_id"] for x in await audit_rows(db, "auth.refresh_reuse")] == [member.id]
    assert (await client.get("/api/v1/users/me", headers=bearer(first))).status_code == 401

    tokens = (await login(client, member.email)).json()
    r = await client.post(
        "/api/v1/auth/logout", headers=bearer(tokens), json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 204
    assert [x["actor_user_id"] for x in await audit_rows(db, "auth.logout")] == [member.id]

    tokens = (await login(client, member.email)).json()
    change = {"current_password": PASSWORD, "new_password": "An0ther-secret-pass"}
    assert (await client.post("/api/v1/users/me/password", headers=bearer(tokens), json=change)).status_code == 204
    assert [x["actor_user_id"] for x in await audit_rows(db, "user.password_changed")] == [member.id]

    # A suspended account's login is refused, and recorded as such.
    await client.patch(f"/api/v1/admin/users/{member.id}", headers=admin.auth, json={"status": "suspended"})
    r = await login(client, member.email, "An0ther-secret-pass")
    assert r.status_code == 403
    assert r.json()["detail"] == "This account is suspended. Contact an administrator."
    refused = await audit_rows(db, "auth.login_refused")
    assert [(x["actor_user_id"], json.loads(x["details"])) for x in refused] == [(member.id, {"status": "suspended"})]
    assert (
        len(await audit_rows(db, "auth.login")) == 5
    )  # the admin twice (before and after the role), the member 3 times


async def test_staff_reads_and_actions_are_audited(
    client: httpx.AsyncClient, admin: Account, mod: Account, member: Account, db: asyncpg.Connection
) -> None:
    await client.get("/api/v1/admin/users", headers=mod.auth, params={"q": "member@example.com", "role": "user"})
    await client.get(f"/api/v1/admin/users/{member.id}", headers=mod.auth)
    await client.get(AUDIT, headers=admin.auth, params={"action": "admin.", "target_id": str(member.id)})
    await client.patch(f"/api/v1/admin/users/{member.id}", headers=admin.auth, json={"role": "moderator"})
    await client.post(f"/api/v1/admin/users/{member.id}/logout", headers=admin.auth)
    await client.delete(f"/api/v1/admin/users/{member.id}", headers=admin.auth)

    listed = await audit_rows(db, "admin.users_listed")
    assert [(x["actor_user_id"], x["target_type"], json.loads(x["details"])) for x in listed] == [
        (mod.id, None, {"filters": ["q", "role"], "count": 1})
    ]
    viewed = await audit_rows(db, "admin.user_viewed")
    assert [(x["actor_user_id"], x["target_type"]) for x in viewed] == [(mod.id, "user")]
    assert viewed[0]["target_id"].startswith("erased:")  # the erasure pseudonymised its target
    read = await audit_rows(db, "admin.audit_read")
    assert [(x["actor_user_id"], json.loads(x["details"])["filters"]) for x in read] == [
        (admin.id, {"action": "admin.", "target_id": str(member.id)})
    ]
    for action in ("admin.user_updated", "admin.user_logged_out", "privacy.account_erased"):
        assert [x["actor_user_id"] for x in await audit_rows(db, action)] == [admin.id], action

    # No email address, password or token in any entry's details.
    for details in await db.fetchval("SELECT array_agg(coalesce(details::text, '')) FROM audit_log"):
        assert "@" not in details
        assert PASSWORD not in details
        assert "eyJ" not in details


async def test_times_are_iso_8601_not_numbers(client: httpx.AsyncClient, admin: Account) -> None:
    """A bare number is not read as seconds since 1970 (the document promises ISO 8601 only)."""
    for bad in ("0.5", "1733400000", "yesterday"):
        r = await client.get("/api/v1/admin/audit", params={"until": bad}, headers=admin.auth)
        assert r.status_code == 422, (bad, r.text)
    for good in ("2026-12-05", "2026-12-05T10:00:00Z", "2026-12-05T10:00:00+01:00"):
        r = await client.get("/api/v1/admin/audit", params={"since": good}, headers=admin.auth)
        assert r.status_code == 200, (good, r.text)
