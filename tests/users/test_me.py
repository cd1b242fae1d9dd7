from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.conftest import PASSWORD, bearer, login, make_admin, register, signed_in


async def test_patch_me_updates_profile(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    tokens = await signed_in(client)
    r = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"first_name": "Grace", "language": "fr", "timezone": "Europe/Paris", "marketing_consent": True},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["first_name"], body["language"], body["timezone"]) == ("Grace", "fr", "Europe/Paris")
    assert body["marketing_consent"] is True
    rows = await db.fetch(
        "SELECT granted FROM consent_records WHERE consent_type = 'marketing' ORDER BY created_at, id"
    )
    assert [r["granted"] for r in rows] == [False, True]


@pytest.mark.parametrize(
    "body",
    [
        {"language": "klingon"},
        {"timezone": "Nowhere/Land"},
        {"avatar_url": "javascript:alert(1)"},
        {"role": "admin"},
        {"status": "active"},
        {"email": "new@example.com"},
        {"username": "no spaces"},
        {"language": None},
        {"marketing_consent": None},
    ],
)
async def test_patch_me_bad_input_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, body: dict[str, object]
) -> None:
    tokens = await signed_in(client)
    before = await db.fetchrow("SELECT * FROM users")
    r = await client.patch("/api/v1/users/me", headers=bearer(tokens), json=body)
    assert r.status_code in (400, 422), r.text
    assert set(r.json()) >= {"error", "detail", "request_id"}
    assert await db.fetchrow("SELECT * FROM users") == before


async def test_change_email_needs_the_password(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    r = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"email": "moved@example.com", "current_password": "Wrong-password-1"},
    )
    assert r.status_code == 403
    r = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"email": "Moved@Example.com", "current_password": PASSWORD},
    )
    assert r.status_code == 200
    assert r.json()["email"] == "moved@example.com"
    assert (await login(client, "moved@example.com")).status_code == 200


async def test_username_taken_is_409(client: httpx.AsyncClient) -> None:
    await register(client, "other@example.com", username="taken_name")
    tokens = await signed_in(client)
    r = await client.patch("/api/v1/users/me", headers=bearer(tokens), json={"username": "TAKEN_name"})
    assert r.status_code == 409


async def test_password_change_signs_out_everywhere(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    other = (await login(client)).json()
    r = await client.post(
        "/api/v1/users/me/password",
        headers=bearer(tokens),
        json={"current_password": PASSWORD, "new_password": "An0ther-long-pass"},
    )
    assert r.status_code == 204
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert r.status_code == 401
    assert (await login(client)).status_code == 401
    assert (await login(client, password="An0ther-long-pass")).status_code == 200


async def test_password_change_checks_current_and_policy(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    r = await client.post(
        "/api/v1/users/me/password",
        headers=bearer(tokens),
        json={"current_password": "Wrong-password-1", "new_password": "An0ther-long-pass"},
    )
    assert r.status_code == 403
    r = await client.post(
        "/api/v1/users/me/password",
        headers=bearer(tokens),
        json={"current_password": PASSWORD, "new_password": "abc"},
    )
    assert r.status_code == 422


async def test_me_needs_a_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/users/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


async def test_user_listing_is_staff_only(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await signed_in(client, "plain@example.com")
    assert (await client.get("/api/v1/users", headers=bearer(user))).status_code == 403
    await db.execute("UPDATE users SET role = 'moderator' WHERE email = 'plain@example.com'")
    r = await client.get("/api/v1/users", headers=bearer(user), params={"q": "PLAIN", "limit": 1})
    assert r.status_code == 200
    assert [u["email"] for u in r.json()["items"]] == ["plain@example.com"]
    # moderators cannot change roles
    r = await client.patch(f"/api/v1/users/{user['user']['id']}", headers=bearer(user), json={"role": "admin"})
    assert r.status_code == 403


async def test_user_listing_paginates_with_a_cursor(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    admin = await signed_in(client, "boss@example.com")
    await make_admin(db, "boss@example.com")
    for i in range(4):
        await register(client, f"u{i}@example.com")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor is not None else {})}
        page = (await client.get("/api/v1/users", headers=bearer(admin), params=params)).json()
        seen += [u["email"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    # The cursor is the opaque one of every list (core.cursors): anything else is a 400 saying so.
    r = await client.get("/api/v1/users", headers=bearer(admin), params={"cursor": "3"})
    assert r.status_code == 400
    assert "cursor" in r.json()["detail"]


async def test_admin_suspends_a_user(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    admin = await signed_in(client, "boss@example.com")
    await make_admin(db, "boss@example.com")
    victim = await signed_in(client, "victim@example.com")
    vid = victim["user"]["id"]
    r = await client.patch(f"/api/v1/users/{vid}", headers=bearer(admin), json={"status": "suspended"})
    assert r.status_code == 200
    assert r.json()["status"] == "suspended"
    assert (await client.get("/api/v1/users/me", headers=bearer(victim))).status_code == 403
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": victim["refresh_token"]})
    assert r.status_code == 401
    row = await db.fetchrow("SELECT actor_user_id, target_id FROM audit_log WHERE action = 'admin.user_updated'")
    assert row is not None
    assert (row["actor_user_id"], row["target_id"]) == (admin["user"]["id"], str(vid))
    r = await client.patch(f"/api/v1/users/{admin['user']['id']}", headers=bearer(admin), json={"role": "user"})
    assert r.status_code == 400
    assert (await client.patch("/api/v1/users/999999", headers=bearer(admin), json={"role": "user"})).status_code == 404
    r = await client.patch(f"/api/v1/users/{vid}", headers=bearer(admin), json={"role": "superuser"})
    assert r.status_code == 422


async def test_a_bad_field_is_named_plainly(client: httpx.AsyncClient) -> None:
    """One error per bad field, named as sent: the web app shows "Username: …" (fields that may be
    left out but not sent as null once reported pydantic's union tags and an "Input should be
    None" beside the real message)."""
    tokens = await signed_in(client)
    r = await client.patch("/api/v1/users/me", headers=bearer(tokens), json={"username": "x", "timezone": "Mars/Base"})
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["username", "timezone"]
    assert "must be 3-50 characters" in errors[0]["message"]
    assert not any("None" in e["message"] for e in errors)
