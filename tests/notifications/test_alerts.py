"""Staff alerts: past the bars in the window just past, each active admin and moderator who keeps
admin alerts on gets one mail; nobody else, and nothing below the bars."""

from __future__ import annotations

import asyncpg
import httpx

from helpline.core.runtime import Runtime
from helpline.notifications.alerts import check_admin_alerts
from tests.conftest import bearer, login, make_admin, signed_in
from tests.notifications.outbox import mailed
from tests.notifications.test_settings import URL


async def test_staff_who_keep_alerts_on_get_one_mail_per_window(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    await signed_in(client, "boss@example.com")
    await signed_in(client, "quiet-boss@example.com")
    await signed_in(client, "customer@example.com")
    for email in ("boss@example.com", "quiet-boss@example.com"):
        await make_admin(db, email)
    quiet = (await login(client, "quiet-boss@example.com")).json()
    off = {"settings": [{"channel": "email", "kind": "admin_alerts", "enabled": False}]}
    assert (await client.put(URL, headers=bearer(quiet), json=off)).status_code == 200

    # Below the bars (1 flagged, 10 unanswered): no mail.
    assert (await check_admin_alerts(runtime))["mails"] == 0
    await db.executemany("INSERT INTO unanswered_questions (text) VALUES ($1)", [(f"q{i}",) for i in range(10)])
    result = await check_admin_alerts(runtime)
    assert result == {"flagged": 0, "unanswered": 10, "mails": 1, "pushes": 0}
    [mail] = await mailed(runtime.settings.outbox_dir, to="boss@example.com", kind="admin_alerts")
    assert mail.subject == "Helpline: questions need your attention"
    assert "Questions the knowledge base could not answer: 10" in mail.text
    assert "/admin/unanswered" in mail.text

    # The same window again: the job's key is taken, no second mail.
    await check_admin_alerts(runtime)
    assert len(await mailed(runtime.settings.outbox_dir, to="boss@example.com", kind="admin_alerts")) == 1
