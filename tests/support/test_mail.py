"""A person's reply the user did not see is emailed (kind human_reply of the notification
settings); a guest from the widget gets it at the address they gave."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from helpline.core.config import SupportSettings
from helpline.core.runtime import Runtime
from helpline.notifications.mail import list_outbox
from helpline.support.mail import reply_mail
from tests.conftest import bearer, signed_in
from tests.notifications.outbox import mailed
from tests.support.conftest import agent, handed_over


async def _reply(client: httpx.AsyncClient, staff: dict[str, str], conv: int, text: str) -> int:
    await client.post(f"/api/v1/support/conversations/{conv}/claim", headers=staff)
    r = await client.post(f"/api/v1/support/conversations/{conv}/reply", headers=staff, json={"content": text})
    assert r.status_code == 201
    return int(r.json()["id"])


@pytest.mark.parametrize("support_settings", [SupportSettings(email_after_seconds=0)])
async def test_an_unseen_reply_is_emailed_once_by_the_job(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    user = bearer(await signed_in(client, "user@example.com"))
    conv = await handed_over(client, user)
    staff = await agent(client, db, "agent@example.com")
    await _reply(client, staff, conv, "Your parcel is on its way.")
    [mail] = await mailed(runtime.settings.outbox_dir, to="user@example.com", kind="human_reply")
    assert mail.subject == "agent replied to your question"
    assert "Your parcel is on its way." in mail.text
    assert f"/chat/{conv}" in mail.text
    assert "Your parcel is on its way." in mail.html
    assert await reply_mail(runtime, conv) == "skipped"  # mailed already: not again


async def test_a_reply_seen_live_is_not_emailed(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    user = bearer(await signed_in(client, "user@example.com"))
    conv = await handed_over(client, user)
    staff = await agent(client, db, "agent@example.com")
    reply = await _reply(client, staff, conv, "Seen it?")
    await client.post(f"/api/v1/conversations/{conv}/handoff/seen", headers=user, json={"up_to": reply})
    assert await reply_mail(runtime, conv) == "skipped"


async def test_the_users_notification_setting_is_respected(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    user = bearer(await signed_in(client, "user@example.com"))
    off = {"settings": [{"channel": "email", "kind": "human_reply", "enabled": False}]}
    assert (await client.put("/api/v1/users/me/notifications", headers=user, json=off)).status_code == 200
    conv = await handed_over(client, user)
    staff = await agent(client, db, "agent@example.com")
    await _reply(client, staff, conv, "Hello")
    assert await reply_mail(runtime, conv) == "skipped"


async def test_a_guest_who_gave_an_email_gets_the_reply_in_their_language(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    guest = bearer((await client.post("/api/v1/auth/guest", json={})).json())
    r = await client.post("/api/v1/chat/send", headers=guest, json={"message": "Hola", "language": "es"})
    conv = r.json()["conversation_id"]
    r = await client.post(f"/api/v1/conversations/{conv}/handoff", headers=guest, json={"email": "visitor@example.org"})
    assert r.json()["expectation"]["email"] is True
    staff = await agent(client, db, "agent@example.com")
    await _reply(client, staff, conv, "¡Hola! Te ayudo.")
    assert (await reply_mail(runtime, conv)).startswith("outbox")
    [mail] = [m for m in list_outbox(runtime.settings.outbox_dir, limit=10) if m.to == "visitor@example.org"]
    assert mail.subject == "agent respondió a tu pregunta"
    assert "¡Hola! Te ayudo." in mail.text
    assert "/chat/" not in mail.text


async def test_a_guest_without_an_email_is_told_no_email_comes(client: httpx.AsyncClient) -> None:
    guest = bearer((await client.post("/api/v1/auth/guest", json={})).json())
    r = await client.post("/api/v1/chat/send", headers=guest, json={"message": "talk to a person please"})
    assert r.json()["handoff"]["expectation"]["email"] is False
    conv = r.json()["conversation_id"]
    bad = await client.post(f"/api/v1/conversations/{conv}/handoff", headers=guest, json={"email": "not-an-address"})
    assert bad.status_code == 422
