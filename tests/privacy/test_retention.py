"""The retention job (privacy.retention): each rule deletes what is past its period and nothing
newer, in batches, under an advisory lock; a dry run changes nothing; audit_log yields only to it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from helpline.core.config import RedisSettings, RetentionSettings, Settings
from helpline.core.runtime import Runtime
from helpline.privacy.retention import LOCK_KEY, RULES, run_retention
from tests.conftest import REDIS_URL, make_settings
from tests.privacy.conftest import account, bearer, eventually

OLD, RECENT = "40 days", "5 days"  # either side of the 30-day periods below


@pytest.fixture
def settings(database_url: str, tmp_path: Path, redis_db: Redis) -> Settings:
    retention = RetentionSettings(
        conversation_days=30,
        refresh_token_days=30,
        consent_days=30,
        audit_ip_days=30,
        audit_days=60,
        # Small batches: several statements per rule, the loop's end condition exercised.
        batch_size=2,
    )
    return make_settings(database_url, tmp_path, redis=RedisSettings(url=REDIS_URL), retention=retention)


async def _user(db: asyncpg.Connection, name: str) -> int:
    user_id: int = await db.fetchval(
        "INSERT INTO users (email, username, hashed_password) VALUES ($1, $2, 'x') RETURNING id",
        f"{name}@example.com",
        name,
    )
    return user_id


async def _conversation(db: asyncpg.Connection, user_id: int, age: str, *, messages: int = 2) -> int:
    conv_id: int = await db.fetchval(
        "INSERT INTO conversations (user_id, title, created_at, updated_at, last_message_at) "
        "SELECT $1, 'c', at, at, at FROM (SELECT now() - $2::text::interval AS at) t RETURNING id",
        user_id,
        age,
    )
    for i in range(messages):
        await db.execute(
            "INSERT INTO messages (conversation_id, user_id, content, message_type, created_at) "
            "VALUES ($1, $2, $3, 'user', now() - $4::text::interval)",
            conv_id,
            user_id,
            f"message {i}",
            age,
        )
    await db.execute(
        "INSERT INTO unanswered_questions (text, user_id, conversation_id) VALUES ('q', $1, $2)", user_id, conv_id
    )
    return conv_id


async def _token(db: asyncpg.Connection, user_id: int, *, expires: str, revoked: str | None = None) -> uuid.UUID:
    """A refresh token expiring at now + ``expires`` (negative: in the past), revoked ``revoked`` ago."""
    jti = uuid.uuid4()
    await db.execute(
        "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at, revoked_at, ip_address) "
        "VALUES ($1, $1, $2, now() + $3::text::interval, now() - $4::text::interval, '10.0.0.0')",
        jti,
        user_id,
        expires,
        revoked,
    )
    return jti


async def _consent(db: asyncpg.Connection, user_id: int, kind: str, age: str) -> int:
    consent_id: int = await db.fetchval(
        "INSERT INTO consent_records (user_id, consent_type, granted, policy_version, created_at) "
        "VALUES ($1, $2, true, 'v', now() - $3::text::interval) RETURNING id",
        user_id,
        kind,
        age,
    )
    return consent_id


async def _audit(db: asyncpg.Connection, age: str, ip: str | None = "192.0.2.0") -> int:
    entry_id: int = await db.fetchval(
        "INSERT INTO audit_log (action, created_at, ip_address) VALUES ('test.event', now() - $1::text::interval, $2) "
        "RETURNING id",
        age,
        ip,
    )
    return entry_id


async def _ids(db: asyncpg.Connection, sql: str, *args: Any) -> set[Any]:
    return {r[0] for r in await db.fetch(sql, *args)}


async def _seed(db: asyncpg.Connection) -> dict[str, Any]:
    """Rows on both sides of every cutoff; returns the ids that must survive and those that must go."""
    alice, bob = await _user(db, "alice"), await _user(db, "bob")
    seed: dict[str, Any] = {
        "old_conversations": {await _conversation(db, alice, OLD) for _ in range(3)}
        | {await _conversation(db, bob, OLD)},
        "new_conversations": {await _conversation(db, alice, RECENT)},
    }
    # Old by creation but touched lately (a rename): kept.
    touched = await _conversation(db, bob, OLD)
    await db.execute("UPDATE conversations SET updated_at = now() - interval '1 day' WHERE id = $1", touched)
    seed["new_conversations"].add(touched)
    seed["old_tokens"] = {
        await _token(db, alice, expires="-40 days"),  # expired long ago
        await _token(db, alice, expires="-1 day", revoked=OLD),  # revoked long ago, now expired
        await _token(db, bob, expires="-35 days", revoked=RECENT),
    }
    seed["new_tokens"] = {
        await _token(db, alice, expires="-5 days"),  # expired lately
        await _token(db, alice, expires="10 days", revoked=OLD),  # revoked long ago, not expired: reuse detection
        await _token(db, bob, expires="10 days"),  # live
    }
    await db.execute(
        "INSERT INTO revoked_access_tokens (jti, user_id, expires_at) VALUES "
        "(gen_random_uuid(), $1, now() - interval '1 minute'), (gen_random_uuid(), $1, now() + interval '10 minutes')",
        alice,
    )
    await db.execute(
        "INSERT INTO revoked_sessions (sid, user_id, expires_at) VALUES "
        "(gen_random_uuid(), $1, now() - interval '1 minute'), (gen_random_uuid(), $1, now() + interval '10 minutes')",
        alice,
    )
    # Consents: superseded long ago (goes), superseded lately (stays), the latest of each kind (stays).
    gone = await _consent(db, alice, "marketing", "100 days")
    replaced_lately = await _consent(db, alice, "marketing", OLD)
    latest = await _consent(db, alice, "marketing", RECENT)
    only = await _consent(db, bob, "marketing", "400 days")  # old, but nothing replaced it
    other_kind = await _consent(db, alice, "gdpr", "400 days")  # another kind does not supersede it
    seed["old_consents"] = {gone}
    seed["new_consents"] = {replaced_lately, latest, only, other_kind}
    seed["old_audit"] = {await _audit(db, "70 days"), await _audit(db, "61 days", None)}
    seed["audit_ip_cleared"] = {await _audit(db, OLD), await _audit(db, "45 days"), await _audit(db, "31 days")}
    seed["audit_untouched"] = {await _audit(db, RECENT), await _audit(db, "1 day")}
    return seed


async def _state(db: asyncpg.Connection) -> dict[str, Any]:
    return {
        "conversations": await _ids(db, "SELECT id FROM conversations"),
        "messages": await db.fetchval("SELECT count(*) FROM messages"),
        "unanswered": await db.fetchval("SELECT count(*) FROM unanswered_questions"),
        "tokens": await _ids(db, "SELECT jti FROM refresh_tokens"),
        "revoked": await db.fetchval("SELECT count(*) FROM revoked_access_tokens")
        + await db.fetchval("SELECT count(*) FROM revoked_sessions"),
        "consents": await _ids(db, "SELECT id FROM consent_records"),
        "audit": {(r["id"], r["ip"]) for r in await db.fetch("SELECT id, host(ip_address) AS ip FROM audit_log")},
    }


async def test_each_rule_removes_what_is_past_its_period_and_nothing_newer(
    runtime: Runtime, db: asyncpg.Connection
) -> None:
    seed = await _seed(db)
    report = await run_retention(runtime)

    assert not report.skipped
    assert not report.dry_run
    assert report.counts == {
        "conversations": 4,
        "messages": 8,
        "unanswered_questions": 4,
        "refresh_tokens": 3,
        "revoked_access_tokens": 1,
        "revoked_sessions": 1,
        "consent_records": 1,
        "audit_entries": 2,
        "audit_ips": 3,
    }
    assert await _ids(db, "SELECT id FROM conversations") == seed["new_conversations"]
    assert await db.fetchval("SELECT count(*) FROM messages") == 2 * len(seed["new_conversations"])
    assert await _ids(db, "SELECT conversation_id FROM unanswered_questions") == seed["new_conversations"]
    assert await _ids(db, "SELECT jti FROM refresh_tokens") == seed["new_tokens"]
    assert await db.fetchval("SELECT count(*) FROM revoked_access_tokens WHERE expires_at < now()") == 0
    assert await db.fetchval("SELECT count(*) FROM revoked_access_tokens") == 1
    assert await db.fetchval("SELECT count(*) FROM revoked_sessions") == 1
    assert await _ids(db, "SELECT id FROM consent_records") == seed["new_consents"]
    audit = {r["id"]: r["ip"] for r in await db.fetch("SELECT id, host(ip_address) AS ip FROM audit_log")}
    assert not seed["old_audit"] & audit.keys()
    assert all(audit[i] is None for i in seed["audit_ip_cleared"])
    assert all(audit[i] == "192.0.2.0" for i in seed["audit_untouched"])

    # Run again: nothing left to do.
    again = await run_retention(runtime)
    assert again.total == 0


async def test_dry_run_counts_and_changes_nothing(runtime: Runtime, db: asyncpg.Connection) -> None:
    await _seed(db)
    before = await _state(db)
    dry = await run_retention(runtime, dry_run=True)
    assert dry.dry_run
    assert await _state(db) == before
    real = await run_retention(runtime)
    assert dry.counts == real.counts
    assert real.total > 0


async def test_zero_days_keeps_for_ever(
    database_url: str, tmp_path: Path, db: asyncpg.Connection, redis_db: Redis
) -> None:
    from tests.chat.fakes import FakeProvider, KeywordModerator

    settings = make_settings(
        database_url,
        tmp_path,
        retention=RetentionSettings(conversation_days=0, refresh_token_days=0, consent_days=0, audit_ip_days=0),
    )
    rt = Runtime.build(settings, database_url, llm=FakeProvider(), moderator=KeywordModerator())
    try:
        seed = await _seed(db)
        report = await run_retention(rt)
    finally:
        await rt.close()
    # Only the revocation lists (useless once expired) are cleaned; audit_days defaults to 0 too.
    assert {k: v for k, v in report.counts.items() if v} == {"revoked_access_tokens": 1, "revoked_sessions": 1}
    assert seed["old_conversations"] <= await _ids(db, "SELECT id FROM conversations")
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE ip_address IS NOT NULL") == 6


async def test_a_second_run_while_one_holds_the_lock_skips(
    runtime: Runtime, db: asyncpg.Connection, database_url: str
) -> None:
    seed = await _seed(db)
    url = make_url(database_url)
    holder = await asyncpg.connect(host=str(url.query["host"]), user="postgres", database=url.database)
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        report = await run_retention(runtime)
        assert report.skipped
        assert report.total == 0
        assert seed["old_conversations"] <= await _ids(db, "SELECT id FROM conversations")
        await holder.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await holder.close()
    report = await run_retention(runtime)
    assert not report.skipped
    assert report.counts["conversations"] == 4
    # The job let go of its lock: anyone can take it now.
    assert await db.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
    await db.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def test_audit_log_refuses_any_other_delete_or_update(db: asyncpg.Connection) -> None:
    entry = await _audit(db, OLD)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("DELETE FROM audit_log WHERE id = $1", entry)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("UPDATE audit_log SET ip_address = NULL WHERE id = $1", entry)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("TRUNCATE audit_log")
    async with db.transaction():
        await db.execute("SELECT set_config('helpline.retention', 'on', true)")
        # Even for the job: only the address may change, and only to NULL.
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            async with db.transaction():
                await db.execute("UPDATE audit_log SET action = 'forged', ip_address = NULL WHERE id = $1", entry)
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            async with db.transaction():
                await db.execute("UPDATE audit_log SET ip_address = '198.51.100.0' WHERE id = $1", entry)
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            async with db.transaction():
                await db.execute("TRUNCATE audit_log")
        await db.execute("UPDATE audit_log SET ip_address = NULL WHERE id = $1", entry)
        await db.execute("DELETE FROM audit_log WHERE id = $1", entry)
    # The setting lasted for that transaction only.
    other = await _audit(db, OLD)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("DELETE FROM audit_log WHERE id = $1", other)
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE id = $1", entry) == 0


async def test_expired_conversations_take_their_answer_streams_with_them(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection, redis_db: Redis
) -> None:
    tokens = await account(client, "streams@example.com")
    r = await client.post("/api/v1/chat/send", headers=bearer(tokens), json={"message": "Where is my Quokkaparcel?"})
    assert r.status_code == 200, r.text
    answer_id = r.json()["message_id"]

    async def streamed() -> bool:
        return bool([k async for k in redis_db.scan_iter(match=f"*gen:{{{answer_id}}}*")])

    await eventually(streamed)
    await db.execute(
        "UPDATE conversations SET created_at = now() - interval '40 days', updated_at = now() - interval '40 days', "
        "last_message_at = now() - interval '40 days'"
    )
    report = await run_retention(runtime)
    assert report.counts["conversations"] == 1
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert not await streamed()


def test_cli_prints_the_report_and_dry_run_changes_nothing(pg_server: Any, tmp_path: Path) -> None:
    import asyncio

    from helpline.cli import app

    name = asyncio.run(pg_server.create_database())
    url = pg_server.url(name)

    async def seed() -> None:
        conn = await asyncpg.connect(host=pg_server.host, user="postgres", database=name)
        try:
            user = await _user(conn, "cli")
            await _conversation(conn, user, OLD)
            await _audit(conn, OLD)
        finally:
            await conn.close()

    async def count(sql: str) -> int:
        conn = await asyncpg.connect(host=pg_server.host, user="postgres", database=name)
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()

    asyncio.run(seed())
    env = {
        "HELPLINE_DATABASE_URL": url,
        "HELPLINE_DATA_DIR": str(tmp_path),
        "HELPLINE_SECRET_KEY": "cli-test-secret-key-long-enough-0123456789",
        "HELPLINE_LLM_PROVIDER": "fake",
        "HELPLINE_EMBEDDING_PROVIDER": "fake",
        "HELPLINE_MODERATION_PROVIDER": "off",
        "HELPLINE_RETENTION_CONVERSATION_DAYS": "30",
        "HELPLINE_RETENTION_AUDIT_IP_DAYS": "30",
        "HELPLINE_LOG_LEVEL": "WARNING",
        "HELPLINE_LOG_JSON": "false",
    }
    runner = CliRunner()
    try:
        dry = runner.invoke(app, ["retention", "--dry-run"], env=env, catch_exceptions=False)
        assert dry.exit_code == 0, dry.stdout
        assert "dry run" in dry.stdout
        lines = {line.split()[0]: line.split()[1:] for line in dry.stdout.splitlines()[1:] if line.strip()}
        assert set(lines) == set(RULES)
        assert (lines["conversations"][0], lines["messages"][0], lines["audit_ips"][0]) == ("1", "2", "1")
        assert "(older than 30 days)" in dry.stdout
        assert "(kept for ever)" in dry.stdout
        assert asyncio.run(count("SELECT count(*) FROM conversations")) == 1

        real = runner.invoke(app, ["retention"], env=env, catch_exceptions=False)
        assert real.exit_code == 0, real.stdout
        assert real.stdout.startswith("Retention: removed")
        assert asyncio.run(count("SELECT count(*) FROM conversations")) == 0
        assert asyncio.run(count("SELECT count(*) FROM audit_log WHERE ip_address IS NOT NULL")) == 0
    finally:
        asyncio.run(pg_server.drop_database(name))


async def test_deleting_a_conversation_takes_its_answer_streams_too(
    client: httpx.AsyncClient, db: asyncpg.Connection, redis_db: Redis
) -> None:
    tokens = await account(client, "deleter@example.com")
    r = await client.post("/api/v1/chat/send", headers=bearer(tokens), json={"message": "Where is my Quokkaparcel?"})
    assert r.status_code == 200, r.text
    answer_id, conversation_id = r.json()["message_id"], r.json()["conversation_id"]
    await db.execute(
        "INSERT INTO unanswered_questions (text, user_id, conversation_id) "
        "SELECT 'q', user_id, id FROM conversations WHERE id = $1",
        conversation_id,
    )

    async def streamed() -> bool:
        return bool([k async for k in redis_db.scan_iter(match=f"*gen:{{{answer_id}}}*")])

    await eventually(streamed)
    r = await client.delete(f"/api/v1/conversations/{conversation_id}", headers=bearer(tokens))
    assert r.status_code == 204, r.text
    assert not await streamed()
    assert await db.fetchval("SELECT count(*) FROM unanswered_questions") == 0


async def test_the_job_runs_on_the_queue(client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection) -> None:

    seed = await _seed(db)
    # The app's in-process worker (started with the client's app) runs it.
    assert await runtime.jobs.enqueue("retention", key="cron:retention") is not None

    async def purged() -> bool:
        return not seed["old_conversations"] & await _ids(db, "SELECT id FROM conversations")

    await eventually(purged)
    await eventually(lambda: _true(runtime.retention_last_report is not None))


async def _true(value: bool) -> bool:
    return value


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_server_runs_it_only_when_enabled(
    database_url: str, tmp_path: Path, redis_db: Redis, enabled: bool
) -> None:

    from asgi_lifespan import LifespanManager

    from helpline.core.config import EmbeddingSettings, ModerationSettings
    from helpline.jobs.functions import cron_jobs
    from helpline.main import create_app

    settings = make_settings(
        database_url,
        tmp_path,
        moderation=ModerationSettings(provider="off"),
        embedding=EmbeddingSettings(provider="fake"),
        retention=RetentionSettings(enabled=enabled, audit_ip_days=1),
    )
    app = create_app(settings)
    async with LifespanManager(app):
        runtime: Runtime = app.state.runtime
        scheduled = {c.function.__qualname__ for c in cron_jobs(runtime.settings)}
        assert ("retention" in scheduled) == enabled
        if enabled:  # queued once at start, then on its schedule
            await eventually(lambda: _true(runtime.retention_last_report is not None))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/health")).status_code == 200
            assert (await account(client, "still-works@example.com"))["access_token"]


async def test_admins_see_the_periods_and_the_last_removal(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    from tests.conftest import make_admin

    user = await account(client, "plain@example.com")
    assert (await client.get("/api/v1/privacy/retention", headers=bearer(user))).status_code == 403
    assert (await client.get("/api/v1/privacy/retention")).status_code == 401
    await account(client, "boss@example.com")
    await make_admin(db, "boss@example.com")
    admin = await account(client, "boss@example.com")

    r = await client.get("/api/v1/privacy/retention", headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "enabled": True,
        "interval_minutes": 60,
        "conversation_days": 30,
        "refresh_token_days": 30,
        "consent_days": 30,
        "audit_ip_days": 30,
        "audit_days": 60,
        "last_removal": None,
    }
    await _seed(db)
    await run_retention(runtime, dry_run=True)
    assert (await client.get("/api/v1/privacy/retention", headers=bearer(admin))).json()["last_removal"] is None
    report = await run_retention(runtime)
    last = (await client.get("/api/v1/privacy/retention", headers=bearer(admin))).json()["last_removal"]
    assert last["counts"] == {rule: n for rule, n in report.counts.items() if n}
    await run_retention(runtime)  # removes nothing: no new entry
    again = (await client.get("/api/v1/privacy/retention", headers=bearer(admin))).json()["last_removal"]
    assert again == last
