from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from uuid import uuid4

import asyncpg
import httpx
import jwt
import pytest

from helpline.core.runtime import Runtime
from tests.conftest import PASSWORD, TEST_SECRET, bearer, login, register, signed_in


async def test_login_by_email_or_username_any_case(client: httpx.AsyncClient) -> None:
    assert (await register(client, "ada@example.com", username="Ada_L")).status_code == 202
    for ident in ("ada@example.com", "ADA@Example.com", "Ada_L", "ada_l"):
        r = await login(client, ident)
        assert r.status_code == 200, (ident, r.text)
    r = await client.post("/api/v1/auth/login", json={"username": "ada_l", "password": PASSWORD})
    assert r.status_code == 200


async def test_token_claims_are_the_spec_ones(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    assert tokens["token_type"] == "bearer"
    sids = set()
    for kind in ("access", "refresh"):
        claims = jwt.decode(tokens[f"{kind}_token"], TEST_SECRET, algorithms=["HS256"])
        # The spec's claims, plus jti and sid (the login both tokens belong to).
        assert set(claims) == {"sub", "email", "role", "type", "exp", "iat", "jti", "sid"}
        sids.add(claims["sid"])
        assert claims["type"] == kind
        assert claims["sub"] == str(tokens["user"]["id"])
        assert claims["email"] == "user@example.com"
        assert claims["role"] == "user"
    assert len(sids) == 1
    assert tokens["expires_in"] == 15 * 60


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    await register(client)
    wrong = await login(client, "user@example.com", "Wrong-password-1")
    unknown = await login(client, "nobody@example.com", "Wrong-password-1")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_refresh_rotates_and_reuse_revokes_family(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    tokens = await signed_in(client)
    first = tokens["refresh_token"]
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200
    second = r.json()["refresh_token"]
    assert second != first
    # The rotated token is presented again: theft. The whole family dies, the new one included.
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 401
    assert r.json()["error"] == "refresh_token_reused"
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": second})
    assert r.status_code == 401
    assert await db.fetchval("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL") == 0
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_reuse'") == 1


async def test_reuse_of_one_login_leaves_other_logins_alone(client: httpx.AsyncClient) -> None:
    laptop = await signed_in(client)
    phone = (await login(client)).json()
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    assert r.status_code == 200
    await client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert r.status_code == 200


async def test_logout_revokes_access_and_refresh(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 200
    r = await client.post(
        "/api/v1/auth/logout", headers=bearer(tokens), json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 204
    r = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401


async def test_logout_refuses_every_access_token_of_that_login(client: httpx.AsyncClient) -> None:
    """The attack: the login's earlier access tokens stayed valid up to 15 minutes after logout."""
    first = await signed_in(client)
    later = (await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    other_login = (await login(client)).json()
    r = await client.post("/api/v1/auth/logout", headers=bearer(later), json={"refresh_token": later["refresh_token"]})
    assert r.status_code == 204
    for tokens in (first, later):
        r = await client.get("/api/v1/users/me", headers=bearer(tokens))
        assert (r.status_code, r.json()["detail"]) == (401, "Token has been revoked; log in again")
        r = await client.post("/api/v1/chat/send", headers=bearer(tokens), json={"message": "hello"})
        assert r.status_code == 401
        r = await client.get("/api/v1/conversations", headers=bearer(tokens))
        assert r.status_code == 401
    # Another login of the same account is not signed out.
    assert (await client.get("/api/v1/users/me", headers=bearer(other_login))).status_code == 200
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": other_login["refresh_token"]})
    assert r.status_code == 200


async def test_logout_with_only_the_access_token_ends_the_whole_login(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    later = (await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    assert (await client.post("/api/v1/auth/logout", headers=bearer(tokens))).status_code == 204
    assert (await client.get("/api/v1/users/me", headers=bearer(later))).status_code == 401
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": later["refresh_token"]})
    assert r.status_code == 401


async def test_a_reused_refresh_token_signs_out_the_login_access_tokens_too(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    later = (await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.json()["error"] == "refresh_token_reused"
    for t in (tokens, later):
        assert (await client.get("/api/v1/users/me", headers=bearer(t))).status_code == 401


async def test_an_access_token_without_sid_is_still_revoked_by_its_jti(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = (await signed_in(client))["user"]
    old, _ = runtime.tokens.encode(
        user_id=user["id"], email=user["email"], role="user", type="access", ttl=timedelta(minutes=5), jti=uuid4()
    )  # issued before tokens carried sid
    assert (await client.get("/api/v1/users/me", headers=bearer(old))).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=bearer(old))).status_code == 204
    assert (await client.get("/api/v1/users/me", headers=bearer(old))).status_code == 401
    r = await client.post("/api/v1/chat/send", headers=bearer(old), json={"message": "hello"})
    assert r.status_code == 401


async def test_logout_with_only_refresh_token(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    r = await client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 401


async def test_logout_without_any_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/auth/logout")).status_code == 401


async def test_refresh_token_is_not_an_access_token_nor_the_reverse(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    r = await client.get("/api/v1/users/me", headers=bearer(tokens["refresh_token"]))
    assert r.status_code == 401
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert r.status_code == 401


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_tokens_are_rejected(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    claims = jwt.decode(tokens["access_token"], TEST_SECRET, algorithms=["HS256"])
    admin_claims = {**claims, "role": "admin", "sub": "1"}
    forged = [
        # alg: none
        _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(admin_claims) + ".",
        # signed with another key
        jwt.encode(admin_claims, "another-secret-another-secret-another", algorithm="HS256"),
        # another algorithm with our key
        jwt.encode(claims, TEST_SECRET, algorithm="HS512"),
        # payload tampered, signature kept
        ".".join([tokens["access_token"].split(".")[0], _b64(admin_claims), tokens["access_token"].split(".")[2]]),
        # a claim missing
        jwt.encode({k: v for k, v in claims.items() if k != "jti"}, TEST_SECRET, algorithm="HS256"),
        # expired
        jwt.encode({**claims, "exp": int(time.time()) - 10}, TEST_SECRET, algorithm="HS256"),
        "not-a-jwt",
        "",
    ]
    for token in forged:
        r = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
        assert r.json()["error"] == "unauthorized"
    r = await client.get("/api/v1/users/me", headers={"Authorization": f"Basic {tokens['access_token']}"})
    assert r.status_code == 401


async def test_expired_token_message(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tokens = await signed_in(client)
    token, _ = runtime.tokens.encode(
        user_id=tokens["user"]["id"], email="user@example.com", role="user", type="access",
        ttl=timedelta(seconds=-5), jti=uuid4(),
    )  # fmt: skip
    r = await client.get("/api/v1/users/me", headers=bearer(token))
    assert r.status_code == 401
    assert r.json()["detail"] == "Token has expired"


@pytest.mark.parametrize("status", ["suspended", "inactive"])
async def test_non_active_user_is_refused_everywhere(
    client: httpx.AsyncClient, db: asyncpg.Connection, status: str
) -> None:
    tokens = await signed_in(client)
    await db.execute("UPDATE users SET status = $1 WHERE email = 'user@example.com'", status)
    r = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert r.status_code == 403
    assert status in r.json()["detail"]
    assert (await login(client)).status_code == 403
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 403


async def test_deleted_user_token_is_refused(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    tokens = await signed_in(client)
    await db.execute("DELETE FROM users")
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"password": "x"},
        {"login": "", "password": "x"},
        {"login": "a", "password": ""},
        {"login": 5, "password": "x"},
    ],
)
async def test_login_bad_input(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    r = await client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 422


async def test_login_rehashes_a_password_stored_at_another_cost(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    await register(client)
    import bcrypt

    old = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(5)).decode()
    await db.execute("UPDATE users SET hashed_password = $1", old)
    assert (await login(client)).status_code == 200
    stored = await db.fetchval("SELECT hashed_password FROM users")
    assert stored.startswith("$2b$04$")
    assert (await login(client)).status_code == 200
