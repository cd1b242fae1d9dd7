"""Force logout and suspension from the administration API, on a real server: existing tokens
stop working and open chat WebSockets close at once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import websockets

from tests.admin.conftest import Account, account, audit_rows
from tests.chat.test_ws_limits import authenticated, closed, pong, socket_url
from tests.conftest import bearer, login


@pytest.fixture
async def http(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as client:
        yield client


async def test_force_logout_ends_every_login_and_closes_sockets(
    live_server: str, http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin = await account(http, db, "boss@example.com", "admin")
    member = await account(http, db, "member@example.com")
    phone = (await login(http, member.email)).json()  # a second login
    bystander = await account(http, db, "other@example.com")
    async with (
        authenticated(socket_url(live_server, member.id, member.tokens["access_token"])) as laptop_ws,
        authenticated(socket_url(live_server, member.id, phone["access_token"])) as phone_ws,
        authenticated(socket_url(live_server, bystander.id, bystander.tokens["access_token"])) as other_ws,
    ):
        r = await http.post(f"/api/v1/admin/users/{member.id}/logout", headers=admin.auth)
        assert r.status_code == 204, r.text
        for ws in (laptop_ws, phone_ws):
            assert await closed(ws) == (4401, "Signed out by an administrator")
        await pong(other_ws)

    for tokens in (member.tokens, phone):
        r = await http.get("/api/v1/users/me", headers=bearer(tokens))
        assert r.status_code == 401, r.text
        r = await http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 401, r.text
    # A new socket with an old token is refused too; the bystander's tokens still work.
    async with websockets.connect(socket_url(live_server, member.id, phone["access_token"]), proxy=None) as ws:
        assert await closed(ws) == (4401, "Token has been revoked; log in again")
    assert (await http.get("/api/v1/users/me", headers=bystander.auth)).status_code == 200
    # Not a suspension: they may sign in again.
    again = await login(http, member.email)
    assert again.status_code == 200
    assert (await http.get("/api/v1/users/me", headers=bearer(again.json()))).status_code == 200

    rows = await audit_rows(db, "admin.user_logged_out")
    assert [(r["actor_user_id"], r["target_type"], r["target_id"]) for r in rows] == [
        (admin.id, "user", str(member.id))
    ]
    assert json.loads(rows[0]["details"]) == {"logins": 2}
    assert "eyJ" not in (rows[0]["details"] or "")


async def test_suspension_from_the_admin_api_closes_sockets(
    live_server: str, http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    admin = await account(http, db, "boss@example.com", "admin")
    member = await account(http, db, "member@example.com")
    async with authenticated(socket_url(live_server, member.id, member.tokens["access_token"])) as ws:
        r = await http.patch(f"/api/v1/admin/users/{member.id}", headers=admin.auth, json={"status": "suspended"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "suspended"
        assert await closed(ws) == (4403, "This account is suspended. Contact an administrator.")
    r = await http.get("/api/v1/users/me", headers=member.auth)
    assert r.status_code == 403
    r = await login(http, member.email)
    assert r.status_code == 403
    # A role change alone leaves the sockets open.
    other: Account = await account(http, db, "other@example.com")
    async with authenticated(socket_url(live_server, other.id, other.tokens["access_token"])) as ws:
        r = await http.patch(f"/api/v1/admin/users/{other.id}", headers=admin.auth, json={"role": "moderator"})
        assert r.status_code == 200
        await pong(ws)
