from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager

from helpline.auth.dependencies import DEVICE_COOKIE
from helpline.core.config import AuthSettings, RedisSettings, Settings
from helpline.core.runtime import Runtime
from helpline.main import create_app
from tests.conftest import PASSWORD, REDIS_URL, TEST_SECRET, bearer, login, make_settings, register, serve_app

LIMITED = AuthSettings(
    secret_key=TEST_SECRET, bcrypt_rounds=4, login_max_failures_per_account=3, login_max_failures_per_ip=6
)


@pytest.fixture(params=["memory", "redis"])
async def throttled_client(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    redis = RedisSettings()
    if request.param == "redis":
        redis = RedisSettings(url=REDIS_URL)
        r = aioredis.Redis.from_url(REDIS_URL)
        await r.flushdb()
        await r.aclose()
    async with serve_app(make_settings(database_url, tmp_path, auth=LIMITED, redis=redis), database_url) as c:
        yield c


async def test_account_is_locked_after_repeated_failures(throttled_client: httpx.AsyncClient) -> None:
    client = throttled_client
    await register(client)
    for _ in range(3):
        assert (await login(client, password="Wrong-password-1")).status_code == 401
    r = await login(client)  # even the right password waits out the lockout
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert "Try again" in r.json()["detail"]


async def test_lockout_does_not_reveal_whether_the_account_exists(
    throttled_client: httpx.AsyncClient,
) -> None:
    client = throttled_client
    for _ in range(3):
        assert (await login(client, "ghost@example.com", "Wrong-password-1")).status_code == 401
    assert (await login(client, "ghost@example.com", "Wrong-password-1")).status_code == 429


async def test_success_resets_the_account_counter(throttled_client: httpx.AsyncClient) -> None:
    client = throttled_client
    await register(client)
    for _ in range(2):
        await login(client, password="Wrong-password-1")
    assert (await login(client)).status_code == 200
    for _ in range(2):
        assert (await login(client, password="Wrong-password-1")).status_code == 401
    assert (await login(client)).status_code == 200


async def test_one_address_guessing_many_accounts_is_slowed(throttled_client: httpx.AsyncClient) -> None:
    client = throttled_client
    for i in range(6):
        assert (await login(client, f"u{i}@example.com", "Wrong-password-1")).status_code == 401
    assert (await login(client, "u99@example.com", "Wrong-password-1")).status_code == 429


async def test_redis_down_gives_a_clear_503(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, auth=LIMITED, redis=RedisSettings(url="redis://127.0.0.1:1/0"))
    async with serve_app(settings, database_url) as c:
        r = await login(c)
        assert r.status_code == 503
        assert "rate-limit store" in r.json()["detail"]
        r = await c.get("/health/ready")
        assert r.status_code == 503
        assert r.json()["checks"]["redis"].startswith("unhealthy")
        assert r.json()["checks"]["database"] == "healthy"


# --- Device cookies: the owner is never locked out by someone else's failures -----------------

Clients = Callable[..., httpx.AsyncClient]


@asynccontextmanager
async def app_clients(settings: Settings, database_url: str) -> AsyncIterator[Clients]:
    """An app on ``settings``; yields a factory of clients, each from its own address and with its
    own cookie jar (a browser): ``client_from(ip, scheme="http")``."""
    from tests.chat.fakes import FakeProvider, KeywordModerator

    runtime = Runtime.build(settings, database_url, llm=FakeProvider(), moderator=KeywordModerator())
    app = create_app(runtime=runtime)
    clients: list[httpx.AsyncClient] = []

    def client_from(ip: str, scheme: str = "http") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url=f"{scheme}://helpline.test"))
        return clients[-1]

    try:
        async with LifespanManager(app):
            yield client_from
    finally:
        for c in clients:
            await c.aclose()
        await runtime.close()


