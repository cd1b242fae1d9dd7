"""Sending pushes through a real (local) push service: what pywebpush posts carries a VAPID JWT
signed with the server's key and an aes128gcm body only the browser's key opens, in the user's
language; the user's setting is honoured; a push service that dropped the subscription (410)
gets it deleted, one that fails for now gets the push again."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import asyncpg
import http_ece
import httpx
import pytest

from helpline.core.runtime import Runtime
from helpline.notifications.alerts import check_admin_alerts
from helpline.push.service import queue_push
from tests.conftest import bearer, make_admin, signed_in
from tests.privacy.conftest import eventually, finished_export
from tests.push.conftest import subscribe, user_id
from tests.push.pushservice import PushService
from tests.support.conftest import agent, handed_over


async def job_result(runtime: Runtime, key: str) -> Any:
    """The result of the job with ``key`` once it is finished."""
    found: dict[str, Any] = {}

    async def done() -> bool:
        job = await runtime.jobs.queue.job(key)
        if job is not None and job.status in ("complete", "failed"):
            found["result"] = job.result
        return "result" in found

    await runtime.jobs.connected()
    await eventually(done)
    return found["result"]


async def test_a_push_reaches_the_browser_signed_encrypted_and_in_its_language(
    client: httpx.AsyncClient, runtime: Runtime, push: PushService
) -> None:
    tokens = await signed_in(client, "lector@example.com")
    assert (await client.patch("/api/v1/users/me", headers=bearer(tokens), json={"language": "es"})).status_code == 200
    phone, laptop = push.browser("phone"), push.browser("laptop")
    await subscribe(client, tokens, phone)
    await subscribe(client, tokens, laptop)

    await queue_push(runtime, await user_id(client, tokens), "human_reply", {"conversation_id": 7})
    for browser in (phone, laptop):
        [got] = await push.wait_for(browser)
        assert got.decrypt(browser) == {
            "title": "Una persona te ha respondido",
            "body": "Abre tu conversación para leer la respuesta.",
            "url": "/chat/7",
            "kind": "human_reply",
            "tag": "human_reply",
        }
        claims = got.vapid(runtime.settings.vapid_keys().public_key)
        assert claims["aud"] == push.origin
        assert claims["sub"] == "mailto:no-reply@localhost"  # from HELPLINE_MAIL_SENDER by default
        assert time.time() < claims["exp"] <= time.time() + 24 * 3600
        assert got.headers["ttl"] == str(runtime.settings.push.ttl_seconds)
        assert got.headers["topic"] == "human_reply"
    # A browser cannot open another's push.
    [to_phone] = push.to(phone)
    with pytest.raises(http_ece.ECEException, match="Decryption error"):
        to_phone.decrypt(laptop)


async def test_a_slow_answer_is_pushed_to_the_users_browsers(
    client: httpx.AsyncClient, runtime: Runtime, push: PushService
) -> None:
    # The user may have left the app while the model wrote: an answer that took at least
    # HELPLINE_PUSH_ANSWER_AFTER_SECONDS is pushed (the service worker shows it only when no
    # window of the app is in view).
    runtime.settings.push.answer_after_seconds = 0.0
    tokens = await signed_in(client, "waiting@example.com")
    browser = push.browser()
    await subscribe(client, tokens, browser)
    r = await client.post("/api/v1/chat/send", headers=bearer(tokens), json={"message": "How do I track a parcel?"})
    assert r.status_code == 200, r.text
    [got] = await push.wait_for(browser)
    assert got.decrypt(browser) == {
        "title": "Your answer is ready",
        "body": "The assistant answered your question. Open the conversation to read it.",
        "url": f"/chat/{r.json()['conversation_id']}",
        "kind": "answer_ready",
        "tag": "answer_ready",
    }


async def test_a_persons_reply_is_pushed_at_once(
    client: httpx.AsyncClient, runtime: Runtime, push: PushService, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client, "handed@example.com")
    browser = push.browser()
    await subscribe(client, tokens, browser)
    conv = await handed_over(client, bearer(tokens))
    staff = await agent(client, db, "agent@example.com")
    assert (await client.post(f"/api/v1/support/conversations/{conv}/claim", headers=staff)).status_code == 200
    r = await client.post(f"/api/v1/support/conversations/{conv}/reply", headers=staff, json={"content": "Hi!"})
    assert r.status_code == 201, r.text
    [got] = await push.wait_for(browser)
    assert got.decrypt(browser)["url"] == f"/chat/{conv}"
    assert got.decrypt(browser)["kind"] == "human_reply"


async def test_a_push_turned_off_is_not_sent(client: httpx.AsyncClient, runtime: Runtime, push: PushService) -> None:
    tokens = await signed_in(client, "quiet@example.com")
    browser = push.browser()
    await subscribe(client, tokens, browser)
    off = {"settings": [{"channel": "push", "kind": "human_reply", "enabled": False}]}
    assert (await client.put("/api/v1/users/me/notifications", headers=bearer(tokens), json=off)).status_code == 200
    uid = await user_id(client, tokens)

    await queue_push(runtime, uid, "human_reply", {"conversation_id": 1}, key="push:test-off")
    assert await job_result(runtime, "push:test-off") == {"status": "off"}
    # Export-ready pushes are still on: one gets through, and only that one.
    await queue_push(runtime, uid, "export_ready", key="push:test-on")
    assert await job_result(runtime, "push:test-on") == {"status": "queued", "subscriptions": 1}
    [got] = await push.wait_for(browser)
    assert got.decrypt(browser)["kind"] == "export_ready"


async def test_a_subscription_the_push_service_dropped_is_deleted(
    client: httpx.AsyncClient, runtime: Runtime, push: PushService, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client, "gone@example.com")
    browser = push.browser()
    await subscribe(client, tokens, browser)
    push.statuses.append(410)
    await queue_push(runtime, await user_id(client, tokens), "export_ready")
    await push.wait_for(browser)

    async def deleted() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM push_subscriptions") == 0)

    await eventually(deleted)
    assert len(push.to(browser)) == 1  # not retried


async def test_a_push_service_that_fails_for_now_gets_the_push_again(
    client: httpx.AsyncClient, runtime: Runtime, push: PushService, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client, "patient@example.com")
    browser = push.browser()
    await subscribe(client, tokens, browser)
    push.statuses.extend([503, 429])
    await queue_push(runtime, await user_id(client, tokens), "export_ready")
    tries = await push.wait_for(browser, count=3)
    assert tries[-1].decrypt(browser)["title"] == "Your data is ready"
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 1


async def test_a_push_the_service_refuses_is_not_retried(
    client: httpx.AsyncClient, runtime: Runtime, push: PushService, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client, "refused@example.com")
    browser = push.browser()
    sub = await subscribe(client, tokens, browser)
    push.statuses.append(400)
    await queue_push(runtime, await user_id(client, tokens), "export_ready")
    await push.wait_for(browser)
    keys = [j.key async for j in runtime.jobs.queue.iter_jobs() if j.function == "push_deliver"]
    assert await job_result(runtime, keys[0]) == "rejected:400"
    assert len(push.to(browser)) == 1
    assert await db.fetchval("SELECT id FROM push_subscriptions") == sub["id"]


async def test_the_data_export_pushes_when_ready_and_lists_the_browsers(
    client: httpx.AsyncClient, runtime: Runtime, push: PushService
) -> None:
    tokens = await signed_in(client, "exporter@example.com")
    browser = push.browser()
    await subscribe(client, tokens, browser)
    state = await finished_export(client, bearer(tokens))

    [got] = await push.wait_for(browser)
    days = runtime.settings.privacy.export_ttl_days
    assert got.decrypt(browser) == {
        "title": "Your data is ready",
        "body": f"Your data export can be downloaded from your account for {days} days.",
        "url": "/account",
        "kind": "export_ready",
        "tag": "export_ready",
    }
    r = await client.get(state["download_url"], headers=bearer(tokens))
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        data = json.loads(zf.read("data.json"))
        readme = zf.read("README.md").decode()
    [row] = data["push_subscriptions"]
    assert row["endpoint"] == browser.endpoint
    assert set(row) == {"provider", "endpoint", "created_at", "updated_at"}  # not the browser's keys
    assert row["provider"] == "webpush"
    assert browser.endpoint in readme


async def test_staff_with_a_subscribed_browser_get_the_alert_pushed(
    client: httpx.AsyncClient, runtime: Runtime, push: PushService, db: asyncpg.Connection
) -> None:
    boss = await signed_in(client, "boss@example.com")
    await make_admin(db, "boss@example.com")
    customer = await signed_in(client, "customer@example.com")
    boss_browser, customer_browser = push.browser("boss"), push.browser("customer")
    await subscribe(client, boss, boss_browser)
    await subscribe(client, customer, customer_browser)
    await db.executemany("INSERT INTO unanswered_questions (text) VALUES ($1)", [(f"q{i}",) for i in range(10)])

    result = await check_admin_alerts(runtime)
    assert result["pushes"] == 1
    [got] = await push.wait_for(boss_browser)
    minutes = runtime.settings.mail.alert_window_minutes
    assert got.decrypt(boss_browser) == {
        "title": "Questions need your attention",
        "body": f"In the last {minutes} minutes: 0 flagged messages, 10 unanswered questions.",
        "url": "/admin/unanswered",
        "kind": "admin_alerts",
        "tag": "admin_alerts",
    }
    assert push.to(customer_browser) == []
