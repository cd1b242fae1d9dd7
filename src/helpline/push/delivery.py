"""Sending pushes, as background jobs. ``push`` (queued by queue_push) decides: the account is
active, its setting for (push, kind) is on, the message is made in its language; then each of
its browsers gets a ``push_deliver`` job of its own, so a push service that fails is retried
(with the jobs' backoff) without sending the others their notification twice. A push service
answering 404 or 410 has dropped the subscription: it is deleted."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import structlog
from py_vapid import Vapid
from pywebpush import WebPushException, webpush_async
from sqlalchemy import delete, select

from helpline.core.runtime import Runtime
from helpline.models import PushSubscription, User, UserStatus
from helpline.notifications.settings import kinds_for, wants
from helpline.push.messages import render
from helpline.push.schemas import PushMessage

log = structlog.get_logger(__name__)

# Where a notification of each kind leads when the sender gives no url.
DEFAULT_URLS = {
    "export_ready": "/account",
    "human_reply": "/chat",
    "answer_ready": "/chat",
    "admin_alerts": "/admin/unanswered",
}


class PushRetry(Exception):
    """The push service failed for now (5xx, 429, 408, no answer): the job is retried."""


def compose(runtime: Runtime, kind: str, user: User, values: dict[str, Any]) -> PushMessage:
    """The push of ``kind`` for ``user``, in their language, from the sender's values."""
    values = dict(values)
    if kind == "export_ready":
        values.setdefault("days", runtime.settings.privacy.export_ttl_days)
    elif kind == "admin_alerts":
        values.setdefault("minutes", runtime.settings.mail.alert_window_minutes)
        values.setdefault("flagged", 0)
        values.setdefault("unanswered", 0)
    title, body = render(kind, user.language, values)
    url = values.get("url")
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
        if kind in ("human_reply", "answer_ready") and "conversation_id" in values:
            url = f"/chat/{int(values['conversation_id'])}"
        elif kind == "admin_alerts" and int(values["flagged"]) > 0:
            url = "/admin/moderation"
        else:
            url = DEFAULT_URLS.get(kind, "/")
    return PushMessage(title=title, body=body, url=url, kind=kind, tag=kind)


async def push(runtime: Runtime, *, kind: str, user_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """The ``push`` job: queue one delivery per subscription of the user, if they want this push."""
    async with runtime.sessionmaker() as session:
        user = await session.get(User, user_id)
        if user is None or user.is_guest or user.status != UserStatus.active:
            return {"status": "gone"}
        if kind not in kinds_for(user) or not await wants(session, user_id, "push", kind):
            return {"status": "off"}
        ids = list(await session.scalars(select(PushSubscription.id).where(PushSubscription.user_id == user_id)))
        message = compose(runtime, kind, user, values)
    for sub_id in ids:
        await runtime.jobs.enqueue(
            "push_deliver",
            key=f"push_deliver:{sub_id}:{uuid.uuid4().hex}",
            subscription_id=sub_id,
            message=message.model_dump(),
        )
    return {"status": "queued", "subscriptions": len(ids)}


async def deliver(runtime: Runtime, *, subscription_id: int, message: dict[str, Any]) -> str:
    """The ``push_deliver`` job: encrypt ``message`` for the browser (aes128gcm), sign it with the
    VAPID key and post it to its push service. "sent"; "gone" (the subscription was deleted
    meanwhile); "expired" (404/410: deleted now); "rejected:<status>" for another 4xx, which a
    retry would not change (logged). Anything else raises, and the job is retried with backoff."""
    settings = runtime.settings
    async with runtime.sessionmaker() as session:
        sub = await session.get(PushSubscription, subscription_id)
    if sub is None:
        return "gone"
    keys = settings.vapid_keys()
    try:
        await webpush_async(
            subscription_info={"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
            data=json.dumps(message, ensure_ascii=False),
            vapid_private_key=Vapid(keys.private_key),
            vapid_claims={"sub": settings.push_subject},  # a new dict: pywebpush adds aud and exp to it
            ttl=settings.push.ttl_seconds,
            timeout=aiohttp.ClientTimeout(total=settings.push.timeout_seconds),
            headers={"Urgency": "normal", "Topic": str(message.get("tag", ""))[:32] or "helpline"},
        )
    except WebPushException as exc:
        status = exc.status_code
        if status in (404, 410):
            async with runtime.sessionmaker() as session, session.begin():
                await session.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id))
            log.info("push.expired", subscription_id=subscription_id, status=status)
            return "expired"
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            log.error("push.rejected", subscription_id=subscription_id, status=status, error=str(exc)[:300])
            return f"rejected:{status}"
        log.warning("push.retry", subscription_id=subscription_id, status=status, error=str(exc)[:300])
        raise PushRetry(f"push service answered {status}") from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.warning("push.retry", subscription_id=subscription_id, error=str(exc)[:300] or type(exc).__name__)
        raise PushRetry(f"push service not reachable: {type(exc).__name__}") from exc
    log.info("push.sent", subscription_id=subscription_id, kind=message.get("kind"))
    return "sent"
