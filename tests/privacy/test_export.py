"""Data export: POST /api/v1/privacy/export, its status, and the ZIP download."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta

import asyncpg
import httpx

from helpline.core.runtime import Runtime
from helpline.models import Base
from helpline.privacy.export import purge_expired_exports, run_export
from helpline.privacy.rules import EXCLUDED, EXPORT_RULES
from tests.privacy.conftest import account, bearer, finished_export

SECRET_TEXT = "where is my parcel to Ulaanbaatar-Zeta?"


async def test_export_contains_my_data_as_json_and_markdown(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    tokens = await account(client, "ada@example.com", first_name="Ada", last_name="Lovelace")
    auth = bearer(tokens)
    r = await client.post("/api/v1/chat/send", headers=auth, json={"message": SECRET_TEXT})
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/messages/{r.json()['message_id']}/feedback", headers=auth, json={"helpful": True})
    assert r.status_code == 200, r.text
    faq_id = await db.fetchval(
        "INSERT INTO faqs (question, answer, status) VALUES ('Track?', 'Link.', 'published') RETURNING id"
    )
    r = await client.post(f"/api/v1/faqs/{faq_id}/vote", headers=auth, json={"helpful": False})
    assert r.status_code == 200, r.text

    state = await finished_export(client, auth)
    assert state["download_url"] == f"/api/v1/privacy/export/{state['id']}/download"
    assert state["size_bytes"] > 0
    r = await client.get(state["download_url"], headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = set(zf.namelist())
        data = json.loads(zf.read("data.json"))
        readme = zf.read("README.md").decode()
    assert {"data.json", "README.md", "json/profile.json", "json/conversations.json"} <= names
    sections = {s for s in EXPORT_RULES.values() if not s.startswith(EXCLUDED)}
    assert sections <= data.keys()
    assert data["profile"]["email"] == "ada@example.com"
    assert "hashed_password" not in data["profile"]
    assert data["conversations"][0]["messages"][0]["content"] == SECRET_TEXT
    assert {c["consent_type"] for c in data["consents"]} >= {"gdpr", "data_processing", "marketing"}
    assert data["feedback"][0]["helpful"] is True
    assert data["faq_votes"][0]["faq_question"] == "Track?"
    assert data["sessions"]
    assert "user.registered" in {a["action"] for a in data["audit_log"]}
    assert "Lovelace" in readme
    assert SECRET_TEXT in readme
    assert "## Conversations" in readme
    # The download is audited.
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'privacy.export_downloaded'") == 1


async def test_an_export_is_its_owners_only(client: httpx.AsyncClient) -> None:
    owner = bearer(await account(client, "owner@example.com"))
    other = bearer(await account(client, "other@example.com"))
    state = await finished_export(client, owner)
    for url in (f"/api/v1/privacy/export/{state['id']}", state["download_url"]):
        r = await client.get(url, headers=other)
        assert r.status_code == 404, r.text
        assert set(r.json()) >= {"error", "detail", "request_id"}
        r = await client.get(url)
        assert r.status_code == 401, r.text
    r = await client.get(f"/api/v1/privacy/export/{uuid.uuid4()}", headers=owner)
    assert r.status_code == 404
    r = await client.get("/api/v1/privacy/export/not-a-uuid", headers=owner)
    assert r.status_code == 422


async def test_an_expired_export_cannot_be_downloaded(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    auth = bearer(await account(client, "late@example.com"))
    state = await finished_export(client, auth)
    await db.execute("UPDATE privacy_exports SET expires_at = now() - interval '1 second'")
    r = await client.get(state["download_url"], headers=auth)
    assert r.status_code == 404, r.text
    r = await client.get(f"/api/v1/privacy/export/{state['id']}", headers=auth)
    assert r.json()["download_url"] is None


async def test_expired_exports_are_purged_with_their_archives(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    auth = bearer(await account(client, "old@example.com"))
    first = await finished_export(client, auth)
    second = await finished_export(client, auth)
    await db.execute(
        "UPDATE privacy_exports SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(first["id"])
    )
    assert await purge_expired_exports(runtime) == 1
    left = await db.fetch("SELECT id FROM privacy_exports")
    assert [str(r["id"]) for r in left] == [second["id"]]


async def test_exports_are_limited_one_at_a_time_and_per_day(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    auth = bearer(await account(client, "busy@example.com"))
    # One queued (its job not started: the row alone counts) refuses another.
    user_id = await db.fetchval("SELECT id FROM users WHERE email = 'busy@example.com'")
    await db.execute(
        "INSERT INTO privacy_exports (id, user_id, status) VALUES ($1, $2, 'queued')", uuid.uuid4(), user_id
    )
    r = await client.post("/api/v1/privacy/export", headers=auth)
    assert r.status_code == 409, r.text
    await db.execute("UPDATE privacy_exports SET status = 'failed'")
    for _ in range(runtime.settings.privacy.exports_per_day - 1):
        await finished_export(client, auth)
    r = await client.post("/api/v1/privacy/export", headers=auth)
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) > 0


async def test_the_job_of_an_erased_account_ends_quietly(runtime: Runtime, db: asyncpg.Connection) -> None:
    """The job function stands alone (a job queue can run it): an id whose row is gone is no error."""
    assert await run_export(runtime.sessionmaker, uuid.uuid4(), timedelta(days=1)) == "gone"


def test_every_table_with_user_rows_has_an_export_rule() -> None:
    """Also the erasure's safety net: a table reaching users must be decided on, knowingly."""
    reaching: set[str] = {"users"}
    changed = True
    while changed:
        changed = False
        for table in Base.metadata.sorted_tables:
            # Through users, conversations or messages (a FAQ a vote points at is not user data).
            targets = {fk.column.table.name for fk in table.foreign_keys}
            if table.name not in reaching and targets & reaching & {"users", "conversations", "messages"}:
                reaching.add(table.name)
                changed = True
    missing = reaching - EXPORT_RULES.keys()
    assert not missing, f"tables holding user data with no export rule in privacy/rules.py: {sorted(missing)}"
    assert "audit_log" in EXPORT_RULES  # no foreign key, but its rows are about users
