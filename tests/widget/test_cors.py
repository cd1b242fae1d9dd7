"""A page on another origin (where the widget is embedded) may call the widget's endpoints and
chat when its origin is listed in HELPLINE_CORS_ORIGINS, and is refused when it is not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer, make_settings, serve_app

SHOP = "https://shop.example"
OTHER = "https://evil.example"

# (method, path, request headers) of what the widget calls.
WIDGET_CALLS = [
    ("GET", "/api/v1/widget/config", ""),
    ("POST", "/api/v1/auth/guest", "content-type"),
    ("POST", "/api/v1/auth/refresh", "content-type"),
    ("POST", "/api/v1/auth/register", "authorization, content-type"),
    ("POST", "/api/v1/chat/send", "authorization, content-type"),
    ("POST", "/api/v1/chat/stream", "authorization, content-type"),
    ("GET", "/api/v1/conversations", "authorization"),
]


@pytest.fixture
async def cors_client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url, tmp_path, cors_origins=[SHOP])
    async with serve_app(settings, database_url) as client:
        yield client


def preflight(method: str, headers: str, origin: str) -> dict[str, str]:
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return h


@pytest.mark.parametrize(("method", "path", "headers"), WIDGET_CALLS)
async def test_preflight_from_a_listed_origin_is_allowed(
    cors_client: httpx.AsyncClient, method: str, path: str, headers: str
) -> None:
    r = await cors_client.options(path, headers=preflight(method, headers, SHOP))
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == SHOP
    assert method in r.headers["access-control-allow-methods"]
    for name in filter(None, (h.strip() for h in headers.split(","))):
        assert name in r.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize(("method", "path", "headers"), WIDGET_CALLS)
async def test_preflight_from_an_unlisted_origin_is_refused(
    cors_client: httpx.AsyncClient, method: str, path: str, headers: str
) -> None:
    r = await cors_client.options(path, headers=preflight(method, headers, OTHER))
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers


async def test_a_cross_origin_visitor_chats_as_a_guest(cors_client: httpx.AsyncClient) -> None:
    origin = {"Origin": SHOP}
    r = await cors_client.get("/api/v1/widget/config", headers=origin)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == SHOP
    r = await cors_client.post("/api/v1/auth/guest", headers=origin, json={})
    assert r.status_code == 201
    assert r.headers["access-control-allow-origin"] == SHOP
    tokens = r.json()
    r = await cors_client.post("/api/v1/chat/send", headers=origin | bearer(tokens), json={"message": "hi from a shop"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == SHOP
    # Errors carry the header too, so the widget can read them (and Retry-After is exposed).
    r = await cors_client.post("/api/v1/chat/send", headers=origin, json={"message": "no token"})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == SHOP
    assert "retry-after" in r.headers.get("access-control-expose-headers", "").lower()


async def test_an_unlisted_origin_gets_no_cors_headers(cors_client: httpx.AsyncClient) -> None:
    r = await cors_client.get("/api/v1/widget/config", headers={"Origin": OTHER})
    assert "access-control-allow-origin" not in r.headers
    r = await cors_client.post("/api/v1/auth/guest", headers={"Origin": OTHER}, json={})
    assert "access-control-allow-origin" not in r.headers
