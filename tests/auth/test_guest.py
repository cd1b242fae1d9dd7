"""Guest visitors of the embeddable widget: sign-in, what they may do, registering, the purge."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager

from helpline.auth.guest import purge_guests
from helpline.core.config import RedisSettings, Settings, WidgetSettings
from helpline.core.runtime import Runtime
from helpline.main import create_app
from tests.chat.conftest import eventually
from tests.chat.test_stream import read_events
from tests.conftest import PASSWORD, REDIS_URL, bearer, login, make_admin, make_settings, register, signed_in

GUEST = "/api/v1/auth/guest"
ACCEPTED = {
    "status": "accepted",
    "detail": "If this email was not registered, your account is ready: sign in with your password.",
}


async def start_guest(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post(GUEST, json=body)
    assert r.status_code == 201, r.text
    tokens: dict[str, Any] = r.json()
    return tokens


async def register_with(client: httpx.AsyncClient, auth: dict[str, str], email: str, **extra: Any) -> httpx.Response:
    body = {"email": email, "password": PASSWORD, "data_processing_consent": True, "gdpr_consent": True, **extra}
    return await client.post("/api/v1/auth/register", json=body, headers=auth)


async def chat(client: httpx.AsyncClient, tokens: dict[str, Any], message: str = "hello there") -> dict[str, Any]:
    r = await client.post("/api/v1/chat/send", headers=bearer(tokens), json={"message": message})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


@asynccontextmanager
async def widget_app(settings: Settings, database_url: str) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """An app on ``settings``; yields a factory of clients, each calling from its own address."""
    from tests.chat.fakes import FakeProvider, KeywordModerator

    runtime = Runtime.build(settings, database_url, llm=FakeProvider(), moderator=KeywordModerator())
    app = create_app(runtime=runtime)
    clients: list[httpx.AsyncClient] = []

    def client_from(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://t"))
        return clients[-1]

    try:
        async with LifespanManager(app):
            yield client_from
    finally:
        for c in clients:
            await c.aclose()
        await runtime.close()


# --- Signing in as a guest, and chatting -------------------------------------------------------


async def test_guest_gets_a_short_session_and_a_real_user_row(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    tokens = await start_guest(client, site_key=None, language="es")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 15 * 60  # access tokens keep the normal lifetime
    assert tokens["refresh_expires_in"] == 24 * 3600  # the guest session is short
    user = tokens["user"]
    assert user["is_guest"] is True
    assert user["role"] == "user"
    assert user["language"] == "es"
    assert user["email"].startswith("guest-")
    assert user["email"].endswith("@guest.invalid")
    assert user["username"].startswith("guest-")
    assert user["data_processing_consent"] is False
    row = await db.fetchrow("SELECT is_guest, data_processing_consent FROM users WHERE id = $1", user["id"])
    assert row is not None
    assert row["is_guest"] is True
    assert row["data_processing_consent"] is False

    me = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert me.status_code == 200
    assert me.json()["is_guest"] is True
    # Each visitor gets an identity of their own.
    other = await start_guest(client)
    assert other["user"]["id"] != user["id"]

    # Rotation keeps the guest's short lifetime.
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    assert r.json()["refresh_expires_in"] == 24 * 3600
    assert r.json()["user"]["is_guest"] is True


async def test_registered_users_say_they_are_not_guests(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    assert tokens["user"]["is_guest"] is False
    assert tokens["refresh_expires_in"] == 14 * 86400


async def test_a_guest_can_chat_and_list_conversations(client: httpx.AsyncClient) -> None:
    tokens = await start_guest(client)
    answer = await chat(client, tokens, "Where is my parcel?")
    assert "Where is my parcel?" in answer["content"]  # the fake model echoes
    answer2 = (
        await client.post(
            "/api/v1/chat/send",
            headers=bearer(tokens),
            json={"message": "and another", "conversation_id": answer["conversation_id"]},
        )
    ).json()
    assert answer2["conversation_id"] == answer["conversation_id"]
    r = await client.get("/api/v1/conversations", headers=bearer(tokens))
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["items"]] == [answer["conversation_id"]]
    r = await client.get(f"/api/v1/conversations/{answer['conversation_id']}", headers=bearer(tokens))
    assert r.status_code == 200
    r = await client.post(
        f"/api/v1/messages/{answer['message_id']}/feedback", headers=bearer(tokens), json={"helpful": True}
    )
    assert r.status_code in (200, 201, 204), r.text


async def test_a_guest_can_stream_an_answer(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as http:
        tokens = await start_guest(http)
        async with http.stream(
            "POST", "/api/v1/chat/stream", headers=bearer(tokens), json={"message": "stream to a guest"}
        ) as r:
            assert r.status_code == 200
            events = await read_events(r)
    assert events[-1]["event"] == "response"
    assert "stream to a guest" in events[-1]["data"]["content"]


# --- What a guest may not do -------------------------------------------------------------------


async def test_a_guest_cannot_log_in_with_a_password(client: httpx.AsyncClient) -> None:
    user = (await start_guest(client))["user"]
    # Four tries: both identifiers count on the one account's lockout (five failures).
    for ident, password in [
        (user["email"], PASSWORD),
        (user["email"], "!guest: no password"),
        (user["username"], "x"),
        (user["username"], "!guest: no password"),
    ]:
        r = await client.post("/api/v1/auth/login", json={"login": ident, "password": password})
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "unauthorized"


async def test_a_guest_cannot_set_a_password_email_or_username(client: httpx.AsyncClient) -> None:
    tokens = await start_guest(client)
    auth = bearer(tokens)
    r = await client.post(
        "/api/v1/users/me/password", headers=auth, json={"current_password": "anything", "new_password": PASSWORD}
    )
    assert r.status_code == 403
    assert "register" in r.json()["detail"]
    r = await client.patch(
        "/api/v1/users/me", headers=auth, json={"email": "me@example.com", "current_password": "anything"}
    )
    assert r.status_code == 403
    r = await client.patch("/api/v1/users/me", headers=auth, json={"username": "shiny-name"})
    assert r.status_code == 403
    # Preferences are fine.
    r = await client.patch("/api/v1/users/me", headers=auth, json={"language": "fr"})
    assert r.status_code == 200
    assert r.json()["language"] == "fr"


async def test_an_admin_cannot_promote_a_guest(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    await register(client, "boss@example.com")
    await make_admin(db, "boss@example.com")
    admin = bearer((await login(client, "boss@example.com")).json())
    guest_id = (await start_guest(client))["user"]["id"]
    for role in ("moderator", "admin"):
        r = await client.patch(f"/api/v1/users/{guest_id}", headers=admin, json={"role": role})
        assert r.status_code == 409, r.text
        assert "register" in r.json()["detail"]
    assert await db.fetchval("SELECT role::text FROM users WHERE id = $1", guest_id) == "user"
    # Other moderation still applies to guests.
    r = await client.patch(f"/api/v1/users/{guest_id}", headers=admin, json={"status": "suspended"})
    assert r.status_code == 200
    assert r.json()["status"] == "suspended"


# --- A guest who registers ---------------------------------------------------------------------


async def test_a_guest_who_registers_keeps_the_conversation(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    guest = await start_guest(client)
    answer = await chat(client, guest, "Remember me")
    r = await register_with(
        client, bearer(guest), "ada@example.com", username="ada", first_name="Ada", marketing_consent=True
    )
    assert r.status_code == 202, r.text
    assert r.json() == ACCEPTED
    tokens = (await login(client, "ada")).json()
    user = tokens["user"]
    assert user["id"] == guest["user"]["id"]
    assert (user["email"], user["username"], user["first_name"]) == ("ada@example.com", "ada", "Ada")
    assert user["is_guest"] is False
    assert (user["data_processing_consent"], user["gdpr_consent"], user["marketing_consent"]) == (True, True, True)
    consents = await db.fetch("SELECT consent_type::text FROM consent_records WHERE user_id = $1", user["id"])
    assert sorted(c["consent_type"] for c in consents) == ["data_processing", "gdpr", "marketing"]

    # The guest's tokens stop working: the account now has a password to log in with.
    assert (await client.get("/api/v1/users/me", headers=bearer(guest))).status_code == 401
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": guest["refresh_token"]})
    assert r.status_code == 401
    assert tokens["refresh_expires_in"] == 14 * 86400
    r = await client.get("/api/v1/conversations", headers=bearer(tokens))
    assert [c["id"] for c in r.json()["items"]] == [answer["conversation_id"]]
    r = await client.get(f"/api/v1/conversations/{answer['conversation_id']}", headers=bearer(tokens))
    assert r.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM users") == 1
    details = await db.fetchval("SELECT details FROM audit_log WHERE action = 'user.registered'")
    assert details == '{"from_guest": true}'


async def test_registering_with_a_taken_email_leaves_the_guest_as_it_was(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    assert (await register(client, "taken@example.com")).status_code == 202
    guest = await start_guest(client)
    await chat(client, guest)
    before = await db.fetchrow("SELECT * FROM users WHERE id = $1", guest["user"]["id"])
    # A taken email: the same answer as a registration that worked (the login after it fails).
    r = await register_with(client, bearer(guest), "Taken@example.com", password="An0ther-pass-word")
    assert (r.status_code, r.json()) == (202, ACCEPTED)
    assert (await login(client, "taken@example.com", "An0ther-pass-word")).status_code == 401
    taken_name = (await login(client, "taken@example.com")).json()["user"]["username"]
    r = await register_with(client, bearer(guest), "fresh@example.com", username=taken_name.upper())
    assert r.status_code == 409
    assert await db.fetchrow("SELECT * FROM users WHERE id = $1", guest["user"]["id"]) == before
    me = await client.get("/api/v1/users/me", headers=bearer(guest))
    assert me.status_code == 200
    assert me.json()["is_guest"] is True


async def test_register_without_a_guest_token_creates_a_new_account(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    member = await signed_in(client, "member@example.com")
    r = await register_with(client, bearer(member), "second@example.com")  # a registered user's token
    assert r.status_code == 202
    assert (await login(client, "second@example.com")).json()["user"]["id"] != member["user"]["id"]
    r = await register_with(client, {"Authorization": "Bearer not-a-token"}, "third@example.com")
    assert r.status_code == 202
    assert await db.fetchval("SELECT count(*) FROM users") == 3


async def test_an_expired_guest_token_asks_for_a_refresh_instead_of_dropping_the_guest(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    guest = (await start_guest(client))["user"]
    expired, _ = runtime.tokens.encode(
        user_id=guest["id"], email=guest["email"], role="user", type="access", ttl=timedelta(minutes=-1),
        jti=uuid.uuid4(),
    )  # fmt: skip
    r = await register_with(client, bearer(expired), "late@example.com")
    assert r.status_code == 401
    assert "refresh" in r.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM users") == 1


# --- Widget settings and the per-address limit -------------------------------------------------


async def test_guest_sign_in_follows_the_widget_settings(database_url: str, tmp_path: Path) -> None:
    cases: list[tuple[WidgetSettings, dict[str, Any], int]] = [
        (WidgetSettings(enabled=False), {}, 404),
        (WidgetSettings(allow_guests=False), {}, 403),
        (WidgetSettings(site_key="pk_live_123"), {}, 403),
        (WidgetSettings(site_key="pk_live_123"), {"site_key": "pk_live_999"}, 403),
        (WidgetSettings(site_key="pk_live_123"), {"site_key": "pk_live_123"}, 201),
        (WidgetSettings(), {"site_key": "anything"}, 201),  # no key configured: any or none is fine
    ]
    for widget, body, expected in cases:
        async with widget_app(make_settings(database_url, tmp_path, widget=widget), database_url) as client_from:
            r = await client_from("127.0.0.1").post(GUEST, json=body)
            assert r.status_code == expected, (widget, body, r.text)
            if expected == 404:
                assert r.json()["error"] == "not_found"
            if expected == 403:
                assert r.json()["error"] == "forbidden"


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_guest_sign_ins_are_limited_per_address(database_url: str, tmp_path: Path, store: str) -> None:
    redis = RedisSettings()
    if store == "redis":
        redis = RedisSettings(url=REDIS_URL)
        store_client = aioredis.Redis.from_url(REDIS_URL)
        await store_client.flushdb()
        await store_client.aclose()
    settings = make_settings(database_url, tmp_path, widget=WidgetSettings(guest_create_limit="3/hour"), redis=redis)
    async with widget_app(settings, database_url) as client_from:
        first, second = client_from("203.0.113.7"), client_from("198.51.100.2")
        for _ in range(3):
            assert (await first.post(GUEST, json={})).status_code == 201
        r = await first.post(GUEST, json={})
        assert r.status_code == 429
        assert r.json()["error"] == "rate_limited"
        assert 0 < int(r.headers["retry-after"]) <= 3600
        # Another address has its own allowance.
        assert (await second.post(GUEST, json={})).status_code == 201


async def test_a_bad_guest_request_is_a_clear_422(client: httpx.AsyncClient) -> None:
    r = await client.post(GUEST, json={"language": "english please"})
    assert r.status_code == 422
    r = await client.post(GUEST, json={"surprise": 1})
    assert r.status_code == 422


# --- The purge ---------------------------------------------------------------------------------


async def age_user(db: asyncpg.Connection, user_id: int, days: int, *, chat_days: int | None = None) -> None:
    """Move everything a user did ``days`` back (their chat ``chat_days`` back, if given)."""
    ago = "now() - make_interval(days => $2)"
    chat_back = chat_days if chat_days is not None else days
    await db.execute(f"UPDATE users SET created_at = {ago}, last_login = {ago} WHERE id = $1", user_id, days)  # noqa: S608
    await db.execute(f"UPDATE refresh_tokens SET created_at = {ago} WHERE user_id = $1", user_id, days)  # noqa: S608
    await db.execute(
        f"UPDATE conversations SET created_at = {ago}, last_message_at = {ago} WHERE user_id = $1",  # noqa: S608
        user_id,
        chat_back,
    )


async def test_purge_removes_idle_guests_and_keeps_everyone_else(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    idle = await start_guest(client)
    idle_answer = await chat(client, idle)
    recent = await start_guest(client)
    still_chatting = await start_guest(client)
    await chat(client, still_chatting)
    member = await signed_in(client, "member@example.com")
    await chat(client, member)
    await age_user(db, idle["user"]["id"], 31)
    await age_user(db, still_chatting["user"]["id"], 40, chat_days=2)
    await age_user(db, member["user"]["id"], 400)

    assert await purge_guests(runtime) == 1
    left = {r["id"] for r in await db.fetch("SELECT id FROM users")}
    assert left == {recent["user"]["id"], still_chatting["user"]["id"], member["user"]["id"]}
    # Their data went with them; the audit trail stays.
    assert not await db.fetchval("SELECT count(*) FROM conversations WHERE id = $1", idle_answer["conversation_id"])
    assert not await db.fetchval("SELECT count(*) FROM messages WHERE user_id = $1", idle["user"]["id"])
    assert not await db.fetchval("SELECT count(*) FROM refresh_tokens WHERE user_id = $1", idle["user"]["id"])
    assert await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE actor_user_id = $1 AND action = 'auth.guest_started'", idle["user"]["id"]
    )
    purged = await db.fetchrow("SELECT actor_user_id, details FROM audit_log WHERE action = 'guests.purged'")
    assert purged is not None
    assert purged["actor_user_id"] is None
    assert '"count": 1' in purged["details"]
    assert (await client.get("/api/v1/users/me", headers=bearer(idle))).status_code == 401

    assert await purge_guests(runtime) == 0  # nothing more, and no empty audit entry
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'guests.purged'") == 1


async def test_concurrent_purges_share_the_work(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    ids = [(await start_guest(client))["user"]["id"] for _ in range(6)]
    for user_id in ids:
        await age_user(db, user_id, 60)
    counts = await asyncio.gather(*(purge_guests(runtime) for _ in range(3)))
    assert sum(counts) == 6
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_the_cleanup_job_purges_in_the_background(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    guest = await start_guest(client)
    await age_user(db, guest["user"]["id"], 31)
    # The app's in-process worker (started with the client's app) runs the queued job.
    assert await runtime.jobs.enqueue("guest_cleanup", key="cron:guest_cleanup") is not None

    async def gone() -> bool:
        return not await db.fetchval("SELECT count(*) FROM users")

    await eventually(gone)


def test_purge_guests_command(pg_server: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from helpline.cli import app
    from tests.faqs.test_cli import fetch

    name = asyncio.run(pg_server.create_database())
    url = pg_server.url(name)
    try:
        fetch(
            url,
            "INSERT INTO users (email, username, hashed_password, is_guest, created_at, last_login) VALUES "
            "('guest-a@guest.invalid', 'guest-a', '!', true, now() - interval '45 days', now() - interval '45 days'),"
            "('guest-b@guest.invalid', 'guest-b', '!', true, now() - interval '2 days', now() - interval '2 days'),"
            "('old@example.com', 'old', '!', false, now() - interval '900 days', NULL) RETURNING id",
        )
        env = {
            "HELPLINE_DATABASE_URL": url,
            "HELPLINE_DATA_DIR": str(tmp_path),
            "HELPLINE_LLM_PROVIDER": "fake",
            "HELPLINE_EMBEDDING_PROVIDER": "fake",
            "HELPLINE_MODERATION_PROVIDER": "off",
            "HELPLINE_LOG_JSON": "false",
            "HELPLINE_LOG_LEVEL": "WARNING",
        }
        result = CliRunner().invoke(app, ["purge-guests"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == "Removed 1 guest idle for more than 30 days."
        assert [r["username"] for r in fetch(url, "SELECT username FROM users ORDER BY id")] == ["guest-b", "old"]
        result = CliRunner().invoke(
            app, ["purge-guests"], env=env | {"HELPLINE_WIDGET_GUEST_RETENTION_DAYS": "1"}, catch_exceptions=False
        )
        assert result.stdout.strip() == "Removed 1 guest idle for more than 1 day."
    finally:
        asyncio.run(pg_server.drop_database(name))
