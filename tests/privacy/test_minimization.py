"""Data minimisation: what the logs and the stored client addresses keep of a user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from helpline.core.config import RedisSettings
from helpline.core.net import truncate_ip
from helpline.models import AuditLog
from tests.conftest import REDIS_URL, make_settings, serve_app
from tests.privacy.conftest import PASSWORD, account, bearer, eventually, finished_export

EMAIL = "wilhelmina.logless@example.com"
SECRET_TEXT = "my neighbour Ottokar Brummelstein keeps my parcel"
CLIENT_IP = "203.0.113.77"


@pytest.mark.parametrize(
    ("ip", "kept"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:abcd:1234:5678::1", "2001:db8:abcd::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        (" 10.1.2.3 ", "10.1.2.0"),
        ("unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_truncate_ip(ip: str | None, kept: str | None) -> None:
    assert truncate_ip(ip) == kept


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_logs_of_a_login_a_chat_turn_and_an_export_hold_no_personal_data(
    database_url: str, tmp_path: Path, redis_db: Redis, capfd: pytest.CaptureFixture[str], level: str
) -> None:
    settings = make_settings(database_url, tmp_path, redis=RedisSettings(url=REDIS_URL))
    settings = settings.model_copy(update={"log_json": True, "log_level": level})
    capfd.readouterr()
    async with serve_app(settings, database_url) as client:
        client.headers["X-Real-IP"] = CLIENT_IP  # as a proxy in front would say
        tokens = await account(client, EMAIL)
        auth = bearer(tokens)
        r = await client.post("/api/v1/chat/send", headers=auth, json={"message": SECRET_TEXT})
        assert r.status_code == 200, r.text
        conversation_id = r.json()["conversation_id"]

        async def answered() -> bool:
            r = await client.get(f"/api/v1/conversations/{conversation_id}", headers=auth)
            messages = r.json()["messages"]
            return len(messages) == 2 and messages[-1]["status"] not in ("pending", "streaming")

        await eventually(answered)
        export = await finished_export(client, auth)
        r = await client.get(export["download_url"], headers=auth)
        assert r.status_code == 200
        assert SECRET_TEXT.encode() in r.content or r.headers["content-type"] == "application/zip"
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 200, r.text
        refreshed = r.json()
        r = await client.post(
            "/api/v1/auth/logout", headers=bearer(refreshed), json={"refresh_token": refreshed["refresh_token"]}
        )
        assert r.status_code in (200, 204), r.text
    log = capfd.readouterr().err
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines, "nothing was logged: the test would prove nothing"
    assert any(json.loads(line).get("event") == "request" for line in lines if line.startswith("{"))
    secrets = {
        "email": EMAIL,
        "email's local part": EMAIL.split("@")[0],
        "password": PASSWORD,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "refreshed access token": refreshed["access_token"],
        "refreshed refresh token": refreshed["refresh_token"],
        "message text": SECRET_TEXT,
        "a word of the message": "Brummelstein",
    }
    # Client addresses: the network only, in the access log as in the database.
    assert '"client": "203.0.113.0"' in log
    secrets["client address"] = CLIENT_IP
    for what, value in secrets.items():
        leaks = [line for line in lines if value in line]
        assert not leaks, f"the {what} is in the log: {leaks[:3]}"


async def test_audit_rows_written_by_hand_keep_only_the_network(database_url: str, tmp_path: Path) -> None:
    from helpline.core.runtime import Runtime
    from tests.chat.fakes import FakeProvider, KeywordModerator

    settings = make_settings(database_url, tmp_path)
    runtime = Runtime.build(settings, database_url, llm=FakeProvider(), moderator=KeywordModerator())
    try:
        async with runtime.sessionmaker() as session, session.begin():
            session.add(AuditLog(action="test.v4", ip_address="203.0.113.77"))
            session.add(AuditLog(action="test.v6", ip_address="2001:db8:abcd:1234::9"))
        async with runtime.sessionmaker() as session:
            rows = dict((await session.execute(select(AuditLog.action, AuditLog.ip_address))).all())
    finally:
        await runtime.close()
    assert rows == {"test.v4": "203.0.113.0", "test.v6": "2001:db8:abcd::"}


async def test_a_failed_statement_does_not_carry_its_values_into_the_log(
    database_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from helpline.core.errors import failure
    from helpline.core.logging import configure_logging
    from helpline.core.runtime import Runtime
    from tests.chat.fakes import FakeProvider, KeywordModerator

    settings = make_settings(database_url, tmp_path)
    runtime = Runtime.build(settings, database_url, llm=FakeProvider(), moderator=KeywordModerator())
    insert = text("INSERT INTO users (email, username, hashed_password) VALUES (:email, :name, :hash)")
    caught: list[DBAPIError] = []
    try:
        async with runtime.engine.begin() as conn:
            await conn.execute(insert, {"email": EMAIL, "name": "someone", "hash": "x"})
        for values in (
            {"email": EMAIL, "name": "Brummelstein", "hash": "x"},  # duplicate key: its value is quoted back
            {"email": "Ottokar@example.com", "name": "Brummelstein", "hash": None},  # a whole failing row
        ):
            with pytest.raises(DBAPIError) as error:
                async with runtime.engine.begin() as conn:
                    await conn.execute(insert, values)
            caught.append(error.value)
        with pytest.raises(DBAPIError) as error:
            async with runtime.engine.begin() as conn:
                await conn.execute(text("SELECT CAST(:v AS uuid)"), {"v": "Brummelstein"})
        caught.append(error.value)
    finally:
        await runtime.close()
    configure_logging("INFO", json=True)
    capfd.readouterr()
    for exc in caught:
        failure(exc, "/api/v1/somewhere")
    log = capfd.readouterr().err
    # The failures are there, with their tracebacks...
    assert log.count("unhandled_error") == 2
    assert log.count("request_value_rejected") == 1
    assert "uq_users_email" in log
    assert "[redacted]" in log
    for value in (EMAIL, "Brummelstein", "Ottokar"):  # ...not the values
        assert value not in log


def test_the_migration_truncates_the_addresses_already_stored(pg_server: Any) -> None:
    import asyncio

    import asyncpg

    from helpline.migrations import upgrade

    name = asyncio.run(pg_server.create_database(template=None))
    url = pg_server.url(name)

    async def sql(statement: str) -> list[Any]:
        conn = await asyncpg.connect(host=pg_server.host, user="postgres", database=name)
        try:
            if statement.startswith("SELECT"):
                return list(await conn.fetch(statement))
            await conn.execute(statement)  # several statements: the simple query protocol
            return []
        finally:
            await conn.close()

    try:
        upgrade(url, "0010_privacy")
        asyncio.run(
            sql(
                "INSERT INTO users (id, email, username, hashed_password) VALUES (1, 'a@example.com', 'a', 'x');"
                "INSERT INTO audit_log (action, ip_address) VALUES ('a', '203.0.113.77'), ('b', '2001:db8:1:2::3'),"
                " ('c', NULL);"
                "INSERT INTO consent_records (user_id, consent_type, granted, policy_version, ip_address)"
                " VALUES (1, 'gdpr', true, 'v', '198.51.100.9');"
                "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at, ip_address)"
                " VALUES (gen_random_uuid(), gen_random_uuid(), 1, now(), '10.9.8.7')"
            )
        )
        upgrade(url)
        rows = asyncio.run(
            sql(
                "SELECT host(ip_address) AS ip FROM audit_log UNION ALL "
                "SELECT host(ip_address) FROM consent_records UNION ALL SELECT host(ip_address) FROM refresh_tokens"
            )
        )
        assert sorted(str(r["ip"]) for r in rows) == ["10.9.8.0", "198.51.100.0", "2001:db8:1::", "203.0.113.0", "None"]
        # The trigger is back on.
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            asyncio.run(sql("DELETE FROM audit_log"))
    finally:
        asyncio.run(pg_server.drop_database(name))


def test_uvicorn_websocket_lines_name_the_network_only() -> None:
    from helpline.core.logging import _truncate_client

    def line(text: str) -> object:
        return _truncate_client(None, "info", {"event": text})["event"]

    assert line('203.0.113.77:5555 - "WebSocket /api/v1/chat/ws/1" [accepted]') == (
        '203.0.113.0 - "WebSocket /api/v1/chat/ws/1" [accepted]'
    )
    assert line('2001:db8:1:2::3:40000 - "WebSocket /x" 403') == '2001:db8:1:: - "WebSocket /x" 403'
    assert line("Application startup complete.") == "Application startup complete."
