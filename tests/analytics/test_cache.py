"""The dashboard kept in Redis (the spec's "analytics:dashboard" key): served from the cache
until the roll-ups change, never after a refresh."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from helpline.analytics.rollup import refresh
from helpline.core.config import RedisSettings, Settings
from helpline.core.runtime import Runtime
from tests.admin.conftest import Account
from tests.analytics.seed import T0, message, seed
from tests.conftest import REDIS_URL, make_settings
from tests.privacy.conftest import redis_db  # noqa: F401 - a fixture: the tests' Redis database, flushed

WEEK = {"from": "2026-11-01", "to": "2026-11-07"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, redis_db: Redis) -> Settings:  # noqa: F811
    return make_settings(database_url, tmp_path, redis=RedisSettings(url=REDIS_URL))


async def test_a_refresh_is_never_hidden_by_the_cache(
    client: httpx.AsyncClient,
    mod: Account,
    db: asyncpg.Connection,
    runtime: Runtime,
    redis_db: Redis,  # noqa: F811
) -> None:
    data = await seed(db)
    await refresh(runtime.sessionmaker, settle=timedelta(hours=48))

    async def messages() -> int:
        r = await client.get("/api/v1/analytics/dashboard", params=WEEK, headers=mod.auth)
        assert r.status_code == 200, r.text
        n: int = r.json()["totals"]["messages"]
        return n

    assert await messages() == 10
    keys = [k async for k in redis_db.scan_iter("analytics:dashboard:*")]
    assert len(keys) == 1
    assert 0 < await redis_db.ttl(keys[0]) <= 60
    # A new message: the cached figures stand until the roll-ups include it, then they follow.
    await message(db, data.c1, data.u1, "user", "one more", T0 + timedelta(minutes=5))
    await db.execute("UPDATE conversations SET last_message_at = now() WHERE id = $1", data.c1)
    assert await messages() == 10
    await refresh(runtime.sessionmaker, settle=timedelta(hours=48))
    assert await messages() == 11
