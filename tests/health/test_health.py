from __future__ import annotations

from pathlib import Path

import httpx

from helpline.core.config import RedisSettings
from tests.conftest import REDIS_URL, make_settings, serve_app


async def test_liveness(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy"
    assert "timestamp" in body
    assert body["checks"] == {}


async def test_ready_with_database_and_redis(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, redis=RedisSettings(url=REDIS_URL))
    async with serve_app(settings, database_url) as c:
        r = await c.get("/health/ready")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "healthy", "redis": "healthy"}
    assert r.json()["status"] == "healthy"


async def test_ready_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    async with serve_app(make_settings(url, tmp_path), url) as c:
        r = await c.get("/health/ready")
        assert r.status_code == 503
        assert r.json()["status"] == "unhealthy"
        assert r.json()["checks"]["database"].startswith("unhealthy")
        assert (await c.get("/health")).status_code == 200


async def test_api_call_with_the_database_down_is_a_clear_503(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    async with serve_app(make_settings(url, tmp_path), url, raise_app_exceptions=False) as c:
        r = await c.post("/api/v1/auth/login", json={"login": "a@example.com", "password": "Whatever-123"})
    assert r.status_code == 503
    assert r.json()["error"] == "service_unavailable"
    assert r.headers["retry-after"] == "5"
