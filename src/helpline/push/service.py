"""Web Push subscriptions (one per browser, owned by a user) and the one way to send a push:
``queue_push``. What reaches whom is decided when the push job runs (helpline.push.delivery):
the user's setting for (push, kind), then each of their subscriptions gets its own delivery."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from fastapi import BackgroundTasks
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core import audit
from helpline.core.audit import NO_CLIENT, Client
from helpline.core.config import PushSettings
from helpline.core.errors import Forbidden, NotFound, Unprocessable
from helpline.core.runtime import Runtime
from helpline.jobs.service import enqueue_after_commit
from helpline.models import PushSubscription, User
from helpline.notifications.settings import Kind
from helpline.push.schemas import ExpoTokenIn, PushSubscriptionIn

# Browsers (devices) one account keeps; subscribing one more drops the one unused longest.
MAX_PER_USER = 20
GUEST_REGISTER_FIRST = "Push notifications are for registered accounts: register first"


def endpoint_allowed(endpoint: str, origins: list[str]) -> bool:
    """Whether the server may send to ``endpoint``: its scheme, host and port match one of the
    configured push-service origins ("https://*.example.com" matches any subdomain)."""
    try:
        url = urlsplit(endpoint)
        port = url.port
    except ValueError:
        return False
    host = (url.hostname or "").lower()
    if not host or url.username or url.password:
        return False
    for origin in origins:
        o = urlsplit(origin)
        if o.scheme != url.scheme.lower() or (o.port or None) != (port or None):
            continue
        pattern = (o.hostname or "").lower()
        if (pattern.startswith("*.") and host.endswith(pattern[1:])) or pattern == host:
            return True
    return False


async def subscribe(
    session: AsyncSession, settings: PushSettings, user: User, body: PushSubscriptionIn, client: Client = NO_CLIENT
) -> PushSubscription:
    """Store the browser's subscription for ``user`` (the same endpoint again: its keys and owner
    are replaced, as a browser signed in to another account now belongs to that one)."""
    if user.is_guest:
        raise Forbidden(GUEST_REGISTER_FIRST)
    if not endpoint_allowed(body.endpoint, settings.endpoint_origins):
        raise Unprocessable("endpoint: not the address of a browser push service this server sends to")
    sub = await _upsert(session, user, "webpush", body.endpoint, body.keys.p256dh, body.keys.auth)
    audit.record(session, "user.push_subscribed", actor_user_id=user.id, client=client, details={"id": sub.id})
    return sub


async def register_expo_token(
    session: AsyncSession, user: User, body: ExpoTokenIn, client: Client = NO_CLIENT
) -> PushSubscription:
    """Store the phone's Expo push token for ``user`` (the same token again: its owner is
    replaced, as a phone signed in to another account now belongs to that one)."""
    if user.is_guest:
        raise Forbidden(GUEST_REGISTER_FIRST)
    sub = await _upsert(session, user, "expo", body.token, None, None)
    details = {"id": sub.id, "provider": "expo"}
    audit.record(session, "user.push_subscribed", actor_user_id=user.id, client=client, details=details)
    return sub


async def _upsert(
    session: AsyncSession, user: User, provider: str, endpoint: str, p256dh: str | None, auth: str | None
) -> PushSubscription:
    """Insert or take over the device's row, then keep the user's MAX_PER_USER latest devices."""
    insert = pg_insert(PushSubscription).values(
        user_id=user.id, provider=provider, endpoint=endpoint, p256dh=p256dh, auth=auth
    )
    upsert = insert.on_conflict_do_update(
        index_elements=["endpoint"],
        set_={"user_id": user.id, "provider": provider, "p256dh": p256dh, "auth": auth, "updated_at": func.now()},
    ).returning(PushSubscription)
    sub: PushSubscription = (
        await session.scalars(
            select(PushSubscription).from_statement(upsert), execution_options={"populate_existing": True}
        )
    ).one()
    # Over the cap: the subscriptions touched longest ago go (a device long unused, most likely).
    keep = (
        select(PushSubscription.id)
        .where(PushSubscription.user_id == user.id)
        .order_by(
            func.coalesce(PushSubscription.updated_at, PushSubscription.created_at).desc(), PushSubscription.id.desc()
        )
        .limit(MAX_PER_USER)
    )
    await session.execute(
        delete(PushSubscription).where(PushSubscription.user_id == user.id, PushSubscription.id.not_in(keep))
    )
    return sub


async def list_mine(session: AsyncSession, user: User) -> list[PushSubscription]:
    rows = await session.scalars(
        select(PushSubscription).where(PushSubscription.user_id == user.id).order_by(PushSubscription.id)
    )
    return list(rows)


async def get_owned(session: AsyncSession, user_id: int, subscription_id: int) -> PushSubscription:
    """The subscription if ``user_id`` owns it; someone else's is as missing as one that never was."""
    sub = await session.scalar(
        select(PushSubscription).where(PushSubscription.id == subscription_id, PushSubscription.user_id == user_id)
    )
    if sub is None:
        raise NotFound("No push subscription with this id")
    return sub


async def unsubscribe(session: AsyncSession, user: User, subscription_id: int, client: Client = NO_CLIENT) -> None:
    """Delete one of ``user``'s subscriptions (NotFound for anyone else's)."""
    await session.delete(await get_owned(session, user.id, subscription_id))
    await session.flush()
    audit.record(
        session, "user.push_unsubscribed", actor_user_id=user.id, client=client, details={"id": subscription_id}
    )


async def queue_push(
    runtime: Runtime,
    user_id: int,
    kind: Kind,
    payload: Mapping[str, str | int] | None = None,
    *,
    background: BackgroundTasks | None = None,
    key: str | None = None,
) -> None:
    """Send ``user_id`` a push of ``kind`` (on each of their browsers, if their setting for
    (push, kind) is on when the job runs), in their language. ``payload`` fills the kind's text
    (helpline.push.messages: human_reply needs ``conversation_id``) and may set ``url``, the path
    the notification opens. Given the request's ``background`` tasks, it is queued after the
    response, so after the commit (a rolled-back request pushes nothing); else at once (from a
    job). ``key`` makes it once-only (a second queue_push with it while queued does nothing)."""
    values = dict(payload or {})
    job_key = key or f"push:{kind}:{user_id}:{uuid.uuid4().hex}"
    if background is not None:
        background.add_task(
            enqueue_after_commit, runtime, "push", key=job_key, kind=kind, user_id=user_id, values=values
        )
    else:
        await enqueue_after_commit(runtime, "push", key=job_key, kind=kind, user_id=user_id, values=values)
