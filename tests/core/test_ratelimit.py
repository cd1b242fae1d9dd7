"""API rate limits: every /api/ request counts in its route group's windows, per user of a valid
access token or per client address, with the RateLimit headers clients expect; a 429 says when
to come back; a limit store that is down follows HELPLINE_LIMITS_ON_STORE_FAILURE. Run on the
in-process store and on Redis.

Windows are sliding window counters aligned to the clock: a request just after a window's end
still counts most of the previous window's requests, so a count read across a boundary can be one
off. Tests that count exactly use day-long windows, which a test run does not cross (but at
midnight UTC)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from helpline.core.config import DEFAULT_RULES, AuthSettings, LimitsSettings, RedisSettings
from helpline.core.ratelimit import ApiRateLimiter, route_group
from tests.conftest import (
    REDIS_URL,
    TEST_SECRET,
    bearer,
    login,
    make_admin,
    make_settings,
    register,
    serve_app,
    signed_in,
)

FAQS = "/api/v1/faqs"
SEARCH = "/api/v1/faqs/search"

Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(params=["memory", "redis"])
async def serve(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Serve:
    """Serve an app with these limits, counting in process or in Redis."""
    redis = RedisSettings()
    if request.param == "redis":
        redis = RedisSettings(url=REDIS_URL)
        r = aioredis.Redis.from_url(REDIS_URL)
        await r.flushdb()
        await r.aclose()

    def serve(
        rules: dict[str, str] | None = None, auth: AuthSettings | None = None, **limits: Any
    ) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        settings = make_settings(
            database_url,
            tmp_path,
            auth=auth,
            limits=LimitsSettings(rules=rules or {}, **limits),
            redis=redis,
            trusted_proxies=["*"],
        )
        return serve_app(settings, database_url)

    return serve


def quota(r: httpx.Response) -> tuple[int, int, int, str]:
    h = r.headers
    return int(h["ratelimit-limit"]), int(h["ratelimit-remaining"]), int(h["ratelimit-reset"]), h["ratelimit-policy"]


async def test_every_api_answer_carries_the_rate_limit_headers(serve: Serve) -> None:
    async with serve() as client:
        r = await client.get(FAQS)
        assert r.status_code == 200
        assert quota(r)[:2] == (60, 59)
        assert 1 <= quota(r)[2] <= 61
        assert quota(r)[3] == "60;w=60, 1000;w=3600, 10000;w=86400"
        assert quota(await client.get(FAQS))[1] in (57, 58)  # 57 just after a minute's end
        # A 404 counts as well, and says so; pages, health and metrics are not API requests.
        assert quota(await client.get(f"{FAQS}/999999"))[1] in (56, 57)
        for path in ("/health", "/metrics", "/"):
            assert "ratelimit-limit" not in (await client.get(path)).headers


async def test_over_the_limit_a_429_says_when_to_come_back(serve: Serve) -> None:
    async with serve({"*": "3/day;100/month"}) as client:
        codes = [(await client.get(FAQS)).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = await client.get(FAQS)
        assert r.status_code == 429
        body = r.json()
        assert body["error"] == "rate_limited"
        assert body["detail"].startswith("Too many requests (3 per day); try again in ")
        assert body["request_id"] == r.headers["x-request-id"]
        limit, remaining, reset, policy = quota(r)
        assert (limit, remaining, policy) == (3, 0, "3;w=86400, 100;w=2592000")
        assert int(r.headers["retry-after"]) == reset == body["retry_after"]
        assert 1 <= reset <= 86401
        # Any other method and route of the group shares the window; a token-less POST too.
        assert (await client.delete(f"{FAQS}/1")).status_code == 429


async def test_users_count_on_their_own_and_addresses_apart(serve: Serve) -> None:
    async with serve({"*": "4/day"}) as client:
        alice = bearer(await signed_in(client, "alice@example.com"))  # sign-ups count as "auth"
        bob = bearer(await signed_in(client, "bob@example.com"))
        assert [quota(await client.get(FAQS))[1] for _ in range(4)] == [3, 2, 1, 0]
        assert (await client.get(FAQS)).status_code == 429
        # Behind a trusted proxy, another client address has a window of its own.
        assert (await client.get(FAQS, headers={"X-Real-IP": "203.0.113.7"})).status_code == 200
        for _ in range(4):
            assert (await client.get(FAQS, headers=alice)).status_code == 200
        assert (await client.get(FAQS, headers=alice)).status_code == 429
        assert quota(await client.get(FAQS, headers=bob))[:2] == (4, 3)
        # An invalid token counts on the address, and gets its 401 only if the route needs one.
        r = await client.get(FAQS, headers={"Authorization": "Bearer nonsense", "X-Real-IP": "203.0.113.7"})
        assert quota(r)[1] == 2


async def test_rules_by_role_and_route_group(serve: Serve, db: asyncpg.Connection) -> None:
    rules = {"*": "2/day", "*:admin": "5/day", "search": "3/day", "search:anonymous": "1/day"}
    rules["auth"] = "100/day"  # sign-ups and logins: a group of their own
    async with serve(rules) as client:
        user = bearer(await signed_in(client, "user@example.com"))
        await signed_in(client, "boss@example.com")
        await make_admin(db, "boss@example.com")
        admin = bearer((await login(client, "boss@example.com")).json())
        assert quota(await client.get(FAQS, headers=user))[:2] == (2, 1)
        assert quota(await client.get(FAQS, headers=admin))[:2] == (5, 4)
        # Search counts apart from the rest: its own window, per role.
        assert quota(await client.get(SEARCH, params={"q": "parcel"}, headers=user))[:2] == (3, 2)
        assert quota(await client.get(SEARCH, params={"q": "parcel"}, headers=admin))[:2] == (3, 2)
        assert quota(await client.get(SEARCH, params={"q": "parcel"}, headers={"X-Real-IP": "198.51.100.1"}))[:2] == (
            1,
            0,
        )
        assert (
            await client.get(SEARCH, params={"q": "again"}, headers={"X-Real-IP": "198.51.100.1"})
        ).status_code == 429
        assert quota(await client.get(FAQS, headers=user))[:2] == (2, 0)


async def test_chat_messages_count_in_the_message_windows_with_their_headers(serve: Serve) -> None:
    async with serve({"*": "2/day"}, rate_per_day=3) as client:
        auth = bearer(await signed_in(client, "user@example.com"))
        for left in (2, 1, 0):
            r = await client.post("/api/v1/chat/send", json={"message": "hello"}, headers=auth)
            assert r.status_code == 200, r.text
            assert quota(r)[:2] == (3, left)  # the messages' windows, not the API's 2/day
        r = await client.post("/api/v1/chat/stream", json={"message": "hello"}, headers=auth)
        assert r.status_code == 429
        assert (quota(r)[:2], int(r.headers["retry-after"]) >= 1) == ((3, 0), True)
        assert "3 messages per day" in r.json()["detail"]


async def test_a_login_throttle_429_has_the_headers_too(serve: Serve) -> None:
    auth = AuthSettings(secret_key=TEST_SECRET, bcrypt_rounds=4, login_max_failures_per_account=3)
    async with serve(auth=auth) as client:
        await register(client, "user@example.com")
        for _ in range(3):
            assert (await login(client, "user@example.com", "Wrong-password-1")).status_code == 401
        r = await login(client, "user@example.com")
        assert r.status_code == 429
        assert quota(r)[1] == 0  # the throttle's own window, not the API's
        assert int(r.headers["retry-after"]) == quota(r)[2]


@pytest.mark.parametrize("failure", ["open", "closed"])
async def test_a_limit_store_that_is_down(database_url: str, tmp_path: Path, failure: str) -> None:
    # A port nothing listens on: every limit check fails to connect.
    down = RedisSettings(url="redis://127.0.0.1:1/0")
    settings = make_settings(database_url, tmp_path, limits=LimitsSettings(on_store_failure=failure), redis=down)
    async with serve_app(settings, database_url) as client:
        r = await client.get(FAQS)
        if failure == "open":
            assert r.status_code == 200
            assert "ratelimit-limit" not in r.headers  # uncounted, and not pretending otherwise
        else:
            assert r.status_code == 503
            assert r.json()["error"] == "service_unavailable"
            assert "rate-limit store is unavailable" in r.json()["detail"]
            assert int(r.headers["retry-after"]) >= 1


async def test_two_instances_on_one_redis_share_the_windows(database_url: str, tmp_path: Path) -> None:
    r = aioredis.Redis.from_url(REDIS_URL)
    await r.flushdb()
    settings = make_settings(
        database_url, tmp_path, limits=LimitsSettings(rules={"*": "3/day"}), redis=RedisSettings(url=REDIS_URL)
    )
    async with serve_app(settings, database_url) as one, serve_app(settings, database_url) as two:
        assert [quota(await c.get(FAQS))[1] for c in (one, two, one)] == [2, 1, 0]
        assert (await two.get(FAQS)).status_code == 429
    # Kept under hashed keys: no client address or user id in clear in Redis.
    keys = [k.decode() async for k in r.scan_iter("*")]
    await r.aclose()
    assert keys
    assert not any("127.0.0.1" in k or "testclient" in k for k in keys)


def test_route_groups() -> None:
    assert route_group("/api/v1/faqs/search") == "search"
    assert route_group("/api/v1/auth/login") == "auth"
    assert route_group("/api/v1/admin/users") == "admin"
    assert route_group("/api/v1/conversations") == "api"
    assert route_group("/api/v1/chat/send") == route_group("/api/v1/chat/stream") == "exempt"
    assert route_group("/api/v1/chat/messages/12/retry") == "exempt"
    assert route_group("/api/v1/chat/messages/12/stop") == "api"
    assert route_group("/health") is route_group("/help/x") is None


def test_bad_rules_are_refused_at_start() -> None:
    for rules in ({"*": "lots"}, {"Search Page": "1/minute"}):
        with pytest.raises(ValueError, match="rule"):
            LimitsSettings(rules=rules)
    assert LimitsSettings(rules={"search": "5/minute"}).resolved_rules() == {**DEFAULT_RULES, "search": "5/minute"}


async def test_rule_lookup_goes_from_specific_to_general() -> None:
    from helpline.platform.limits import MemoryWindowStore

    rules = {"*": "1/minute", "*:admin": "2/minute", "search": "3/minute", "search:admin": "4/minute"}
    limiter = ApiRateLimiter(MemoryWindowStore(), LimitsSettings(rules=rules))
    policy = {(g, r): limiter.windows(g, r).policy for g in ("api", "search") for r in ("user", "admin")}
    assert policy == {
        ("api", "user"): "1;w=60",
        ("api", "admin"): "2;w=60",
        ("search", "user"): "3;w=60",
        ("search", "admin"): "4;w=60",
    }
