"""Password recovery by email: the same answer for every email, a single-use link that expires,
every session signed out, the lockout lifted; mails in the outbox (no mail server) or sent over
SMTP to a real local server (aiosmtpd)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from helpline.core.config import AuthSettings, MailSettings, Settings
from tests.conftest import PASSWORD, TEST_SECRET, bearer, login, make_admin, make_settings, serve_app, signed_in
from tests.privacy.conftest import eventually

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
OUTBOX = "/api/v1/admin/outbox"
NEW_PASSWORD = "Quite-new-passphrase-42"
RESET_KIND = "password_reset"
LINK = re.compile(r"(http://\S+/reset-password#token=([\w-]+))")


def outbox_mails(settings: Settings, kind: str | None = None) -> list[EmailMessage]:
    """The outbox's mails, oldest first; only those of ``kind`` (password_reset, ...) if given."""
    folder = settings.outbox_dir
    paths = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in paths]
    return [m for m in mails if kind is None or m["X-Helpline-Kind"] == kind]


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def outbox(settings: Settings, kind: str | None = None, *, count: int = 1) -> list[EmailMessage]:
    """The outbox's mails (oldest first) once ``count`` of ``kind`` are there: mails are made and
    written by jobs, after the response."""
    found: list[EmailMessage] = []

    async def enough() -> bool:
        found[:] = outbox_mails(settings, kind)
        return len(found) >= count

    await eventually(enough)
    return found


def token_in(mail: EmailMessage) -> str:
    found = LINK.search(text_of(mail))
    assert found, text_of(mail)
    return found.group(2)


async def ask(client: httpx.AsyncClient, email: str, **extra: Any) -> httpx.Response:
    return await client.post(RESET, json={"email": email, **extra})


async def test_a_reset_link_sets_a_new_password_once_and_signs_everything_out(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    tokens = await signed_in(client, "reset@example.com")
    known, unknown = await ask(client, "Reset@Example.com"), await ask(client, "nobody@example.com")
    assert (known.status_code, unknown.status_code) == (202, 202)
    assert known.json() == unknown.json()  # nothing tells who has an account
    [mail] = await outbox(settings, RESET_KIND)
    assert mail["To"] == "reset@example.com"
    assert mail["Subject"] == "Reset your Helpline password"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert "reset-password#token=" in html.get_content()
    token = token_in(mail)

    r = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 401
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    assert (await login(client, "reset@example.com")).status_code == 401
    assert (await login(client, "reset@example.com", NEW_PASSWORD)).status_code == 200

    again = await client.post(CONFIRM, json={"token": token, "new_password": "Another-passphrase-43"})
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_reset_token"
    assert (await login(client, "reset@example.com", NEW_PASSWORD)).status_code == 200


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(client: httpx.AsyncClient, settings: Settings) -> None:
    await signed_in(client, "careful@example.com")
    assert (await ask(client, "not-an-email")).status_code == 422
    assert (await client.post(CONFIRM, json={"token": "x" * 43, "new_password": NEW_PASSWORD})).status_code == 400
    await ask(client, "careful@example.com")
    token = token_in((await outbox(settings, RESET_KIND))[0])
    weak = await client.post(CONFIRM, json={"token": token, "new_password": "password"})
    assert weak.status_code == 422
    named = await client.post(CONFIRM, json={"token": token, "new_password": "careful-and-long-2026"})
    assert named.status_code == 422
    assert "email name or username" in named.json()["detail"]
    # A refused password does not use the link up, and the old password still works meanwhile.
    assert (await login(client, "careful@example.com")).status_code == 200
    r = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text


async def test_a_link_from_before_a_password_change_no_longer_works(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    tokens = await signed_in(client, "changed@example.com")
    await ask(client, "changed@example.com")
    token = token_in((await outbox(settings, RESET_KIND))[0])
    r = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(tokens),
    )
    assert r.status_code == 204, r.text
    r = await client.post(CONFIRM, json={"token": token, "new_password": "Another-passphrase-43"})
    assert r.status_code == 400
    assert (await login(client, "changed@example.com", NEW_PASSWORD)).status_code == 200


async def test_asking_is_limited_per_email(client: httpx.AsyncClient, settings: Settings) -> None:
    await signed_in(client, "limited@example.com")
    for _ in range(3):
        assert (await ask(client, "limited@example.com")).status_code == 202
    r = await ask(client, "LIMITED@example.com")
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert len(await outbox(settings, RESET_KIND, count=3)) == 3
    assert (await ask(client, "someone-else@example.com")).status_code == 202


async def test_a_reset_lifts_the_failed_login_lockout(database_url: str, tmp_path: Path) -> None:
    auth = AuthSettings(secret_key=TEST_SECRET, bcrypt_rounds=4, login_max_failures_per_account=2)
    settings = make_settings(database_url, tmp_path, auth=auth)
    async with serve_app(settings, database_url) as client:
        await signed_in(client, "locked@example.com")
        client.cookies.clear()  # no device cookie: a client the lockout applies to
        for _ in range(2):
            assert (await login(client, "locked@example.com", "wrong-password")).status_code == 401
        assert (await login(client, "locked@example.com")).status_code == 429
        await ask(client, "locked@example.com")
        token = token_in((await outbox(settings, RESET_KIND))[0])
        assert (await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})).status_code == 204
        client.cookies.clear()
        assert (await login(client, "locked@example.com", NEW_PASSWORD)).status_code == 200


