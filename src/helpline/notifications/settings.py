"""A user's notification settings: which kinds of notification reach them on which channel.
No stored row means on. Security mails (password reset, email confirmation, someone registering
with your email) are not settings: they always go out. Senders ask ``wants`` before sending."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.models import NotificationSetting, User, UserRole

Channel = Literal["email", "push"]
Kind = Literal["export_ready", "human_reply", "answer_ready", "admin_alerts"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
KINDS: tuple[Kind, ...] = get_args(Kind)
# Kinds sent on some channels only: an answer that arrives while the app is in the background is
# pushed (the service worker shows nothing while a window is in view); a mail per answer is noise.
ONLY_ON: dict[Kind, tuple[Channel, ...]] = {"answer_ready": ("push",)}
ALWAYS_SENT = ("password_reset", "verify_email", "account_exists")


def kinds_for(user: User) -> tuple[Kind, ...]:
    """Admin alerts are for staff only."""
    staff = user.role in (UserRole.admin, UserRole.moderator)
    return tuple(k for k in KINDS if staff or k != "admin_alerts")


async def current(session: AsyncSession, user: User) -> dict[tuple[Channel, Kind], bool]:
    stored = {
        (row.channel, row.kind): row.enabled
        for row in await session.scalars(select(NotificationSetting).where(NotificationSetting.user_id == user.id))
    }
    pairs = [(c, k) for c in CHANNELS for k in kinds_for(user) if c in ONLY_ON.get(k, CHANNELS)]
    return {pair: stored.get(pair, True) for pair in pairs}


def refused(user: User, pairs: Iterable[tuple[Channel, Kind]]) -> list[str]:
    """The (channel, kind) pairs of ``pairs`` this account cannot have, as "kind by channel"."""
    allowed = kinds_for(user)
    return sorted({f"{k} by {c}" for c, k in pairs if k not in allowed or c not in ONLY_ON.get(k, CHANNELS)})


async def update(session: AsyncSession, user: User, changes: dict[tuple[Channel, Kind], bool]) -> None:
    for (channel, kind), enabled in changes.items():
        stmt = pg_insert(NotificationSetting).values(user_id=user.id, channel=channel, kind=kind, enabled=enabled)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id", "channel", "kind"],
                set_={"enabled": enabled, "updated_at": stmt.excluded.updated_at},
            )
        )


async def wants(session: AsyncSession, user_id: int, channel: Channel, kind: Kind) -> bool:
    enabled = await session.scalar(
        select(NotificationSetting.enabled).where(
            NotificationSetting.user_id == user_id,
            NotificationSetting.channel == channel,
            NotificationSetting.kind == kind,
        )
    )
    return enabled is not False
