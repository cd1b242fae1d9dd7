from __future__ import annotations

import uuid
from pathlib import Path

from redis.asyncio import Redis

from helpline.core.config import EmbeddingSettings, RedisSettings
from helpline.platform.cache import MemoryFAQCache, RedisFAQCache
from tests.conftest import REDIS_URL, make_settings, serve_app


async def test_in_process_cache_is_bounded_and_expires() -> None:
    now = [1000.0]
    cache = MemoryFAQCache(max_entries=2, clock=lambda: now[0])
    for key in "abc":
        await cache.set(key, key, 10)
    assert await cache.get_many(["a", "b", "c"]) == [None, "b", "c"]  # least recently used went
    now[0] += 11
    assert await cache.get("c") is None


async def test_a_cache_that_is_down_only_misses() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=0.5)
    cache = RedisFAQCache(redis)
    try:
        await cache.set("k", "v", 10)
        assert await cache.get("k") is None
        assert await cache.get_many(["k"]) == [None]
    finally:
        await redis.aclose()


async def test_search_results_are_shared_through_redis(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, tmp_path, redis=RedisSettings(url=REDIS_URL), embedding=EmbeddingSettings(provider="fake")
    )
    q = {"q": f"anything {uuid.uuid4().hex}"}
    async with serve_app(settings, database_url) as first:
        assert (await first.get("/api/v1/faqs/search", params=q)).headers["x-cache"] == "miss"
    async with serve_app(settings, database_url) as second:  # another instance, same Redis
        assert (await second.get("/api/v1/faqs/search", params=q)).headers["x-cache"] == "hit"