async def test_the_outbox_is_for_admins(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await signed_in(client, "reader@example.com")
    await ask(client, "reader@example.com", language="fr-CA")
    assert (await client.get(OUTBOX, headers=bearer(user))).status_code == 403
    assert (await client.get(OUTBOX)).status_code == 401
    await signed_in(client, "boss@example.com")
    await make_admin(db, "boss@example.com")
    admin = (await login(client, "boss@example.com")).json()
    page = (await client.get(OUTBOX, headers=bearer(admin))).json()
    assert page["smtp_configured"] is False
    [item] = [i for i in page["items"] if i["kind"] == RESET_KIND]
    assert item["subject"] == "Réinitialisez votre mot de passe Helpline"
    assert (item["to"], item["kind"]) == ("reader@example.com", "password_reset")
    detail = await client.get(f"{OUTBOX}/{item['id']}", headers=bearer(admin))
    assert detail.status_code == 200
    assert "reset-password#token=" in detail.json()["text"]
    assert "<a href=" in detail.json()["html"]
    assert (await client.get(f"{OUTBOX}/20261206T000000000000-00000000", headers=bearer(admin))).status_code == 404
    assert (await client.get(f"{OUTBOX}/..%2F..%2Fsecret_key", headers=bearer(admin))).status_code in (404, 422)
    r = await client.get(f"{OUTBOX}?before=nonsense", headers=bearer(admin))
    assert r.status_code == 422


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.mails.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


async def test_mails_go_to_the_smtp_server_in_the_users_language(
    smtp: tuple[Controller, Inbox], database_url: str, tmp_path: Path
) -> None:
    controller, inbox = smtp
    mail = MailSettings(host="127.0.0.1", port=controller.port, tls="none", sender="Parcelo <help@parcelo.test>")
    settings = make_settings(database_url, tmp_path, mail=mail)
    async with serve_app(settings, database_url) as client:
        await signed_in(client, "spain@example.com")
        assert (await ask(client, "spain@example.com", language="es")).status_code == 202

        async def arrived() -> bool:
            return any(m["X-Helpline-Kind"] == RESET_KIND for m in inbox.mails)

        await eventually(arrived)
    [sent] = [m for m in inbox.mails if m["X-Helpline-Kind"] == RESET_KIND]
    assert sent["Subject"] == "Restablece tu contraseña de Helpline"
    assert sent["From"] == "Parcelo <help@parcelo.test>"
    assert "reset-password#token=" in text_of(sent)
    assert outbox_mails(settings) == []


async def test_a_mail_server_that_is_down_costs_the_request_nothing(database_url: str, tmp_path: Path) -> None:
    mail = MailSettings(host="127.0.0.1", port=free_port(), tls="none", timeout_seconds=2)
    settings = make_settings(database_url, tmp_path, mail=mail)
    async with serve_app(settings, database_url) as client:
        await signed_in(client, "down@example.com")
        r = await ask(client, "down@example.com")
        assert r.status_code == 202
        assert (await login(client, "down@example.com")).status_code == 200
