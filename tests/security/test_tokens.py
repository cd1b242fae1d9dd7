"""Bad tokens (issue #17) on every way in: the three ways REST routes check a caller (the account
loaded per request, the chat caller read on a short connection, the chat turn that checks the
account as it stores the message), optional sign-in (a bad token is a 401, never "anonymous"),
token refresh, and the chat WebSocket (``?token=`` and the first ``auth`` frame).

Already covered elsewhere, not repeated here: forged tokens and wrong types on /users/me
(tests/auth/test_tokens.py: test_forged_tokens_are_rejected, test_refresh_token_is_not_an_access_token_nor_the_reverse,
test_non_active_user_is_refused_everywhere, test_deleted_user_token_is_refused), a reused refresh
token revoking its family (test_refresh_rotates_and_reuse_revokes_family), and open sockets
closed by logout, password change, suspension, erasure and token expiry
(tests/chat/test_ws_limits.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from helpline.core.runtime import Runtime
from tests.chat.test_ws_limits import authenticated, closed, socket_url
from tests.conftest import PASSWORD, bearer, login, signed_in


@pytest.fixture
async def http(live_server: str) -> Any:
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as client:
        yield client


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


@pytest.fixture
async def victim(http: httpx.AsyncClient) -> dict[str, Any]:
    return await signed_in(http)


# Each case: what makes the victim's token bad; the token to use; the REST status and WS close code.
Case = Callable[[httpx.AsyncClient, asyncpg.Connection, Runtime, dict[str, Any]], Awaitable[str]]


async def expired(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    c = _claims(t["access_token"])
    token, _ = runtime.tokens.encode(
        user_id=int(c["sub"]), email=c["email"], role=c["role"], type="access",
        ttl=timedelta(seconds=-5), jti=uuid.uuid4(), sid=uuid.UUID(c["sid"]),
    )  # fmt: skip
    return token


async def tampered(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    head, _, signature = t["access_token"].split(".")
    return ".".join([head, _b64({**_claims(t["access_token"]), "role": "admin"}), signature])


async def bad_signature(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    head, payload, signature = t["access_token"].split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return ".".join([head, payload, flipped])


async def alg_none(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    return _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims(t["access_token"])) + "."


async def other_key(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    return jwt.encode(_claims(t["access_token"]), "another-secret-another-secret-another", algorithm="HS256")


async def refresh_as_access(
    http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]
) -> str:
    return str(t["refresh_token"])


async def logged_out(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    r = await http.post("/api/v1/auth/logout", headers=bearer(t))
    assert r.status_code == 204, r.text
    return str(t["access_token"])


async def refresh_reused(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    assert (await http.post("/api/v1/auth/refresh", json={"refresh_token": t["refresh_token"]})).status_code == 200
    r = await http.post("/api/v1/auth/refresh", json={"refresh_token": t["refresh_token"]})
    assert r.status_code == 401, r.text
    return str(t["access_token"])


async def deleted(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    await db.execute("DELETE FROM users WHERE id = $1", t["user"]["id"])
    return str(t["access_token"])


async def erased(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    r = await http.request("DELETE", "/api/v1/users/me", headers=bearer(t), json={"current_password": PASSWORD})
    assert r.status_code == 204, r.text
    return str(t["access_token"])


async def suspended(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    await db.execute("UPDATE users SET status = 'suspended' WHERE id = $1", t["user"]["id"])
    return str(t["access_token"])


async def password_changed(http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, t: dict[str, Any]) -> str:
    body = {"current_password": PASSWORD, "new_password": "An0ther-secret-pass"}
    r = await http.post("/api/v1/users/me/password", headers=bearer(t), json=body)
    assert r.status_code == 204, r.text
    return str(t["access_token"])


CASES: dict[str, tuple[Case, int, int]] = {
    "expired": (expired, 401, 4401),
    "tampered_payload": (tampered, 401, 4401),
    "bad_signature": (bad_signature, 401, 4401),
    "alg_none": (alg_none, 401, 4401),
    "another_key": (other_key, 401, 4401),
    "refresh_as_access": (refresh_as_access, 401, 4401),
    "logged_out": (logged_out, 401, 4401),
    "refresh_reused": (refresh_reused, 401, 4401),
    "deleted_user": (deleted, 401, 4401),
    "erased_user": (erased, 401, 4401),
    "suspended_user": (suspended, 403, 4403),
    "password_changed": (password_changed, 401, 4401),
}

# One route per way a REST route checks its caller.
REST: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/users/me", None),  # the account, loaded with the request's session
    ("POST", "/api/v1/chat/messages/1/stop", None),  # the chat caller, on a connection of its own
    ("POST", "/api/v1/chat/send", {"message": "Hello"}),  # the turn checks the account as it stores
    ("POST", "/api/v1/chat/stream", {"message": "Hello"}),
    ("GET", "/api/v1/faqs", None),  # optional sign-in: a bad token is not "anonymous"
    ("GET", "/api/v1/faqs/search?q=password", None),
]


async def refused_socket(url: str, first_frame: str | None) -> int:
    """The close code of a socket opened with ``url`` (and a first frame), after a ping."""
    try:
        async with websockets.connect(url) as ws:
            if first_frame is not None:
                await ws.send(first_frame)
            await ws.send(json.dumps({"type": "ping"}))
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else 1006  # 1006: no close frame
    return 101  # accepted: it answered the ping


@pytest.mark.parametrize("name", list(CASES))
async def test_a_bad_access_token_is_refused_on_every_way_in(
    name: str,
    http: httpx.AsyncClient,
    live_server: str,
    db: asyncpg.Connection,
    runtime: Runtime,
    victim: dict[str, Any],
) -> None:
    make, status, close_code = CASES[name]
    token = await make(http, db, runtime, victim)
    for method, path, body in REST:
        r = await http.request(method, path, headers=bearer(token), json=body)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        assert set(r.json()) == {"error", "detail", "request_id"}, r.text
    uid = victim["user"]["id"]
    assert await refused_socket(socket_url(live_server, uid, token), None) == close_code
    frame = json.dumps({"type": "auth", "token": token})
    assert await refused_socket(socket_url(live_server, uid), frame) == close_code


@pytest.mark.parametrize(
    "name",
    [
        "expired",
        "access_as_refresh",
        "alg_none",
        "logged_out",
        "deleted_user",
        "erased_user",
        "password_changed",
        "suspended_user",
    ],
)
async def test_a_bad_refresh_token_gets_no_new_tokens(
    name: str, http: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime, victim: dict[str, Any]
) -> None:
    token = str(victim["refresh_token"])
    c = _claims(token)
    expected = 401
    if name == "expired":
        token, _ = runtime.tokens.encode(
            user_id=int(c["sub"]), email=c["email"], role=c["role"], type="refresh",
            ttl=timedelta(seconds=-5), jti=uuid.UUID(c["jti"]), sid=uuid.UUID(c["sid"]),
        )  # fmt: skip
    elif name == "access_as_refresh":
        token = str(victim["access_token"])
    elif name == "alg_none":
        token = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(c) + "."
    elif name == "suspended_user":
        await suspended(http, db, runtime, victim)
        expected = 403
    else:
        await {"logged_out": logged_out, "deleted_user": deleted, "erased_user": erased}.get(name, password_changed)(
            http, db, runtime, victim
        )
    r = await http.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert r.status_code == expected, r.text
    assert "access_token" not in r.json()


async def test_a_reused_refresh_token_closes_that_logins_sockets_only(
    http: httpx.AsyncClient, live_server: str, victim: dict[str, Any]
) -> None:
    """Regression (issue #18): the family was revoked but the login's open sockets stayed open."""
    uid = victim["user"]["id"]
    other_login = (await login(http)).json()
    async with (
        authenticated(socket_url(live_server, uid, victim["access_token"])) as stolen,
        authenticated(socket_url(live_server, uid, other_login["access_token"])) as elsewhere,
    ):
        assert (
            await http.post("/api/v1/auth/refresh", json={"refresh_token": victim["refresh_token"]})
        ).status_code == 200
        r = await http.post("/api/v1/auth/refresh", json={"refresh_token": victim["refresh_token"]})
        assert r.status_code == 401
        assert r.json()["error"] == "refresh_token_reused"
        assert await closed(stolen) == (4401, "Refresh token reused: this login was signed out")
        await elsewhere.send(json.dumps({"type": "ping"}))
        assert json.loads(await elsewhere.recv()) == {"type": "pong"}


async def test_a_socket_cannot_switch_to_a_bad_token(
    http: httpx.AsyncClient, live_server: str, runtime: Runtime, db: asyncpg.Connection, victim: dict[str, Any]
) -> None:
    """A re-auth frame with a bad token on an open socket changes nothing (error frame)."""
    uid = victim["user"]["id"]
    async with authenticated(socket_url(live_server, uid, victim["access_token"])) as ws:
        for name in ("expired", "tampered_payload", "alg_none", "refresh_as_access"):
            make = CASES[name][0]
            await ws.send(json.dumps({"type": "auth", "token": await make(http, db, runtime, victim)}))
            reply = json.loads(await ws.recv())
            assert (reply["type"], reply["code"]) == ("error", "unauthorized"), name
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}


