from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from helpline.core.config import AuthSettings, RedisSettings
from tests.conftest import REDIS_URL, TEST_SECRET, login, make_settings, register, serve_app

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
