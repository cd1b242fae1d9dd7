from __future__ import annotations

from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY

from helpline.core.config import LLMSettings, RedisSettings, Settings
from helpline.core.runtime import Runtime
from helpline.main import create_app
from tests.chat.fakes import FakeProvider, KeywordModerator
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


async def _ready(settings: Settings, url: str, runtime: Runtime) -> httpx.Response:
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    try:
        async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/health/ready")
            if r.status_code == 200:  # the rest of the service answers
                assert (await c.get("/api/v1/faqs/search", params={"q": "parcel"})).status_code == 200
            return r
    finally:
        await runtime.close()


async def test_an_unreachable_llm_degrades_readiness_without_failing_it(database_url: str, tmp_path: Path) -> None:
    """Every instance shares the model: were its failure to fail readiness, the load balancer would
    take them all out, while FAQ answers and search still work."""
    llm = LLMSettings(provider="openai", base_url="http://127.0.0.1:1/v1", api_key="sk-test", max_retries=0)
    settings = make_settings(database_url, tmp_path, llm=llm)
    runtime = Runtime.build(settings, database_url, moderator=KeywordModerator())
    assert "llm" in runtime.health_probes
    r = await _ready(settings, database_url, runtime)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "healthy"
    assert body["checks"]["llm"].startswith("unhealthy")
    assert set(body) == {"status", "timestamp", "checks"}  # the spec's shape
    assert REGISTRY.get_sample_value("health_check_status", {"check": "llm"}) == 0
    assert REGISTRY.get_sample_value("health_check_status", {"check": "database"}) == 1


async def test_the_database_down_fails_readiness_whatever_the_llm_says(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    settings = make_settings(url, tmp_path)
    runtime = Runtime.build(settings, url, llm=FakeProvider(), moderator=KeywordModerator())
    runtime.health_probes["llm"] = runtime.llm.health
    r = await _ready(settings, url, runtime)
    assert r.status_code == 503
    assert r.json()["status"] == "unhealthy"
    assert r.json()["checks"]["llm"] == "healthy"
    assert REGISTRY.get_sample_value("health_check_status", {"check": "database"}) == 0
