from __future__ import annotations

import base64
import re
import string
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from hypothesis import given
from hypothesis import strategies as st

from helpline.core.logging import redact_url_secrets
from helpline.core.runtime import Runtime
from helpline.main import create_app
from tests.conftest import PASSWORD, bearer, make_settings, register, serve_app, signed_in


async def test_unknown_path_and_method_use_the_error_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "detail": "Not Found", "request_id": r.headers["x-request-id"]}
    r = await client.delete("/api/v1/auth/login")
    assert r.status_code == 405
    assert r.json()["error"] == "method_not_allowed"


async def test_request_id_is_returned_and_a_client_one_is_kept(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert len(r.headers["x-request-id"]) >= 32
    rid = "0123456789abcdef0123456789abcdef"
    r = await client.get("/api/v1/users/me", headers={"X-Request-ID": rid})
    assert r.headers["x-request-id"] == rid
    assert r.json()["request_id"] == rid


async def test_security_headers(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    # The XSS auditor is switched off (OWASP's advice), not asked to block pages.
    assert r.headers["x-xss-protection"] == "0"


async def test_hsts_only_on_https(app: object) -> None:
    # Over plain HTTP a Strict-Transport-Security header is meaningless and RFC 6797 forbids it;
    # over https (TLS, or a trusted proxy's X-Forwarded-Proto: see tests/test_transport.py) it is sent.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as plain:
        for path in ("/health", "/api/v1/nope"):
            assert "strict-transport-security" not in (await plain.get(path)).headers
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as tls:
        for path in ("/health", "/api/v1/nope"):
            assert (await tls.get(path)).headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


@pytest.fixture
async def cors_client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url, tmp_path, cors_origins=["https://shop.example"])
    async with serve_app(settings, database_url) as c:
        yield c


async def test_cors_allows_only_configured_origins(cors_client: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    r = await cors_client.options("/api/v1/auth/login", headers={"Origin": "https://shop.example", **preflight})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    r = await cors_client.options("/api/v1/auth/login", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in r.headers


async def test_metrics_use_route_templates(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    await client.patch("/api/v1/users/12345", json={})
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{endpoint="/health",method="GET",status="200"}' in text
    assert 'endpoint="/api/v1/users/{user_id}"' in text
    # No label holds the id (sample values may: a *_created timestamp did, at 1796123450).
    assert not re.search(r"\{[^}]*12345[^}]*\}", text)
    for name in (
        "http_request_duration_seconds",
        "ai_requests_total",
        "ai_tokens_used_total",
        "db_connections_active",
    ):
        assert name in text


async def test_logs_carry_request_id_and_never_secrets(runtime: Runtime, capfd: pytest.CaptureFixture[str]) -> None:
    runtime.settings.log_level = "INFO"
    runtime.settings.log_json = True
    app = create_app(runtime=runtime)  # configures logging onto the captured stderr
    transport = httpx.ASGITransport(app=app)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        tokens = await signed_in(client)
        await client.get("/api/v1/users/me", headers=bearer(tokens))
    out = capfd.readouterr()
    logs = out.out + out.err
    assert "request_id" in logs
    assert "/api/v1/users/me" in logs
    assert PASSWORD not in logs
    assert tokens["access_token"] not in logs
    assert tokens["refresh_token"] not in logs


async def test_a_failed_commit_is_never_reported_as_success(app: object, db: asyncpg.Connection) -> None:
    # The session dependency commits before the response is sent, so a commit that fails
    # turns into a 500, never a 201 for data that was not saved.
    await db.execute(
        """
        CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'commit refused'; END $$;
        CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON users
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();
        """
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await register(client)
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error"
    assert "commit refused" not in r.text  # no internals leak to the client
    assert await db.fetchval("SELECT count(*) FROM users") == 0


# Every key is a PostgreSQL integer: a larger id is a 422 naming the bound, never a 500.
TOO_BIG = 2**31
OUT_OF_RANGE_IDS = [
    ("GET", f"/api/v1/conversations/{TOO_BIG}", None),
    ("DELETE", f"/api/v1/conversations/{TOO_BIG}", None),
    ("GET", f"/api/v1/faqs/{10**17}", None),
    ("POST", f"/api/v1/faqs/{TOO_BIG}/vote", {"helpful": True}),
    ("GET", f"/api/v1/faq-categories/{TOO_BIG}", None),
    ("GET", f"/api/v1/chat/stream/{TOO_BIG}", None),
    ("POST", f"/api/v1/messages/{TOO_BIG}/feedback", {"helpful": True}),
    ("PATCH", f"/api/v1/users/{TOO_BIG}", {"role": "user"}),
    ("POST", "/api/v1/chat/send", {"message": "hello", "conversation_id": 1612295806359217408}),
    ("POST", "/api/v1/faqs", {"question": "A question?", "answer": "An answer.", "category_id": TOO_BIG}),
]


@pytest.mark.parametrize(("method", "path", "body"), OUT_OF_RANGE_IDS)
async def test_ids_beyond_the_integer_columns_are_a_clear_422(
    client: httpx.AsyncClient, db: asyncpg.Connection, method: str, path: str, body: dict[str, object] | None
) -> None:
    tokens = await signed_in(client, "admin@example.com")
    await db.execute("UPDATE users SET role = 'admin' WHERE email = 'admin@example.com'")
    r = await client.request(method, path, json=body, headers=bearer(tokens))
    assert r.status_code == 422, r.text
    assert "2147483647" in r.json()["detail"]


async def test_a_category_id_beyond_the_integer_column_is_not_found(client: httpx.AsyncClient) -> None:
    for path, params in (("/api/v1/faqs", {}), ("/api/v1/faqs/search", {"q": "parcel"})):
        r = await client.get(path, params={**params, "category": str(TOO_BIG)})
        assert r.status_code == 404, r.text
        assert r.json()["detail"] == f"No such category: {TOO_BIG}"


async def test_text_the_database_cannot_store_is_a_422_and_nothing_is_stored(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # PostgreSQL text cannot hold NUL (U+0000): the statement fails, so nothing was written.
    tokens = await signed_in(client)
    r = await client.post("/api/v1/chat/send", json={"message": "hi \u0000 there"}, headers=bearer(tokens))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_value"
    assert "NUL" in r.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert await db.fetchval("SELECT count(*) FROM conversations") == 0
    r = await client.post("/api/v1/auth/login", json={"login": "a\u0000b@example.com", "password": PASSWORD})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_value"
    # the service goes on
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 200


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/api/v1/conversations", f"2026-12-01T00:00:00+00:00|{TOO_BIG}"),
        ("/api/v1/conversations", "2026-12-01T00:00:00+00:00"),
        ("/api/v1/faqs", f"0|{TOO_BIG}"),
        ("/api/v1/faqs", f"{-TOO_BIG - 1}|5"),
        ("/api/v1/faqs", "1|2|3"),
    ],
)
async def test_a_cursor_that_no_page_could_have_made_is_a_400(client: httpx.AsyncClient, path: str, raw: str) -> None:
    tokens = await signed_in(client)
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    r = await client.get(path, params={"cursor": cursor}, headers=bearer(tokens))
    assert r.status_code == 400, r.text
    assert "next_cursor" in r.json()["detail"]


@given(
    name=st.sampled_from(["token", "access_token", "refresh_token", "code", "Token", "ACCESS_TOKEN"]),
    value=st.text(alphabet=string.ascii_letters + string.digits + "-._~%+/=", min_size=12, max_size=300),
    before=st.sampled_from(["?", "?a=1&", "?a=1;"]),
)
def test_query_secrets_are_redacted_from_any_log_text(name: str, value: str, before: str) -> None:
    line = f'127.0.0.1:5 - "WebSocket /api/v1/chat/ws/2{before}{name}={value}&next=1" [accepted]'
    redacted = redact_url_secrets(line)
    assert value not in redacted
    assert f"{name}=[redacted]&next=1" in redacted
    assert redact_url_secrets("status_code=200 path=/health?page=2") == "status_code=200 path=/health?page=2"