@pytest.fixture(params=["memory", "redis"])
async def clients(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> AsyncIterator[Clients]:
    redis = RedisSettings()
    if request.param == "redis":
        redis = RedisSettings(url=REDIS_URL)
        r = aioredis.Redis.from_url(REDIS_URL)
        await r.flushdb()
        await r.aclose()
    async with app_clients(make_settings(database_url, tmp_path, auth=LIMITED, redis=redis), database_url) as c:
        yield c


WRONG = "Wrong-password-1"


async def test_attacker_locks_the_account_once_whatever_identifier_but_not_its_owner(clients: Clients) -> None:
    owner = clients("198.51.100.10")  # the owner's browser, which signed in before
    assert (await register(owner, "victim@example.com", username="victim")).status_code == 202
    assert (await login(owner, "victim@example.com")).status_code == 200
    assert owner.cookies.get(DEVICE_COOKIE)

    # The attack: 3 guesses (the limit), email and username forms mixed, count on one account.
    attacker = clients("203.0.113.66")
    for ident in ("victim@example.com", "VICTIM", "victim"):
        assert (await login(attacker, ident, WRONG)).status_code == 401
    for ident in ("victim@example.com", "victim"):
        r = await login(attacker, ident)  # even the right password
        assert r.status_code == 429, ident
        assert int(r.headers["retry-after"]) > 0

    # The owner's browser presents its device cookie: not locked out.
    r = await login(owner, "victim")
    assert r.status_code == 200, r.text
    # The owner somewhere new, without the cookie, is an untrusted client like any other.
    assert (await login(clients("192.0.2.5"), "victim@example.com")).status_code == 429


async def test_a_device_cookie_is_limited_on_its_own_and_then_trusted_no_more(clients: Clients) -> None:
    owner = clients("198.51.100.10")
    await register(owner, "owner@example.com")
    assert (await login(owner, "owner@example.com")).status_code == 200
    for _ in range(3):  # guesses through a device cookie count on that cookie, not the account
        assert (await login(owner, "owner@example.com", WRONG)).status_code == 401
    assert (await login(clients("192.0.2.5"), "owner@example.com")).status_code == 200
    # Its window full, the cookie is no better than none: 3 more failures lock the account.
    for _ in range(3):
        assert (await login(owner, "owner@example.com", WRONG)).status_code == 401
    assert (await login(owner, "owner@example.com")).status_code == 429


async def test_a_device_cookie_of_another_account_or_forged_earns_nothing(clients: Clients) -> None:
    attacker = clients("203.0.113.66")
    await register(attacker, "victim@example.com")
    await register(attacker, "mallory@example.com")
    assert (await login(attacker, "mallory@example.com")).status_code == 200  # a cookie of their own
    own = attacker.cookies[DEVICE_COOKIE]
    for _ in range(3):
        assert (await login(attacker, "victim@example.com", WRONG)).status_code == 401
    assert (await login(attacker, "victim@example.com")).status_code == 429

    forger = clients("203.0.113.67")
    header, payload, _ = own.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "1"}).encode()).rstrip(b"=").decode()
    for cookie in (f"{header}.{forged}.{own.split('.')[2]}", "garbage", own):
        forger.cookies.set(DEVICE_COOKIE, cookie, domain="helpline.test", path="/api/v1/auth")
        assert (await login(forger, "victim@example.com")).status_code == 429


async def test_unknown_and_known_accounts_lock_out_alike(clients: Clients) -> None:
    setup = clients("198.51.100.1")
    await register(setup, "real@example.com")
    answers = []
    for ident in ("real@example.com", "ghost@example.com"):
        attacker = clients("203.0.113.66" if ident.startswith("real") else "203.0.113.67")
        seen = []
        for _ in range(4):
            r = await login(attacker, ident, WRONG)
            seen.append((r.status_code, r.json()["error"], r.json()["detail"], "retry-after" in r.headers))
        answers.append(seen)
    assert answers[0] == answers[1]
    assert [s[0] for s in answers[0]] == [401, 401, 401, 429]


