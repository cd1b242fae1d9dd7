"""Outgoing email: rendered from Jinja2 templates (plain text and HTML, in the reader's language),
sent over SMTP with aiosmtplib, or written to the outbox folder when no mail server is configured
(HELPLINE_MAIL_HOST empty), where the admin panel shows it: a single machine works without one."""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

import aiosmtplib
import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from helpline.core.config import MailSettings, MailTLS
from helpline.core.runtime import Runtime
from helpline.models import User

log = structlog.get_logger(__name__)

LANGUAGES = ("en", "es", "fr", "de")


@cache
def _templates() -> Environment:
    # Autoescape for the HTML parts only: a link in the text part must stay as it is.
    return Environment(
        loader=PackageLoader("helpline.notifications", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def language_of(wanted: str | None) -> str:
    """The mail language for a wanted one ("es-MX" -> "es"); English when there is no template."""
    primary = (wanted or "").split("-")[0].split("_")[0].lower()
    return primary if primary in LANGUAGES else "en"


def compose(kind: str, language: str | None, to: str, sender: str, **context: Any) -> EmailMessage:
    """A mail of ``kind`` (templates/<kind>.<lang>.txt and .html; the text one sets ``subject``)."""
    lang = language_of(language)
    env = _templates()
    text_template = env.get_template(f"{kind}.{lang}.txt")
    text = text_template.render(**context)
    subject = str(getattr(text_template.make_module(context), "subject"))  # noqa: B009 - set by the template
    html = env.get_template(f"{kind}.{lang}.html").render(subject=subject, lang=lang, **context)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    message["X-Helpline-Kind"] = kind
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def mail_to(runtime: Runtime, kind: str, user: User, language: str | None = None, **context: Any) -> EmailMessage:
    """A mail of ``kind`` to ``user``, in ``language`` or theirs, from the configured sender, with
    their name (first name, else username) and ``context`` for the templates."""
    name = user.first_name or user.username
    return compose(kind, language or user.language, user.email, runtime.settings.mail.sender, name=name, **context)


class MailUndeliverable(Exception):
    """The mail server refused the mail for good (a 5xx reply): retrying will not help."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return False
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code < 500
    return isinstance(exc, (aiosmtplib.SMTPException, OSError, TimeoutError))


async def _smtp(settings: MailSettings, message: EmailMessage) -> None:
    await aiosmtplib.send(
        message,
        hostname=settings.host,
        port=settings.port,
        username=settings.username,
        password=settings.password,
        use_tls=settings.tls is MailTLS.tls,
        start_tls=settings.tls is MailTLS.starttls,
        timeout=settings.timeout_seconds,
    )


def write_outbox(outbox: Path, message: EmailMessage) -> str:
    """Store the mail as ``<time>-<random>.eml`` (mode 0600: it may hold a reset link), written to a
    temporary file first so a reader never sees half a mail. Returns its id."""
    outbox.mkdir(parents=True, exist_ok=True)
    mail_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"
    fd, tmp = tempfile.mkstemp(dir=outbox, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(message.as_bytes(policy=policy.SMTP))
    os.replace(tmp, outbox / f"{mail_id}.eml")
    return mail_id


async def deliver(settings: MailSettings, outbox: Path, message: EmailMessage) -> str:
    """Send ``message`` over SMTP, or into the outbox when no server is configured; returns where
    it went. A refusal for good (a 5xx reply) is MailUndeliverable; any other failure (the server
    down, a timeout, a 4xx) is raised as is, for the mail job to be retried with backoff."""
    kind = message.get("X-Helpline-Kind", "mail")
    if not settings.host:
        mail_id = write_outbox(outbox, message)
        log.info("mail.outbox", kind=kind, id=mail_id)
        return f"outbox:{mail_id}"
    try:
        await _smtp(settings, message)
    except aiosmtplib.SMTPException as exc:
        if _retryable(exc):
            log.warning("mail.retry", kind=kind, error=str(exc)[:300])
            raise
        log.error("mail.failed", kind=kind, error=str(exc)[:300])
        raise MailUndeliverable(str(exc)) from exc
    log.info("mail.sent", kind=kind)
    return "smtp"


@dataclass(frozen=True, slots=True)
class StoredMail:
    id: str
    to: str
    subject: str
    kind: str
    created_at: datetime
    text: str
    html: str


def _read(path: Path) -> StoredMail:
    with path.open("rb") as f:
        msg = BytesParser(policy=policy.default).parse(f)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return StoredMail(
        id=path.stem,
        to=str(msg.get("To", "")),
        subject=str(msg.get("Subject", "")),
        kind=str(msg.get("X-Helpline-Kind", "mail")),
        created_at=created,
        text=text.get_content() if text is not None else "",
        html=html.get_content() if html is not None else "",
    )


def list_outbox(outbox: Path, *, limit: int, before: str | None = None) -> list[StoredMail]:
    """The newest mails first (ids sort by time), ``limit`` of them, older than ``before``."""
    if not outbox.is_dir():
        return []
    names = sorted((p.stem for p in outbox.glob("*.eml")), reverse=True)
    if before is not None:
        names = [n for n in names if n < before]
    return [_read(outbox / f"{n}.eml") for n in names[:limit]]


def read_outbox(outbox: Path, mail_id: str) -> StoredMail | None:
    if not mail_id.replace("-", "").isalnum():  # ids are <time>-<hex>: nothing that leaves the folder
        return None
    path = outbox / f"{mail_id}.eml"
    return _read(path) if path.is_file() else None
