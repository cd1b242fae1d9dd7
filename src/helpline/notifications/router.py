"""The outbox (admins): mails written to data_dir/outbox because no mail server is configured
(HELPLINE_MAIL_HOST empty), so a single-machine install can still hand out a reset link."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from helpline.auth.dependencies import AdminUser, ClientDep
from helpline.core import audit
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.errors import NotFound
from helpline.notifications.mail import list_outbox, read_outbox
from helpline.notifications.schemas import OutboxMail, OutboxMailDetail, OutboxPage

router = APIRouter(prefix="/api/v1/admin/outbox", tags=["admin"])

_ADMIN: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not an administrator"},
}

MailId = Annotated[str, Query(pattern=r"^[0-9T]{21}-[0-9a-f]{8}$", description="A mail id from this list")]


@router.get("", response_model=OutboxPage, responses=_ADMIN)
async def outbox(
    actor: AdminUser,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before: MailId | None = None,
) -> OutboxPage:
    """Mails in the outbox, newest first."""
    mails = await asyncio.to_thread(list_outbox, runtime.settings.outbox_dir, limit=limit + 1, before=before)
    page = [OutboxMail.model_validate(m, from_attributes=True) for m in mails]
    return OutboxPage(
        items=page[:limit],
        next_before=page[limit - 1].id if len(page) > limit else None,
        smtp_configured=bool(runtime.settings.mail.host),
    )


@router.get("/{mail_id}", response_model=OutboxMailDetail, responses=_ADMIN | {404: {"description": "No such mail"}})
async def outbox_mail(
    mail_id: str, actor: AdminUser, runtime: RuntimeDep, session: SessionDep, client: ClientDep
) -> OutboxMailDetail:
    """One mail with its text and HTML (audited: it is someone's mail)."""
    mail = await asyncio.to_thread(read_outbox, runtime.settings.outbox_dir, mail_id)
    if mail is None:
        raise NotFound("No mail with this id in the outbox")
    audit.record(
        session, "admin.outbox_read", actor_user_id=actor.id, target_type="mail", target_id=mail.id, client=client
    )
    return OutboxMailDetail(
        id=mail.id,
        to=mail.to,
        subject=mail.subject,
        kind=mail.kind,
        created_at=mail.created_at,
        text=mail.text,
        html=mail.html,
    )
