"""Sending pushes, as background jobs. ``push`` (queued by queue_push) decides: the account is
active, its setting for (push, kind) is on, the message is made in its language; then each of
its devices gets a ``push_deliver`` job of its own, so a push service that fails is retried
(with the jobs' backoff) without sending the others their notification twice. Each device is
reached through its provider (``PushProvider``): a browser through its Web Push service
(encrypted, VAPID-signed), a phone running the mobile app through Expo's push service. A
device its service says is gone (Web Push 404/410, Expo DeviceNotRegistered) is deleted."""

from __future__ import annotations

import json
import uuid
from typing import Any, Protocol

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


class PushGone(Exception):
    """The push service no longer knows the device: its subscription is deleted."""


class PushRejected(Exception):
    """The push service refused this push for good (a retry would not change it)."""

    def __init__(self, status: int | str, detail: str = "") -> None:
        super().__init__(f"rejected:{status} {detail}".strip())
        self.status = status
        self.detail = detail


class PushProvider(Protocol):
    """One way to reach a device. ``send`` returns once the push service took the push; it raises
    PushGone (the device is gone), PushRejected (refused for good) or PushRetry (fails for now)."""

    async def send(self, runtime: Runtime, sub: PushSubscription, message: dict[str, Any]) -> None: ...


class WebPushProvider:
    """A browser: the message encrypted for it (aes128gcm), signed with the VAPID key, posted to
    its push service."""

    async def send(self, runtime: Runtime, sub: PushSubscription, message: dict[str, Any]) -> None:
        settings = runtime.settings
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
                raise PushGone(str(status)) from exc
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                raise PushRejected(status, str(exc)[:300]) from exc
            raise PushRetry(f"push service answered {status}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PushRetry(f"push service not reachable: {type(exc).__name__}") from exc


# Expo's per-message errors that a later try may get through.
_EXPO_RETRY_ERRORS = {"MessageRateExceeded"}


class ExpoProvider:
    """A phone running the mobile app: the message posted to Expo's push service
    (HELPLINE_PUSH_EXPO_URL) for its Expo push token, which Expo hands to FCM or APNs. Expo
    answers with a ticket per message: ``ok``, or an error (DeviceNotRegistered: the app was
    uninstalled or its token changed)."""

    async def send(self, runtime: Runtime, sub: PushSubscription, message: dict[str, Any]) -> None:
        settings = runtime.settings.push
        payload = [
            {
                "to": sub.endpoint,
                "title": message.get("title", ""),
                "body": message.get("body", ""),
                "data": {"url": message.get("url"), "kind": message.get("kind")},
                "ttl": settings.ttl_seconds,
                "priority": "default",
                "sound": "default",
                "channelId": "default",
            }
        ]
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if settings.expo_access_token:
            headers["Authorization"] = f"Bearer {settings.expo_access_token}"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.timeout_seconds)) as http,
                http.post(settings.expo_url, json=payload, headers=headers) as response,
            ):
                status = response.status
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PushRetry(f"Expo push service not reachable: {type(exc).__name__}") from exc
        if status in (408, 429) or status >= 500:
            raise PushRetry(f"Expo push service answered {status}")
        if status >= 400:
            raise PushRejected(status, text[:300])
        try:
            tickets = json.loads(text).get("data")
            ticket = tickets[0] if isinstance(tickets, list) else tickets
            outcome = str(ticket.get("status"))
        except (ValueError, AttributeError, IndexError, TypeError) as exc:
            raise PushRetry("Expo push service answered something that is not a ticket") from exc
        if outcome == "ok":
            return
        error = str((ticket.get("details") or {}).get("error") or "")
        if error == "DeviceNotRegistered":
            raise PushGone(error)
        if error in _EXPO_RETRY_ERRORS:
            raise PushRetry(f"Expo: {error}")
        raise PushRejected(error or "error", str(ticket.get("message", ""))[:300])


PROVIDERS: dict[str, PushProvider] = {"webpush": WebPushProvider(), "expo": ExpoProvider()}


async def deliver(runtime: Runtime, *, subscription_id: int, message: dict[str, Any]) -> str:
    """The ``push_deliver`` job: send ``message`` to one device through its provider. "sent";
    "gone" (the subscription was deleted meanwhile); "expired" (the push service no longer knows
    the device: deleted now); "rejected:<status>" for a refusal a retry would not change (logged).
    A failure for now raises PushRetry, and the job is retried with backoff."""
    async with runtime.sessionmaker() as session:
        sub = await session.get(PushSubscription, subscription_id)
    if sub is None:
        return "gone"
    provider = PROVIDERS[sub.provider]
    try:
        await provider.send(runtime, sub, message)
    except PushGone as exc:
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id))
        log.info("push.expired", subscription_id=subscription_id, provider=sub.provider, status=str(exc))
        return "expired"
    except PushRejected as exc:
        log.error(
            "push.rejected",
            subscription_id=subscription_id,
            provider=sub.provider,
            status=exc.status,
            error=exc.detail,
        )
        return f"rejected:{exc.status}"
    except PushRetry as exc:
        log.warning("push.retry", subscription_id=subscription_id, provider=sub.provider, error=str(exc))
        raise
    log.info("push.sent", subscription_id=subscription_id, provider=sub.provider, kind=message.get("kind"))
    return "sent"
