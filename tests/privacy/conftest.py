"""Privacy tests run on Redis (their own test database, HELPLINE_TEST_REDIS_URL, flushed first) so
that erasure is checked against every store a deployment with Redis has."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from helpline.core.config import RedisSettings, Settings
from tests.conftest import PASSWORD, REDIS_URL, bearer, make_settings


@pytest.fixture
async def redis_db() -> AsyncIterator[Redis]:
    r: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    await r.flushdb()
    try:
        yield r
    finally:
        await r.aclose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, redis_db: Redis) -> Settings:
    return make_settings(database_url, tmp_path, redis=RedisSettings(url=REDIS_URL))


async def account(client: httpx.AsyncClient, email: str, **extra: Any) -> dict[str, Any]:
    """Register (whatever success status the register endpoint answers) and log in."""
    body = {"email": email, "password": PASSWORD, "data_processing_consent": True, "gdpr_consent": True, **extra}
    r = await client.post("/api/v1/auth/register", json=body)
    assert r.status_code in (201, 202), r.text
    r = await client.post("/api/v1/auth/login", json={"login": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    tokens: dict[str, Any] = r.json()
    return tokens


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Wait for a condition (never a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def finished_export(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    r = await client.post("/api/v1/privacy/export", headers=auth)
    assert r.status_code == 202, r.text
    export_id = r.json()["id"]
    state: dict[str, Any] = {}

    async def done() -> bool:
        r = await client.get(f"/api/v1/privacy/export/{export_id}", headers=auth)
        assert r.status_code == 200, r.text
        state.update(r.json())
        return state["status"] in ("done", "failed")

    await eventually(done)
    assert state["status"] == "done", state
    return state


__all__ = ["PASSWORD", "account", "bearer", "eventually", "finished_export"]
