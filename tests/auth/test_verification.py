"""Email verification: a link at registration and after a change of email, single use, for the
address it was sent to; HELPLINE_AUTH_EMAIL_VERIFICATION=required makes signing in wait for it;
the owner of an email someone registers again hears of it."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import httpx

from helpline.core.config import AuthSettings, Settings
from tests.auth.test_recovery import outbox_mails, text_of
from tests.conftest import PASSWORD, TEST_SECRET, bearer, login, make_settings, register, serve_app, signed_in
from tests.privacy.conftest import eventually

VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/auth/verify-email/resend"


def verify_token(mail: EmailMessage) -> str:
    found = re.search(r"/verify-email#token=([\w-]+)", text_of(mail))
    assert found, text_of(mail)
    return found.group(1)


async def mails_to(settings: Settings, email: str, subject: str, count: int = 1) -> list[EmailMessage]:
    """The mails to ``email`` with ``subject``, once ``count`` are there (mail jobs run after the response)."""
    found: list[EmailMessage] = []

    async def enough() -> bool:
        found[:] = [m for m in outbox_mails(settings) if m["To"] == email and m["Subject"] == subject]
        return len(found) >= count

    await eventually(enough)
    return found


CONFIRM_SUBJECT = "Confirm your email for Helpline"


async def test_a_new_account_confirms_its_email_with_the_mailed_link(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    tokens = await signed_in(client, "new@example.com")
    assert tokens["user"]["email_verified"] is False
    [mail] = await mails_to(settings, "new@example.com", CONFIRM_SUBJECT)
    token = verify_token(mail)
    r = await client.post(VERIFY, json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json() == {"email": "new@example.com", "email_verified": True}
    me = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert me.json()["email_verified"] is True
    again = await client.post(VERIFY, json={"token": token})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_verify_token")
    assert (await client.post(VERIFY, json={"token": "short"})).status_code == 422


async def test_registering_a_taken_email_tells_its_owner_not_the_caller(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await signed_in(client, "owner@example.com")
    r = await register(client, "Owner@example.com", "Another-long-pass-1")
    assert r.status_code == 202
    [warning] = await mails_to(settings, "owner@example.com", "Someone tried to register with your email")
    assert "/forgot-password" in text_of(warning)
    assert len(await mails_to(settings, "owner@example.com", CONFIRM_SUBJECT)) == 1  # only the first registration's


async def test_required_verification_holds_the_sign_in_until_the_link_is_opened(
    database_url: str, tmp_path: Path
) -> None:
    auth = AuthSettings(secret_key=TEST_SECRET, bcrypt_rounds=4, email_verification="required")
    settings = make_settings(database_url, tmp_path, auth=auth)
    async with serve_app(settings, database_url) as client:
        assert (await register(client, "waiting@example.com")).status_code == 202
        r = await login(client, "waiting@example.com")
        assert r.status_code == 403
        assert r.json()["error"] == "email_not_verified"
        assert (await login(client, "waiting@example.com", "wrong-password")).status_code == 401  # no hint without it

        sent, unknown = (
            await client.post(RESEND, json={"email": "waiting@example.com"}),
            await client.post(RESEND, json={"email": "nobody@example.com"}),
        )
        assert (sent.status_code, unknown.status_code) == (202, 202)
        assert sent.json() == unknown.json()
        first, second = await mails_to(settings, "waiting@example.com", CONFIRM_SUBJECT, count=2)
        assert (await client.post(VERIFY, json={"token": verify_token(second)})).status_code == 200
        assert (await login(client, "waiting@example.com")).status_code == 200
        # Confirmed: no more links for it, and the older link is still single-use but harmless.
        await client.post(RESEND, json={"email": "waiting@example.com"})
        assert len(await mails_to(settings, "waiting@example.com", CONFIRM_SUBJECT)) == 2
        assert (await client.post(VERIFY, json={"token": verify_token(first)})).status_code == 200


async def test_a_new_email_is_confirmed_again_and_old_links_stop_working(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    tokens = await signed_in(client, "before@example.com")
    [old_link] = await mails_to(settings, "before@example.com", CONFIRM_SUBJECT)
    r = await client.patch(
        "/api/v1/users/me", headers=bearer(tokens), json={"email": "after@example.com", "current_password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["email"], r.json()["email_verified"]) == ("after@example.com", False)
    assert (await client.post(VERIFY, json={"token": verify_token(old_link)})).status_code == 400
    [new_link] = await mails_to(settings, "after@example.com", CONFIRM_SUBJECT)
    assert (await client.post(VERIFY, json={"token": verify_token(new_link)})).json()["email"] == "after@example.com"
