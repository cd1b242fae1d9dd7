"""The client's address behind a trusted proxy: X-Real-IP, X-Forwarded-For, X-Forwarded-Proto
(core.proxy), believed only from HELPLINE_TRUSTED_PROXIES, and what rate limits and the audit
trail then see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from helpline.core.config import AuthSettings, Settings
from helpline.core.proxy import ClientAddressMiddleware, parse_ip
from helpline.core.runtime import Runtime
from helpline.main import create_app
from tests.conftest import PASSWORD, TEST_SECRET, make_settings


async def _seen(
    headers: dict[str, str], peer: str = "127.0.0.1", kind: str = "http", trusted: tuple[str, ...] = ("127.0.0.1",)
) -> tuple[str, str]:
    """(client host, scheme) the app behind the middleware gets."""
    got: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        got.update(scope)

    scope = {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "client": (peer, 5555),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    }
    await ClientAddressMiddleware(app, trusted)(scope, None, None)  # type: ignore[arg-type]
    return got["client"][0], got["scheme"]


@pytest.mark.parametrize(
    ("headers", "peer", "expected"),
    [
        ({"X-Real-IP": "203.0.113.7"}, "127.0.0.1", "203.0.113.7"),
        # X-Real-IP wins over an X-Forwarded-For the proxy may have passed on from the client.
        ({"X-Real-IP": "203.0.113.7", "X-Forwarded-For": "192.0.2.1"}, "127.0.0.1", "203.0.113.7"),
        ({"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}, "127.0.0.1", "203.0.113.7"),
        # The rightmost hop that is not a trusted proxy.
        ({"X-Forwarded-For": "192.0.2.1, 203.0.113.7, 127.0.0.1"}, "127.0.0.1", "203.0.113.7"),
        # An X-Real-IP naming a trusted proxy (a balancer in front): X-Forwarded-For tells more.
        ({"X-Real-IP": "127.0.0.1", "X-Forwarded-For": "198.51.100.4"}, "127.0.0.1", "198.51.100.4"),
        ({"X-Real-IP": "[2001:db8::7]:443"}, "127.0.0.1", "2001:db8::7"),
        ({"X-Real-IP": "not an address"}, "127.0.0.1", "127.0.0.1"),
        ({"X-Real-IP": "not an address", "X-Forwarded-For": "198.51.100.4"}, "127.0.0.1", "198.51.100.4"),
        # From a peer that is not a trusted proxy, nothing is believed.
        ({"X-Real-IP": "203.0.113.7"}, "192.0.2.50", "192.0.2.50"),
        ({"X-Forwarded-For": "203.0.113.7"}, "192.0.2.50", "192.0.2.50"),
        ({}, "127.0.0.1", "127.0.0.1"),
    ],
)
async def test_client_address(headers: dict[str, str], peer: str, expected: str) -> None:
    assert (await _seen(headers, peer))[0] == expected


async def test_scheme_and_networks() -> None:
    assert await _seen({"X-Forwarded-Proto": "https"}) == ("127.0.0.1", "https")
    assert await _seen({"X-Forwarded-Proto": "https"}, kind="websocket") == ("127.0.0.1", "wss")
    assert await _seen({"X-Forwarded-Proto": "gopher"}) == ("127.0.0.1", "http")
    assert await _seen({"X-Forwarded-Proto": "https"}, peer="192.0.2.50") == ("192.0.2.50", "http")
    # Networks and "*".
    assert (await _seen({"X-Real-IP": "203.0.113.7"}, peer="10.1.2.3", trusted=("10.0.0.0/8",)))[0] == "203.0.113.7"
    assert (await _seen({"X-Real-IP": "203.0.113.7"}, peer="192.0.2.50", trusted=("*",)))[0] == "203.0.113.7"
    assert (await _seen({"X-Real-IP": "203.0.113.7"}, peer="10.1.2.3", trusted=("proxy.local",)))[0] == "10.1.2.3"


def test_parse_ip() -> None:
    assert parse_ip(" 203.0.113.7:8080 ") == "203.0.113.7"
    assert parse_ip("2001:DB8::1") == "2001:db8::1"
    assert parse_ip("[2001:db8::1]") == "2001:db8::1"
    assert parse_ip("") is None
    assert parse_ip("example.com") is None


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    auth = AuthSettings(secret_key=TEST_SECRET, bcrypt_rounds=4, register_limit_per_ip="2/hour")
    return make_settings(database_url, tmp_path, auth=auth)


@pytest.fixture
async def from_peer(runtime: Runtime) -> AsyncIterator[Any]:
    """Clients whose TCP peer is the given address, all on one app."""
    app = create_app(runtime=runtime)
    clients: list[httpx.AsyncClient] = []

    def make(peer: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 40000)), base_url="http://t")
        clients.append(client)
        return client

    async with LifespanManager(app):
        yield make
        for client in clients:
            await client.aclose()


async def _register(client: httpx.AsyncClient, email: str, **headers: str) -> int:
    body = {"email": email, "password": PASSWORD, "data_processing_consent": True, "gdpr_consent": True}
    r = await client.post("/api/v1/auth/register", json=body, headers=headers)
    return r.status_code


async def test_behind_a_trusted_proxy_x_real_ip_is_the_client(from_peer: Any, db: asyncpg.Connection) -> None:
    proxy = from_peer("127.0.0.1")
    one = {"X-Real-IP": "203.0.113.7"}
    assert await _register(proxy, "a@example.com", **one) == 202
    assert await _register(proxy, "b@example.com", **one) == 202
    # The per-address registration limit (2/hour) counts the client, not the proxy...
    assert await _register(proxy, "c@example.com", **one) == 429
    assert await _register(proxy, "c@example.com", **one, **{"X-Forwarded-For": "192.0.2.99"}) == 429
    # ...so another client behind the same proxy is not held back.
    assert await _register(proxy, "d@example.com", **{"X-Real-IP": "198.51.100.20"}) == 202
    r = await proxy.post(
        "/api/v1/auth/login",
        json={"login": "d@example.com", "password": PASSWORD},
        headers={"X-Real-IP": "198.51.100.20"},
    )
    assert r.status_code == 200, r.text

    # Stored: the client's network only.
    audit = {r["ip"] for r in await db.fetch("SELECT host(ip_address) AS ip FROM audit_log")}
    consents = {r["ip"] for r in await db.fetch("SELECT host(ip_address) AS ip FROM consent_records")}
    tokens = {r["ip"] for r in await db.fetch("SELECT host(ip_address) AS ip FROM refresh_tokens")}
    assert audit == {"203.0.113.0", "198.51.100.0"}
    assert consents == {"203.0.113.0", "198.51.100.0"}
    assert tokens == {"198.51.100.0"}


async def test_from_an_untrusted_peer_x_real_ip_is_ignored(from_peer: Any, db: asyncpg.Connection) -> None:
    direct = from_peer("192.0.2.50")
    assert await _register(direct, "a@example.com", **{"X-Real-IP": "203.0.113.1"}) == 202
    assert await _register(direct, "b@example.com", **{"X-Real-IP": "203.0.113.2"}) == 202
    # A new X-Real-IP each time buys nothing: the limit counts the peer.
    assert await _register(direct, "c@example.com", **{"X-Real-IP": "203.0.113.3"}) == 429
    assert await _register(direct, "c@example.com", **{"X-Forwarded-For": "203.0.113.4"}) == 429
    audit = {r["ip"] for r in await db.fetch("SELECT host(ip_address) AS ip FROM audit_log")}
    assert audit == {"192.0.2.0"}
