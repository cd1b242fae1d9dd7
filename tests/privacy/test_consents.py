"""Consents: GET/PUT /api/v1/privacy/consents, their records, and chat refused without consent."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from helpline.core.runtime import Runtime
from tests.privacy.conftest import account, bearer

CONSENT_URL = "/api/v1/privacy/consents"


async def test_consents_are_read_changed_and_recorded(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    tokens = await account(client, "c@example.com")
    auth = bearer(tokens)
    r = await client.get(CONSENT_URL, headers=auth)
    assert r.status_code == 200, r.text
    policy = runtime.settings.auth.policy_version
    assert r.json() == {
        "data_processing": True,
        "marketing": False,
        "analytics": False,
        "policy_version": policy,
        "accepted_policy_version": policy,
        "needs_reconsent": False,
    }
    r = await client.put(
        CONSENT_URL, headers=auth | {"User-Agent": "consent-test/1"}, json={"analytics": True, "source": "web"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["analytics"] is True
    row = await db.fetchrow(
        "SELECT granted, policy_version, source, host(ip_address) AS ip, user_agent, created_at FROM consent_records "
        "WHERE consent_type = 'analytics'"
    )
    assert row is not None
    assert (row["granted"], row["policy_version"], row["source"]) == (True, policy, "web")
    # The address is kept truncated: where from, not who.
    assert row["ip"] == "127.0.0.0"
    assert row["user_agent"] == "consent-test/1"
    assert row["created_at"] is not None
    registration = await db.fetchval("SELECT DISTINCT source FROM consent_records WHERE consent_type = 'gdpr'")
    assert registration == "registration"
    # The users columns (the spec's) keep in step.
    cols = await db.fetchrow(
        "SELECT analytics_consent, marketing_consent, data_processing_consent, gdpr_consent FROM users"
    )
    assert tuple(cols.values()) == (True, False, True, True)  # type: ignore[union-attr]
    # The same value again records nothing new.
    await client.put(CONSENT_URL, headers=auth, json={"analytics": True})
    assert await db.fetchval("SELECT count(*) FROM consent_records WHERE consent_type = 'analytics'") == 1


@pytest.mark.parametrize(
    "body", [{}, {"marketing": "yes"}, {"marketing": None}, {"data_processing": 1}, {"other": True}, {"source": "x"}]
)
async def test_bad_consent_changes_are_refused(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    auth = bearer(await account(client, "c@example.com"))
    r = await client.put(CONSENT_URL, headers=auth, json=body)
    assert r.status_code == 422, r.text
    assert set(r.json()) >= {"error", "detail", "request_id"}


async def test_a_new_policy_version_asks_for_consent_again(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    auth = bearer(await account(client, "c@example.com"))
    await db.execute("UPDATE consent_records SET policy_version = '2020-01-01'")
    body = (await client.get(CONSENT_URL, headers=auth)).json()
    assert body["needs_reconsent"] is True
    assert body["accepted_policy_version"] == "2020-01-01"
    r = await client.put(CONSENT_URL, headers=auth, json={"data_processing": True, "source": "web"})
    assert r.status_code == 200, r.text
    assert r.json()["needs_reconsent"] is False
    assert r.json()["accepted_policy_version"] == r.json()["policy_version"]


async def test_withdrawn_consent_stops_every_chat_entry_point(
    client: httpx.AsyncClient, db: asyncpg.Connection, live_server: str
) -> None:
    tokens = await account(client, "c@example.com")
    auth, uid = bearer(tokens), tokens["user"]["id"]
    first = await client.post("/api/v1/chat/send", headers=auth, json={"message": "hello"})
    assert first.status_code == 200, first.text
    conversation = first.json()["conversation_id"]
    url = f"ws://{live_server}/api/v1/chat/ws/{uid}?token={tokens['access_token']}"
    async with websockets.connect(url, proxy=None) as ws:
        r = await client.put(CONSENT_URL, headers=auth, json={"data_processing": False})
        assert r.status_code == 200, r.text
        assert r.json()["needs_reconsent"] is True
        stored = await db.fetchval("SELECT count(*) FROM messages")
        for path, body in [
            ("/api/v1/chat/send", {"message": "again", "conversation_id": conversation}),
            ("/api/v1/chat/send", {"message": "a new conversation"}),
            ("/api/v1/chat/stream", {"message": "again", "conversation_id": conversation}),
            (f"/api/v1/chat/messages/{first.json()['message_id']}/retry", None),
        ]:
            r = await client.post(path, headers=auth, json=body)
            assert r.status_code == 403, (path, r.text)
            assert r.json()["error"] == "consent_required", path
            assert "consent" in r.json()["detail"]
        await ws.send(json.dumps({"type": "message", "content": "again", "conversation_id": conversation}))
        frame = json.loads(await ws.recv())
        assert (frame["type"], frame["code"]) == ("error", "consent_required")
        # The socket stays open: consent given again, the user goes on.
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}
        assert await db.fetchval("SELECT count(*) FROM messages") == stored
        # The account itself still works (to give consent again, export, erase).
        assert (await client.get("/api/v1/users/me", headers=auth)).status_code == 200
        r = await client.put(CONSENT_URL, headers=auth, json={"data_processing": True})
        assert r.status_code == 200, r.text
        await ws.send(json.dumps({"type": "message", "content": "back", "conversation_id": conversation}))
        # Every socket of the user gets the user's answers: the first answer's events, published
        # on Redis by a batch writer, may reach this socket late (a loaded machine); then the ack.
        frame = json.loads(await ws.recv())
        while frame["type"] != "ack" and frame.get("message_id") == first.json()["message_id"]:
            frame = json.loads(await ws.recv())
        assert frame["type"] == "ack", frame
    r = await client.post("/api/v1/chat/send", headers=auth, json={"message": "back again"})
    assert r.status_code == 200, r.text
    kinds = [
        (r["consent_type"], r["granted"])
        for r in await db.fetch(
            "SELECT consent_type::text, granted FROM consent_records WHERE consent_type = 'data_processing' ORDER BY id"
        )
    ]
    assert kinds == [("data_processing", True), ("data_processing", False), ("data_processing", True)]


async def test_a_new_policy_setting_asks_everyone_again(client: httpx.AsyncClient, runtime: Runtime) -> None:
    auth = bearer(await account(client, "c@example.com"))
    runtime.settings.auth.policy_version = "2099-01-01"  # HELPLINE_AUTH_POLICY_VERSION at the next start
    body = (await client.get(CONSENT_URL, headers=auth)).json()
    assert (body["policy_version"], body["needs_reconsent"]) == ("2099-01-01", True)
    # Chat goes on meanwhile (consent was given, under the old policy); the web app asks.
    r = await client.post("/api/v1/chat/send", headers=auth, json={"message": "hello"})
    assert r.status_code == 200, r.text
    r = await client.put(CONSENT_URL, headers=auth, json={"data_processing": True})
    assert r.json()["accepted_policy_version"] == "2099-01-01"
    assert r.json()["needs_reconsent"] is False
