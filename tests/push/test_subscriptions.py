"""Subscribing a browser: the server's public key, a PushSubscription checked and stored once per
endpoint, owned by the user (nobody else sees or deletes it), gone with the account."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from helpline.core.config import PushSettings, Settings, SettingsError, load_settings
from helpline.core.vapid import KEY_FILE, b64url, load, public_point
from tests.auth.test_guest import start_guest
from tests.conftest import bearer, signed_in
from tests.push.conftest import subscribe
from tests.push.pushservice import PushService

URL = "/api/v1/push/subscriptions"


async def test_the_public_key_is_made_once_in_the_data_folder(client: httpx.AsyncClient, settings: Settings) -> None:
    first = (await client.get("/api/v1/push/public-key")).json()["public_key"]
    assert first == (await client.get("/api/v1/push/public-key")).json()["public_key"]
    key_file = settings.data_dir / KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # Read back from the file (as a restarted server would), not made again.
    load.cache_clear()
    assert settings.vapid_keys().public_key == first
    assert len(first) == 87  # base64url of the 65-byte uncompressed P-256 point


def test_configured_keys_are_used_and_checked(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    public = public_point(key.public_key())
    settings = load_settings(data_dir=tmp_path, push=PushSettings(vapid_private_key=raw, vapid_public_key=public))
    assert settings.vapid_keys().public_key == public
    assert not (tmp_path / KEY_FILE).exists()

    other = public_point(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(SettingsError, match="HELPLINE_PUSH_VAPID_PUBLIC_KEY is not the public key"):
        load_settings(
            data_dir=tmp_path, push=PushSettings.model_construct(vapid_private_key=raw, vapid_public_key=other)
        )
    os.environ["HELPLINE_PUSH_VAPID_PRIVATE_KEY"] = "not a key"
    try:
        with pytest.raises(SettingsError, match="HELPLINE_PUSH_VAPID_PRIVATE_KEY is not a P-256 private key"):
            load_settings(data_dir=tmp_path)
    finally:
        del os.environ["HELPLINE_PUSH_VAPID_PRIVATE_KEY"]


async def test_a_subscription_is_checked_and_stored_once_per_endpoint(
    client: httpx.AsyncClient, push: PushService, db: asyncpg.Connection
) -> None:
    browser = push.browser()
    assert (await client.post(URL, json=browser.subscription())).status_code == 401
    tokens = await signed_in(client, "pushy@example.com")
    auth = bearer(tokens)

    bad = browser.subscription()
    for change, field in (
        ({"endpoint": "https://evil.example.com/push/1"}, "endpoint"),
        ({"endpoint": "http://169.254.169.254/latest/meta-data"}, "endpoint"),
        ({"keys": {"p256dh": "AAAA", "auth": bad["keys"]["auth"]}}, "p256dh"),
        ({"keys": {"p256dh": bad["keys"]["p256dh"], "auth": "c2hvcnQ"}}, "auth"),
    ):
        r = await client.post(URL, headers=auth, json={**bad, **change})
        assert r.status_code == 422, r.text
        assert field in r.text
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 0

    first = await subscribe(client, tokens, browser)
    assert first["endpoint"] == browser.endpoint
    # The browser subscribes again with new keys: the same row, the new keys.
    renewed = type(browser)(browser.endpoint)
    again = await subscribe(client, tokens, renewed)
    assert again["id"] == first["id"]
    row = await db.fetchrow("SELECT p256dh, auth FROM push_subscriptions")
    assert row is not None
    assert row["p256dh"] == renewed.subscription()["keys"]["p256dh"]
    assert [s["id"] for s in (await client.get(URL, headers=auth)).json()] == [first["id"]]


async def test_nobody_else_can_see_or_delete_a_subscription(
    client: httpx.AsyncClient, push: PushService, db: asyncpg.Connection
) -> None:
    owner = await signed_in(client, "owner@example.com")
    other = await signed_in(client, "other@example.com")
    sub = await subscribe(client, owner, push.browser())

    assert (await client.get(URL, headers=bearer(other))).json() == []
    r = await client.delete(f"{URL}/{sub['id']}", headers=bearer(other))
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert len((await client.get(URL, headers=bearer(owner))).json()) == 1

    assert (await client.delete(f"{URL}/{sub['id']}", headers=bearer(owner))).status_code == 204
    assert (await client.get(URL, headers=bearer(owner))).json() == []
    actions = await db.fetch(
        "SELECT action, details->>'id' AS sub_id FROM audit_log WHERE action LIKE 'user.push_%' ORDER BY id"
    )
    assert [(a["action"], a["sub_id"]) for a in actions] == [
        ("user.push_subscribed", str(sub["id"])),
        ("user.push_unsubscribed", str(sub["id"])),
    ]
    assert (await client.delete(f"{URL}/{sub['id']}", headers=bearer(owner))).status_code == 404


async def test_a_browser_signed_in_to_another_account_moves_to_it(client: httpx.AsyncClient, push: PushService) -> None:
    first = await signed_in(client, "first@example.com")
    second = await signed_in(client, "second@example.com")
    browser = push.browser()
    sub = await subscribe(client, first, browser)
    assert (await subscribe(client, second, browser))["id"] == sub["id"]
    assert (await client.get(URL, headers=bearer(first))).json() == []
    assert [s["endpoint"] for s in (await client.get(URL, headers=bearer(second))).json()] == [browser.endpoint]


async def test_subscriptions_go_with_the_account(
    client: httpx.AsyncClient, push: PushService, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client, "leaving@example.com")
    await subscribe(client, tokens, push.browser())
    await db.execute("DELETE FROM users WHERE email = 'leaving@example.com'")
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 0


async def test_a_guest_cannot_subscribe(client: httpx.AsyncClient, push: PushService) -> None:
    guest = await start_guest(client)
    r = await client.post(URL, headers=bearer(guest), json=push.browser().subscription())
    assert r.status_code == 403
