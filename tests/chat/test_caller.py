"""The chat endpoints' own user check (load_caller): the same answers as every other endpoint's."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from helpline.auth.access import load_caller
from helpline.core.identity import Caller
from helpline.core.runtime import Runtime
from helpline.models import UserRole
from tests.conftest import bearer, signed_in, sql_statements

# How each case is brought about, after the token was issued and used once.
SPOIL = {
    "account_gone": "DELETE FROM users WHERE id = $1",
    "password_changed": "UPDATE users SET password_changed_at = now() + interval '1 minute' WHERE id = $1",
    "suspended": "UPDATE users SET status = 'suspended' WHERE id = $1",
    "inactive": "UPDATE users SET status = 'inactive' WHERE id = $1",
}
EXPECTED = {
    "account_gone": (401, "This account no longer exists"),
    "revoked": (401, "Token has been revoked; log in again"),
    # Logged out with a later access token of the same login (after a refresh): this one too.
    "login_ended": (401, "Token has been revoked; log in again"),
    "password_changed": (401, "Password changed since this token was issued; log in again"),
    "suspended": (403, "This account is suspended. Contact an administrator."),
    "inactive": (403, "This account is inactive."),
}


async def spoil(case: str, client: httpx.AsyncClient, db: asyncpg.Connection, tokens: dict[str, Any]) -> None:
    if case == "revoked":
        r = await client.post(
            "/api/v1/auth/logout", headers=bearer(tokens), json={"refresh_token": tokens["refresh_token"]}
        )
        assert r.status_code == 204
    elif case == "login_ended":
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 200
        r = await client.post("/api/v1/auth/logout", headers=bearer(r.json()))
        assert r.status_code == 204
    else:
        await db.execute(SPOIL[case], tokens["user"]["id"])


def answer(r: httpx.Response) -> tuple[int, str, str]:
    body = r.json()
    return r.status_code, body["error"], body["detail"]


@pytest.mark.parametrize("case", list(EXPECTED))
async def test_chat_refuses_a_caller_as_every_endpoint_does(
    case: str, client: httpx.AsyncClient, db: asyncpg.Connection, live_server: str
) -> None:
    tokens = await signed_in(client)
    auth, uid = bearer(tokens), tokens["user"]["id"]
    first = await client.post("/api/v1/chat/send", headers=auth, json={"message": "hello"})
    assert first.status_code == 200
    conversation = first.json()["conversation_id"]
    url = f"ws://{live_server}/api/v1/chat/ws/{uid}?token={tokens['access_token']}"
    async with websockets.connect(url, proxy=None) as ws:  # opened while the account was fine
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}  # past its own check on connecting
        await spoil(case, client, db, tokens)
        stored = (
            await db.fetchval("SELECT count(*) FROM messages"),
            await db.fetchval("SELECT count(*) FROM conversations"),
        )

        status, detail = EXPECTED[case]
        error = "unauthorized" if status == 401 else "forbidden"
        me = await client.get("/api/v1/users/me", headers=auth)  # the full-user check (load_user)
        assert answer(me) == (status, error, detail)
        for path, body in [
            ("/api/v1/chat/send", {"message": "again", "conversation_id": conversation}),
            ("/api/v1/chat/send", {"message": "a new conversation"}),
            ("/api/v1/chat/stream", {"message": "again", "conversation_id": conversation}),
            (f"/api/v1/chat/messages/{first.json()['message_id']}/retry", None),
        ]:
            r = await client.post(path, headers=auth, json=body)
            assert answer(r) == answer(me), path

        if case in ("revoked", "login_ended"):  # the logout itself closed the login's sockets
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "Signed out")
        else:  # a message on the open socket: an error frame, then the socket is closed
            await ws.send(json.dumps({"type": "message", "content": "again", "conversation_id": conversation}))
            frame = json.loads(await ws.recv())
            assert (frame["type"], frame["code"], frame["detail"]) == ("error", error, detail)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401 if status == 401 else 4403, detail)
    # None of it was stored: a turn checks the account before it commits.
    after = await db.fetchval("SELECT count(*) FROM messages"), await db.fetchval("SELECT count(*) FROM conversations")
    assert after == stored

    async with websockets.connect(url, proxy=None) as ws:  # the socket checks the caller on connecting
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4401 if status == 401 else 4403, detail)


async def test_load_caller_is_one_statement(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tokens = await signed_in(client)
    claims = runtime.tokens.decode(tokens["access_token"], "access")
    with sql_statements(runtime, this_task=True) as statements:  # not the app's jobs meanwhile
        caller = await load_caller(runtime, claims)
    assert caller == Caller(id=tokens["user"]["id"], language="en", role=UserRole.user)
    assert len(statements) == 1, statements


@pytest.mark.parametrize("offset_s", [-1.0, 0.0, 0.5, 1.0])
async def test_a_turn_and_every_endpoint_agree_on_a_password_change_near_the_token(
    offset_s: float, client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    # The turn's statement checks the account in SQL (chat/repository._CALLER), every other
    # endpoint in Python (check_access): at the second's boundary too, the answers are the same.
    tokens = await signed_in(client)
    auth = bearer(tokens)
    iat = runtime.tokens.decode(tokens["access_token"], "access").iat
    await db.execute(
        "UPDATE users SET password_changed_at = CAST($2 AS timestamptz) + make_interval(secs => $3) WHERE id = $1",
        tokens["user"]["id"],
        iat,
        offset_s,
    )
    me = await client.get("/api/v1/users/me", headers=auth)
    before = await db.fetchval("SELECT count(*) FROM messages")
    r = await client.post("/api/v1/chat/send", headers=auth, json={"message": "still me?"})
    assert r.status_code == me.status_code == (401 if offset_s >= 1 else 200)
    assert await db.fetchval("SELECT count(*) FROM messages") == before + (2 if r.status_code == 200 else 0)
