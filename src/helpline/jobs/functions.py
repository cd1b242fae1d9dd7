"""The job functions (saq calls each with its context and the job's keyword arguments) and the
schedules. Every job is idempotent: running it twice, or after a crash, does no harm (an export
runs only while its row is "queued"; the clean-ups and retention delete what is due, and a
second run finds nothing; reindexing embeds only what is missing or stale)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import structlog
from saq import CronJob
from saq.types import Context, Function

from helpline.core.config import Settings
from helpline.core.runtime import Runtime
from helpline.jobs.queue import DEFAULT_TIMEOUT, TIMEOUTS

log = structlog.get_logger(__name__)


class JobContext(Context, total=False):
    runtime: Runtime


def _runtime(ctx: JobContext) -> Runtime:
    return ctx["runtime"]


def export_key(export_id: uuid.UUID | str) -> str:
    return f"privacy_export:{export_id}"


async def privacy_export(ctx: JobContext, *, export_id: str) -> str:
    """Build a user's data export (privacy.export.run_export), then queue the "ready" mail; "gone"
    when its row is no longer queued (done by an earlier attempt, or the account erased)."""
    from helpline.notifications.jobs import export_ready
    from helpline.privacy.export import run_export

    runtime = _runtime(ctx)
    ttl = timedelta(days=runtime.settings.privacy.export_ttl_days)
    status = await run_export(runtime.sessionmaker, uuid.UUID(export_id), ttl)
    if status == "done":
        await export_ready(runtime, export_id)
    return status


async def guest_cleanup(ctx: JobContext) -> int:
    """Delete widget guests idle past their retention period; returns how many went."""
    from helpline.auth.guest import purge_guests

    removed = await purge_guests(_runtime(ctx))
    if removed:
        log.info("guests.purged", count=removed)
    return removed


async def export_purge(ctx: JobContext) -> int:
    """Delete data exports past their download window, archives with them."""
    from helpline.privacy.export import purge_expired_exports

    removed = await purge_expired_exports(_runtime(ctx))
    if removed:
        log.info("privacy.exports_purged", count=removed)
    return removed


async def abandoned_answers(ctx: JobContext) -> int:
    """Answers left 'streaming' with nobody generating them (chat.service.sweep_abandoned_answers):
    marked failed, retryable, within a minute or two rather than at the next start."""
    from helpline.chat.service import sweep_abandoned_answers

    return await sweep_abandoned_answers(_runtime(ctx))


async def retention(ctx: JobContext) -> dict[str, Any]:
    """Apply the retention rules (privacy.retention); returns the run's report."""
    from helpline.privacy.retention import run_retention

    report = await run_retention(_runtime(ctx))
    if report.skipped:
        log.info("retention.skipped", reason="another run holds the lock")
    elif report.total:
        log.info("retention.done", **{k: v for k, v in report.counts.items() if v})
    return report.as_dict()


async def faq_reindex(ctx: JobContext) -> dict[str, Any]:
    """Embed every FAQ, phrasing and unanswered question whose vector is missing or stale (as
    `helpline reindex` without --force); queued when an edit or import could not embed at once."""
    from helpline.faqs.backends import embedder_for
    from helpline.faqs.reindex import reindex

    runtime = _runtime(ctx)
    embedder = embedder_for(runtime)
    if embedder is None:
        raise RuntimeError("no embedder is available (HELPLINE_EMBEDDING_*): nothing can be reindexed")
    report = await reindex(runtime.sessionmaker, embedder)
    return dataclasses.asdict(report)


async def mail(
    ctx: JobContext, *, kind: str, user_id: int, language: str | None = None, counts: dict[str, int] | None = None
) -> str:
    """Make and send one mail (helpline.notifications.jobs)."""
    from helpline.notifications.jobs import mail as send

    return await send(ctx, kind=kind, user_id=user_id, language=language, counts=counts)


async def support_reply_mail(ctx: JobContext, *, conversation_id: int) -> str:
    """Mail a person's replies the user has not seen (helpline.support.mail)."""
    from helpline.support.mail import reply_mail

    return await reply_mail(_runtime(ctx), conversation_id)


async def admin_alerts(ctx: JobContext) -> dict[str, int]:
    """Count the flagged messages and unanswered questions of the window just past; mail staff
    past the bars (helpline.notifications.alerts)."""
    from helpline.notifications.alerts import check_admin_alerts

    return await check_admin_alerts(_runtime(ctx))


async def analytics_refresh(ctx: JobContext) -> dict[str, object]:
    """Bring the analytics roll-ups up to date (helpline.analytics.rollup); idempotent."""
    from helpline.analytics.rollup import refresh

    runtime = _runtime(ctx)
    settle = timedelta(hours=runtime.settings.analytics.settle_hours)
    return (await refresh(runtime.sessionmaker, settle=settle)).as_dict()


async def push(ctx: JobContext, *, kind: str, user_id: int, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Queue a push of ``kind`` to each of the user's browsers, if they want it (helpline.push)."""
    from helpline.push.delivery import push as fan_out

    return await fan_out(_runtime(ctx), kind=kind, user_id=user_id, values=values or {})


async def push_deliver(ctx: JobContext, *, subscription_id: int, message: dict[str, Any]) -> str:
    """Send one push to one browser's push service; retried while the service fails."""
    from helpline.push.delivery import deliver

    return await deliver(_runtime(ctx), subscription_id=subscription_id, message=message)


FUNCTIONS = (
    privacy_export,
    guest_cleanup,
    abandoned_answers,
    export_purge,
    retention,
    faq_reindex,
    mail,
    admin_alerts,
    analytics_refresh,
    push,
    push_deliver,
    support_reply_mail,
)
FAQ_REINDEX_KEY = "faq_reindex"


def _every(minutes: int) -> str:
    """A cron expression firing every ``minutes`` (to the nearest that divides an hour or a day)."""
    if minutes < 60:
        step = max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= minutes)
        return f"*/{step} * * * *"
    hours = minutes // 60
    if hours < 24:
        step = max(d for d in (1, 2, 3, 4, 6, 8, 12) if d <= hours)
        return f"0 */{step} * * *"
    return f"0 0 */{min(hours // 24, 28)} * *"


def cron_jobs(settings: Settings) -> list[CronJob[JobContext]]:
    """The schedules. ``unique`` (saq): the job key is "cron:<function>", so however many workers
    schedule it, one run is queued per tick and one worker runs it. Each run gets the timeout,
    attempts and lifetime a queued job of the same function gets (saq's own defaults, 10 s and one
    attempt, otherwise); saq's CronJob takes no retry delay: its retries come at once."""

    def every(function: Function[JobContext], cron: str) -> CronJob[JobContext]:
        name = function.__qualname__
        timeout = TIMEOUTS.get(name, DEFAULT_TIMEOUT)
        retries, ttl = settings.jobs.retries, settings.jobs.keep_hours * 3600
        return CronJob(function, cron=cron, unique=True, timeout=timeout, retries=retries, ttl=ttl)

    jobs = [
        every(abandoned_answers, "* * * * *"),
        every(guest_cleanup, settings.jobs.cleanup_cron),
        every(export_purge, settings.jobs.cleanup_cron),
        every(admin_alerts, _every(settings.mail.alert_window_minutes)),
        every(analytics_refresh, settings.analytics.refresh_cron),
    ]
    if settings.retention.enabled:
        jobs.append(every(retention, _every(settings.retention.interval_minutes)))
    return jobs