async def test_the_device_cookie_is_httponly_strict_and_only_for_auth(clients: Clients) -> None:
    for scheme, secure in (("http", False), ("https", True)):
        c = clients("198.51.100.1", scheme)
        await register(c, f"{scheme}@example.com")
        r = await login(c, f"{scheme}@example.com")
        cookie = SimpleCookie(r.headers["set-cookie"])[DEVICE_COOKIE]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "strict"
        assert cookie["path"] == "/api/v1/auth"
        assert bool(cookie["secure"]) is secure
        assert int(cookie["max-age"]) == 180 * 86400
        # Signed with the secret key, binding the account and a random nonce.
        claims = jwt.decode(cookie.value, TEST_SECRET, algorithms=["HS256"], audience="helpline:device")
        assert claims["sub"] == str(r.json()["user"]["id"])
        assert len(claims["nonce"]) >= 16
        # Never an access token.
        me = await c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {cookie.value}"})
        assert me.status_code == 401


# --- Guessing the current password of a signed-in account ------------------------------------


async def test_current_password_guesses_count_on_the_login_lockout(clients: Clients) -> None:
    """The attack: 60 guesses at POST /users/me/password in 6 s with a stolen access token."""
    thief = clients("203.0.113.66")
    await register(thief, "victim@example.com")
    auth = bearer((await login(clients("198.51.100.1"), "victim@example.com")).json())
    for _ in range(2):
        r = await thief.post(
            "/api/v1/users/me/password", headers=auth, json={"current_password": WRONG, "new_password": WRONG + "x"}
        )
        assert r.status_code == 403
    r = await thief.patch(
        "/api/v1/users/me", headers=auth, json={"email": "mine@example.net", "current_password": WRONG}
    )
    assert r.status_code == 403
    # Locked, as a login would be: even the right current password waits.
    r = await thief.post(
        "/api/v1/users/me/password", headers=auth, json={"current_password": PASSWORD, "new_password": WRONG + "x"}
    )
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["error"] == "rate_limited"
    assert (await login(clients("192.0.2.5"), "victim@example.com")).status_code == 429  # one counter


# --- Registration and refresh per address ---------------------------------------------------


async def _register_limited(database_url: str, tmp_path: Path, redis: RedisSettings) -> Settings:
    auth = LIMITED.model_copy(
        update={
            "register_limit_per_ip": "3/hour",
            "register_limit_global": "5/hour",
            "refresh_limit_per_ip": "3/minute",
        }
    )
    return make_settings(database_url, tmp_path, auth=auth, redis=redis)


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_registrations_are_limited_per_address_and_in_total(
    store: str, database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    """The attack: 60 accounts in 12.7 s from one address, each a bcrypt hash."""
    redis = RedisSettings(url=REDIS_URL) if store == "redis" else RedisSettings()
    if store == "redis":
        store_client = aioredis.Redis.from_url(REDIS_URL)
        await store_client.flushdb()
        await store_client.aclose()
    async with app_clients(await _register_limited(database_url, tmp_path, redis), database_url) as client_from:
        spammer = client_from("203.0.113.66")
        for i in range(3):
            assert (await register(spammer, f"bot{i}@example.com")).status_code == 202
        r = await register(spammer, "bot3@example.com")
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        assert set(r.json()) >= {"error", "detail", "request_id"}
        assert "from this address" in r.json()["detail"]
        # Bad requests cost nothing and are not counted; another address still may.
        other = client_from("198.51.100.2")
        assert (await other.post("/api/v1/auth/register", json={"email": "x"})).status_code == 422
        for i in range(2):
            assert (await register(other, f"person{i}@example.com")).status_code == 202
        # Five in total in the window (from any number of addresses): the next waits.
        r = await register(client_from("192.0.2.9"), "late@example.com")
        assert r.status_code == 429
        assert "right now" in r.json()["detail"]
        assert await db.fetchval("SELECT count(*) FROM users") == 5


async def test_token_refreshes_are_limited_per_address(database_url: str, tmp_path: Path) -> None:
    async with app_clients(
        await _register_limited(database_url, tmp_path, RedisSettings()), database_url
    ) as client_from:
        c = client_from("203.0.113.66")
        await register(c)
        tokens = (await login(c)).json()
        for _ in range(3):
            r = await c.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert r.status_code == 200
            tokens = r.json()
        r = await c.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        r = await client_from("198.51.100.2").post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert r.status_code == 200