async def test_every_token_of_a_guest_stops_working_when_the_guest_registers(http: httpx.AsyncClient) -> None:
    """Also the guest's access tokens from the very second of the registration (their ``iat``
    is not before it), not only the one presented."""
    r = await http.post("/api/v1/auth/guest", json={})
    assert r.status_code == 201, r.text
    guest = r.json()
    r = await http.post("/api/v1/auth/refresh", json={"refresh_token": guest["refresh_token"]})
    assert r.status_code == 200, r.text
    refreshed = r.json()
    body = {"email": "was-a-guest@example.com", "password": PASSWORD, "data_processing_consent": True}
    r = await http.post("/api/v1/auth/register", headers=bearer(guest), json=body)
    assert r.status_code == 202, r.text
    for token in (guest["access_token"], refreshed["access_token"]):
        assert (await http.get("/api/v1/users/me", headers=bearer(token))).status_code == 401
    r = await http.post("/api/v1/auth/refresh", json={"refresh_token": refreshed["refresh_token"]})
    assert r.status_code == 401
    assert (await login(http, "was-a-guest@example.com")).status_code == 200


async def test_a_demoted_administrators_token_loses_its_powers_at_once(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The role is read from the account on every request, never from the token's claim."""
    boss = await signed_in(http, "boss@example.com")
    await db.execute("UPDATE users SET role = 'admin' WHERE email = 'boss@example.com'")
    admin = (await login(http, "boss@example.com")).json()
    assert _claims(admin["access_token"])["role"] == "admin"
    assert (await http.get("/api/v1/users", headers=bearer(admin))).status_code == 200
    await db.execute("UPDATE users SET role = 'user' WHERE email = 'boss@example.com'")
    assert (await http.get("/api/v1/users", headers=bearer(admin))).status_code == 403
    r = await http.post("/api/v1/faqs", headers=bearer(admin), json={"question": "Who am I?", "answer": "A user."})
    assert r.status_code == 403
    assert boss["user"]["role"] == "user"
