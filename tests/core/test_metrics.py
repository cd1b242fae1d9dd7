"""/metrics in one process: the bearer token, and the metrics added to the spec's (cache, retrieval,
rate limits, WebSockets, database connections, readiness checks)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import websockets
from fastapi import FastAPI
from prometheus_client import REGISTRY

from helpline.core.config import LimitsSettings, MetricsSettings
from helpline.core.runtime import Runtime
from tests.conftest import make_settings, serve_app

TOKEN = "scrape-me-0123456789"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_metrics_token_keeps_metrics_private(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, metrics=MetricsSettings(token=TOKEN))
    async with serve_app(settings, database_url) as c:
        r = await c.get("/metrics")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"] == "unauthorized"
        assert "http_requests_total" not in r.text
        assert (await c.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await c.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})).status_code == 401
        r = await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        assert "http_requests_total" in r.text


async def test_metrics_are_open_without_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 200


def test_an_empty_token_setting_is_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_METRICS_TOKEN", " ")
    assert MetricsSettings().token is None


async def test_searches_count_cache_hits_misses_and_retrieval_latency(client: httpx.AsyncClient) -> None:
    misses, hits = value("cache_misses_total", cache="search"), value("cache_hits_total", cache="search")
    fresh = value("retrieval_duration_seconds_count", cached="false")
    cached = value("retrieval_duration_seconds_count", cached="true")
    for _ in range(2):
        r = await client.get("/api/v1/faqs/search", params={"q": "where is my parcel"})
        assert r.status_code == 200, r.text
    assert value("cache_misses_total", cache="search") == misses + 1
    assert value("cache_hits_total", cache="search") == hits + 1
    assert value("retrieval_duration_seconds_count", cached="false") == fresh + 1
    assert value("retrieval_duration_seconds_count", cached="true") == cached + 1
    text = (await client.get("/metrics")).text
    assert 'retrieval_duration_seconds_bucket{cached="false",le="0.005"}' in text


async def test_refused_requests_are_counted_by_their_limit(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, limits=LimitsSettings(rules={"search:anonymous": "2/minute"}))
    before = value("rate_limited_requests_total", limit="api-search")
    async with serve_app(settings, database_url) as c:
        codes = [(await c.get("/api/v1/faqs/search", params={"q": "x"})).status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429]
    assert value("rate_limited_requests_total", limit="api-search") == before + 2


async def test_database_connections_in_use(runtime: Runtime) -> None:
    before = value("db_connections_active")
    async with runtime.engine.connect(), runtime.engine.connect():
        assert value("db_connections_active") == before + 2
    assert value("db_connections_active") == before


async def test_open_websockets_are_counted(app: FastAPI, live_server: str) -> None:
    before = value("websocket_connections_active")
    async with websockets.connect(f"ws://{live_server}/api/v1/chat/ws/1", proxy=None):
        # Accepted (it has a few seconds to authenticate): open until either side closes it.
        assert value("websocket_connections_active") == before + 1
    for _ in range(200):
        if value("websocket_connections_active") == before:
            break
        await asyncio.sleep(0.02)
    assert value("websocket_connections_active") == before


async def test_request_duration_is_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/faqs/search", params={"q": "hello"})
    text = (await client.get("/metrics")).text
    assert 'http_request_duration_seconds_count{endpoint="/api/v1/faqs/search",method="GET"}' in text
