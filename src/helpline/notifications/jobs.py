"""Mails as background jobs: a request queues ``mail`` with the kind and the user's id once its
transaction has committed, and the job (on any worker) makes the mail, with its link, and sends
it; a failed delivery is retried with the jobs' backoff (HELPLINE_JOBS_RETRIES). The queue never
holds a link or a token: the admin's job screen shows a job's arguments."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import Literal

from fastapi import BackgroundTasks

from helpline.core.runtime import Runtime
from helpline.jobs.functions import JobContext
from helpline.jobs.service import enqueue_after_commit
from helpline.models import User, UserStatus
from helpline.notifications.mail import MailUndeliverable, deliver, mail_to
from helpline.notifications.settings import wants
from helpline.push.service import queue_push

MailKind = Literal["password_reset", "verify_email", "account_exists", "export_ready", "admin_alerts"]


def send_later(background: BackgroundTasks, runtime: Runtime, kind: MailKind, user: User, **extra: str | None) -> None:
    """Queue the mail job after the response (so after the commit: a rolled-back request mails nothing)."""
    key = f"mail:{kind}:{uuid.uuid4().hex}"
    background.add_task(enqueue_after_commit, runtime, "mail", key=key, kind=kind, user_id=user.id, **extra)


async def _compose(
    runtime: Runtime, kind: str, user: User, language: str | None, counts: dict[str, int] | None = None
) -> EmailMessage | None:
    from helpline.auth.recovery import reset_mail
    from helpline.auth.verification import account_exists_mail, verification_mail

    if kind == "password_reset":
        return await reset_mail(runtime, user, language)
    if kind == "verify_email":
        return None if user.email_verified else await verification_mail(runtime, user)
    if kind == "account_exists":
        return account_exists_mail(runtime, user)
    if kind == "export_ready":
        async with runtime.sessionmaker() as session:
            if not await wants(session, user.id, "email", "export_ready"):
                return None
        link, days = f"{runtime.settings.base_url}/account", runtime.settings.privacy.export_ttl_days
        return mail_to(runtime, "export_ready", user, link=link, days=days)
    if kind == "admin_alerts":
        async with runtime.sessionmaker() as session:
            if not await wants(session, user.id, "email", "admin_alerts"):
                return None
        base = runtime.settings.base_url
        window = runtime.settings.mail.alert_window_minutes
        counts = counts or {}
        return mail_to(
            runtime,
            "admin_alerts",
            user,
            flagged=counts.get("flagged", 0),
            unanswered=counts.get("unanswered", 0),
            minutes=window,
            moderation=f"{base}/admin/moderation",
            unanswered_link=f"{base}/admin/unanswered",
        )
    raise ValueError(f"unknown mail kind {kind!r}")


async def mail(
    ctx: JobContext, *, kind: str, user_id: int, language: str | None = None, counts: dict[str, int] | None = None
) -> str:
    """Make and send one mail; "gone" if its account is no longer there or active, "skipped" if it
    is no longer needed (an email confirmed meanwhile), "undeliverable" if the server refused it
    for good (a 5xx: retrying would not help). Where it went otherwise (smtp, outbox:<id>)."""
    runtime = ctx["runtime"]
    async with runtime.sessionmaker() as session:
        user = await session.get(User, user_id)
        if user is None or user.is_guest or user.status != UserStatus.active:
            return "gone"
        message = await _compose(runtime, kind, user, language, counts)
    if message is None:
        return "skipped"
    try:
        return await deliver(runtime.settings.mail, runtime.settings.outbox_dir, message)
    except MailUndeliverable:
        return "undeliverable"


async def export_ready(runtime: Runtime, export_id: str) -> None:
    """After an export is built: the "your data is ready" mail and push, unless its owner turned
    them off (checked when each is made). One of each per export (their keys)."""
    from helpline.models import PrivacyExport

    async with runtime.sessionmaker() as session:
        export = await session.get(PrivacyExport, uuid.UUID(export_id))
    if export is None:
        return
    await runtime.jobs.enqueue(
        "mail", key=f"mail:export_ready:{export_id}", kind="export_ready", user_id=export.user_id
    )
    await queue_push(runtime, export.user_id, "export_ready", key=f"push:export_ready:{export_id}")
