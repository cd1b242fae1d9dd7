"""Notification settings: everything on until turned off, per channel and kind; admin alerts for
staff only; guests have none to set; the settings are part of the data export and go with the user."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from helpline.core.runtime import Runtime
from helpline.notifications.settings import wants
from helpline.privacy.export import collect
from tests.auth.test_guest import start_guest
from tests.conftest import bearer, login, make_admin, signed_in
from tests.notifications.outbox import mailed
from tests.privacy.conftest import eventually, finished_export

URL = "/api/v1/users/me/notifications"


def as_map(body: dict[str, Any]) -> dict[tuple[str, str], bool]:
    return {(s["channel"], s["kind"]): s["enabled"] for s in body["settings"]}


async def test_settings_start_on_and_change_per_channel_and_kind(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client)
    r = await client.get(URL, headers=bearer(tokens))
    assert r.status_code == 200
    body = r.json()
    assert as_map(body) == {
        ("email", "export_ready"): True,
        ("email", "human_reply"): True,
        ("push", "export_ready"): True,
        ("push", "human_reply"): True,
        ("push", "answer_ready"): True,  # pushed only: a mail per answer would be noise
    }
    assert "password_reset" in body["always_sent"]

    change = {"settings": [{"channel": "email", "kind": "human_reply", "enabled": False}]}
    r = await client.put(URL, headers=bearer(tokens), json=change)
    assert r.status_code == 200, r.text
    assert as_map(r.json())[("email", "human_reply")] is False
    assert as_map(r.json())[("push", "human_reply")] is True
    user_id = tokens["user"]["id"]
    async with runtime.sessionmaker() as session:
        assert await wants(session, user_id, "email", "human_reply") is False
        assert await wants(session, user_id, "email", "export_ready") is True

    # Bad input changes nothing.
    bad: dict[str, Any]
    for bad in (
        {"settings": [{"channel": "sms", "kind": "human_reply", "enabled": True}]},
        {"settings": [{"channel": "email", "kind": "admin_alerts", "enabled": False}]},  # not staff
        {"settings": [{"channel": "email", "kind": "answer_ready", "enabled": True}]},  # push only
        {"settings": []},
        {"settings": [{"channel": "email", "kind": "human_reply", "enabled": True, "user_id": 1}]},
    ):
        r = await client.put(URL, headers=bearer(tokens), json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert as_map((await client.get(URL, headers=bearer(tokens))).json())[("email", "human_reply")] is False

    # Staff get admin alerts to set too.
    await make_admin(db, "user@example.com")
    admin = (await login(client)).json()
    r = await client.put(
        URL, headers=bearer(admin), json={"settings": [{"channel": "email", "kind": "admin_alerts", "enabled": False}]}
    )
    assert r.status_code == 200
    assert as_map(r.json())[("email", "admin_alerts")] is False


async def test_guests_have_no_settings_to_change(client: httpx.AsyncClient) -> None:
    guest = await start_guest(client)
    change = {"settings": [{"channel": "email", "kind": "human_reply", "enabled": False}]}
    assert (await client.put(URL, headers=bearer(guest), json=change)).status_code == 403
    assert (await client.get(URL)).status_code == 401


async def test_changed_settings_are_in_the_data_export_and_go_with_the_user(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client, "exported@example.com")
    change = {"settings": [{"channel": "push", "kind": "export_ready", "enabled": False}]}
    assert (await client.put(URL, headers=bearer(tokens), json=change)).status_code == 200
    async with runtime.sessionmaker() as session:
        sections = await collect(session, tokens["user"]["id"])
    rows = sections["notification_settings"]
    assert isinstance(rows, list)
    [row] = rows
    assert (row["channel"], row["kind"], row["enabled"]) == ("push", "export_ready", False)
    await db.execute("DELETE FROM users WHERE email = 'exported@example.com'")
    assert await db.fetchval("SELECT count(*) FROM notification_settings") == 0


async def test_a_finished_export_is_mailed_unless_turned_off(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    tokens = await signed_in(client, "exporter@example.com")
    await finished_export(client, bearer(tokens))
    [mail] = await mailed(runtime.settings.outbox_dir, to="exporter@example.com", kind="export_ready")
    assert mail.subject == "Your Helpline data export is ready"
    assert "/account" in mail.text

    off = {"settings": [{"channel": "email", "kind": "export_ready", "enabled": False}]}
    assert (await client.put(URL, headers=bearer(tokens), json=off)).status_code == 200
    second = await finished_export(client, bearer(tokens))
    key = f"mail:export_ready:{second['id']}"

    async def skipped() -> bool:
        job = await runtime.jobs.call(runtime.jobs.queue.job(key))
        return job is not None and job.result == "skipped"

    await eventually(skipped)
    assert len(await mailed(runtime.settings.outbox_dir, to="exporter@example.com", kind="export_ready")) == 1
