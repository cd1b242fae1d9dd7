"""The mobile app's pushes: a phone registers its Expo push token, and the notifications its
user's settings allow reach it through Expo's push service (here a local stand-in, a real HTTP
server), beside the user's browsers (Web Push), from the same push job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from helpline.core.config import JobsSettings, PushSettings, Settings
from helpline.core.runtime import Runtime
from helpline.push.service import queue_push
from tests.conftest import bearer, make_settings, signed_in
from tests.privacy.conftest import eventually
from tests.push.conftest import subscribe, user_id
from tests.push.exposervice import ExpoService, expo_service
from tests.push.pushservice import PushService
from tests.push.test_delivery import job_result

TOKEN = "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]"


@pytest.fixture
def expo() -> Iterator[ExpoService]:
    with expo_service() as service:
        yield service


@pytest.fixture
def settings(database_url: str, tmp_path: Path, push: PushService, expo: ExpoService) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        push=PushSettings(endpoint_origins=[push.origin], expo_url=expo.url, expo_access_token="expo-secret"),
        jobs=JobsSettings(retry_delay_seconds=0.1, retries=4),
    )


async def register(client: httpx.AsyncClient, tokens: dict[str, str], token: str = TOKEN) -> httpx.Response:
    return await client.post("/api/v1/push/expo-tokens", headers=bearer(tokens), json={"token": token})


async def test_a_phone_registers_its_expo_token(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    assert (await client.post("/api/v1/push/expo-tokens", json={"token": TOKEN})).status_code == 401
    tokens = await signed_in(client, "phone@example.com")
    for bad in ("", "ExponentPushToken[]", "https://push.example.com/x", "ExponentPushToken[a b]", f"{TOKEN}x"):
        r = await register(client, tokens, bad)
        assert r.status_code == 422, (bad, r.text)
    r = await register(client, tokens)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["provider"] == "expo"
    assert sub["endpoint"] == TOKEN
    # The same phone again: the same row, updated. Listed with the browsers.
    again = await register(client, tokens)
    assert again.json()["id"] == sub["id"]
    listed = (await client.get("/api/v1/push/subscriptions", headers=bearer(tokens))).json()
    assert [(s["id"], s["provider"]) for s in listed] == [(sub["id"], "expo")]
    # The phone signs in to another account: it is that account's now.
    other = await signed_in(client, "other@example.com")
    assert (await register(client, other)).json()["id"] == sub["id"]
    owner = await db.fetchval("SELECT u.email FROM push_subscriptions p JOIN users u ON u.id = p.user_id")
    assert owner == "other@example.com"
    assert (await client.get("/api/v1/push/subscriptions", headers=bearer(tokens))).json() == []
    # Removed like a browser's.
    r = await client.delete(f"/api/v1/push/subscriptions/{sub['id']}", headers=bearer(other))
    assert r.status_code == 204
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 0


async def test_guests_cannot_register_a_phone(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/guest", json={})
    assert r.status_code in (200, 201), r.text
    guest = r.json()
    assert (await register(client, guest)).status_code == 403


async def test_a_push_reaches_the_phone_through_expo_and_the_browser_through_web_push(
    client: httpx.AsyncClient, runtime: Runtime, push: PushService, expo: ExpoService
) -> None:
    tokens = await signed_in(client, "both@example.com")
    assert (await client.patch("/api/v1/users/me", headers=bearer(tokens), json={"language": "fr"})).status_code == 200
    await register(client, tokens)
    browser = push.browser()
    await subscribe(client, tokens, browser)

    await queue_push(runtime, await user_id(client, tokens), "human_reply", {"conversation_id": 7})
    [(request, message)] = await expo.wait_for(TOKEN)
    [web] = await push.wait_for(browser)
    decrypted = web.decrypt(browser)
    assert request.path == "/--/api/v2/push/send"
    assert request.headers["authorization"] == "Bearer expo-secret"
    assert request.headers["content-type"].startswith("application/json")
    assert message["to"] == TOKEN
    assert message["title"] == decrypted["title"]
    assert message["body"] == decrypted["body"]
    assert message["data"] == {"url": "/chat/7", "kind": "human_reply"}
    assert message["ttl"] == runtime.settings.push.ttl_seconds


async def test_a_phone_expo_no_longer_knows_is_deleted(
    client: httpx.AsyncClient, runtime: Runtime, expo: ExpoService, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client, "gone@example.com")
    await register(client, tokens)
    expo.replies.append("DeviceNotRegistered")
    await queue_push(runtime, await user_id(client, tokens), "export_ready")

    async def deleted() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM push_subscriptions") == 0)

    await eventually(deleted)
    assert len(expo.to(TOKEN)) == 1  # not retried


async def test_expo_failing_for_now_gets_the_push_again_and_a_refusal_is_not_retried(
    client: httpx.AsyncClient, runtime: Runtime, expo: ExpoService, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client, "patient@example.com")
    await register(client, tokens)
    expo.replies.extend([503, 429, "MessageRateExceeded"])
    uid = await user_id(client, tokens)
    await queue_push(runtime, uid, "export_ready")
    tries = await expo.wait_for(TOKEN, count=4)
    assert tries[-1][1]["title"] == "Your data is ready"
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 1

    expo.replies.append("InvalidCredentials")
    await queue_push(runtime, uid, "export_ready")
    await expo.wait_for(TOKEN, count=5)
    keys = [j.key async for j in runtime.jobs.queue.iter_jobs() if j.function == "push_deliver"]
    results = [await job_result(runtime, k) for k in keys]
    assert sorted(results) == ["rejected:InvalidCredentials", "sent"]
    assert len(expo.to(TOKEN)) == 5
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 1
