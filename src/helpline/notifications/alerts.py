"""Staff alerts: every HELPLINE_MAIL_ALERT_WINDOW_MINUTES a scheduled job counts the messages
flagged and the questions left unanswered in the window just past; past either bar, each active
admin and moderator who keeps admin alerts on gets one mail, and one push if they keep those on
and have a browser subscribed (keyed by the window: one per person per window, however many
workers run the schedule)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from helpline.core.runtime import Runtime
from helpline.jobs.service import enqueue_after_commit
from helpline.models import Message, PushSubscription, UnansweredQuestion, User, UserRole, UserStatus
from helpline.models.chat import FLAGGED_SQL
from helpline.notifications.settings import wants
from helpline.push.service import queue_push


async def check_admin_alerts(runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Count the window just past and queue the alert mails if it warrants them; returns the
    counts and how many mails were queued."""
    cfg = runtime.settings.mail
    now = now or datetime.now(UTC)
    window = timedelta(minutes=cfg.alert_window_minutes)
    since = now - window
    async with runtime.sessionmaker() as session:
        flagged = await session.scalar(
            select(func.count()).select_from(Message).where(text(FLAGGED_SQL), Message.created_at > since)
        )
        unanswered = await session.scalar(
            select(func.count()).select_from(UnansweredQuestion).where(UnansweredQuestion.created_at > since)
        )
        counts = {"flagged": int(flagged or 0), "unanswered": int(unanswered or 0)}
        over = (cfg.alert_flagged and counts["flagged"] >= cfg.alert_flagged) or (
            cfg.alert_unanswered and counts["unanswered"] >= cfg.alert_unanswered
        )
        staff: list[int] = []
        pushed: list[int] = []
        if over:
            rows = await session.scalars(
                select(User.id).where(
                    User.role.in_([UserRole.admin, UserRole.moderator]),
                    User.status == UserStatus.active,
                    User.is_guest.is_(False),
                )
            )
            everyone = rows.all()
            staff = [uid for uid in everyone if await wants(session, uid, "email", "admin_alerts")]
            subscribed = set(
                await session.scalars(select(PushSubscription.user_id).where(PushSubscription.user_id.in_(everyone)))
            )
            pushed = [
                uid for uid in everyone if uid in subscribed and await wants(session, uid, "push", "admin_alerts")
            ]
    tick = int(now.timestamp() // window.total_seconds())
    for user_id in staff:
        key = f"mail:admin_alerts:{user_id}:{tick}"
        await enqueue_after_commit(runtime, "mail", key=key, kind="admin_alerts", user_id=user_id, counts=counts)
    for user_id in pushed:
        await queue_push(runtime, user_id, "admin_alerts", counts, key=f"push:admin_alerts:{user_id}:{tick}")
    return {**counts, "mails": len(staff), "pushes": len(pushed)}
