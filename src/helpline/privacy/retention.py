"""The retention job: data past its retention period (HELPLINE_RETENTION_*) is deleted, and old
audit entries lose their client address.

Every statement is bounded (at most ``batch_size`` rows, chosen by an id subselect) and runs in a
short transaction of its own, so a large backlog never holds long locks or a huge transaction. A
PostgreSQL advisory lock, held by the job's connection for the whole run, keeps two instances (or
the server and `helpline retention`) from running it at once: the second one skips and says so.

audit_log is append-only (its trigger refuses UPDATE and DELETE); the job's transactions set
``helpline.retention`` for themselves only, which the trigger (migration 0013) reads to allow
deleting entries and setting their ip_address to NULL, nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Select, delete, exists, func, insert, or_, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from helpline.conversations.service import delete_conversations
from helpline.core.config import RetentionSettings
from helpline.core.runtime import Runtime
from helpline.models import (
    AuditLog,
    ConsentRecord,
    Conversation,
    Message,
    RefreshToken,
    RevokedAccessToken,
    RevokedSession,
    UnansweredQuestion,
)

log = structlog.get_logger(__name__)

# pg_advisory_lock key of the job: the bytes "hl:reten" as a (positive) bigint.
LOCK_KEY = int.from_bytes(b"hl:reten", "big")
RETENTION_ACTION = "privacy.retention_run"  # the audit entry of a run that removed something

# Report keys, in the order the rules run.
RULES = (
    "conversations",
    "messages",
    "unanswered_questions",
    "refresh_tokens",
    "revoked_access_tokens",
    "revoked_sessions",
    "consent_records",
    "audit_entries",
    "audit_ips",
)


@dataclass
class RetentionReport:
    """What one run removed (or, dry, would remove): rows per rule. ``skipped``: another run held
    the lock, nothing was looked at."""

    dry_run: bool
    started_at: datetime
    finished_at: datetime | None = None
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RULES, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "skipped": self.skipped,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "counts": dict(self.counts),
        }


def _cutoff(now: datetime, days: int) -> datetime | None:
    """The instant before which data goes; None: the rule is off (0 days keeps for ever)."""
    return now - timedelta(days=days) if days > 0 else None


def _stale_conversations(cutoff: datetime) -> ColumnElement[bool]:
    # Untouched: no message, no rename/archive/tag since the cutoff (greatest() skips NULLs).
    return func.greatest(Conversation.created_at, Conversation.updated_at, Conversation.last_message_at) < cutoff


def _dead_refresh_tokens(cutoff: datetime, now: datetime) -> ColumnElement[bool]:
    # A revoked token that has not expired yet is still worth keeping: presented again, it
    # reveals a stolen session (reuse detection revokes its family).
    return or_(RefreshToken.expires_at < cutoff, (RefreshToken.revoked_at < cutoff) & (RefreshToken.expires_at < now))


def _superseded_consents(cutoff: datetime) -> ColumnElement[bool]:
    # Replaced by a newer record of the same kind before the cutoff; the latest one always stays.
    later = aliased(ConsentRecord)
    return exists().where(
        later.user_id == ConsentRecord.user_id,
        later.consent_type == ConsentRecord.consent_type,
        later.id > ConsentRecord.id,
        later.created_at < cutoff,
    )


class _Run:
    def __init__(self, runtime: Runtime, conn: AsyncConnection, report: RetentionReport, now: datetime) -> None:
        self.runtime = runtime
        self.cfg: RetentionSettings = runtime.settings.retention
        self.conn = conn
        self.report = report
        self.now = now

    async def count(self, stmt: Select[Any]) -> int:
        async with self.conn.begin():
            return int((await self.conn.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())

    async def batches(self, rule: str, step: Callable[[], Awaitable[int]]) -> None:
        """Run ``step`` (one bounded statement in its own transaction) until a batch comes back short."""
        while True:
            done = await step()
            self.report.counts[rule] += done
            if done < self.cfg.batch_size:
                return

    async def _statement(self, stmt: Any, *, audit: bool = False) -> int:
        async with self.conn.begin():
            if audit:
                await self.conn.execute(text("SELECT set_config('helpline.retention', 'on', true)"))
            result = await self.conn.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    async def conversations(self) -> None:
        cutoff = _cutoff(self.now, self.cfg.conversation_days)
        if cutoff is None:
            return
        stale = select(Conversation.id).where(_stale_conversations(cutoff))
        if self.report.dry_run:
            among = stale.scalar_subquery()
            counts = self.report.counts
            counts["conversations"] = await self.count(stale)
            counts["messages"] = await self.count(select(Message.id).where(Message.conversation_id.in_(among)))
            counts["unanswered_questions"] = await self.count(
                select(UnansweredQuestion.id).where(UnansweredQuestion.conversation_id.in_(among))
            )
            return
        while True:
            async with self.conn.begin():
                batch = stale.order_by(Conversation.id).limit(self.cfg.batch_size).with_for_update(skip_locked=True)
                ids = list((await self.conn.scalars(batch)).all())
                if not ids:
                    return
                before = await self.conn.scalar(
                    select(func.count(UnansweredQuestion.id)).where(UnansweredQuestion.conversation_id.in_(ids))
                )
                message_ids = await delete_conversations(self.conn, ids)
            # Committed: their answer streams go too (Redis or in process), as for an erased account.
            await self.runtime.hub.erase(message_ids)
            counts = self.report.counts
            counts["conversations"] += len(ids)
            counts["messages"] += len(message_ids)
            counts["unanswered_questions"] += int(before or 0)
            if len(ids) < self.cfg.batch_size:
                return

    async def refresh_tokens(self) -> None:
        cutoff = _cutoff(self.now, self.cfg.refresh_token_days)
        if cutoff is not None:
            await self._by_key("refresh_tokens", RefreshToken.jti, _dead_refresh_tokens(cutoff, self.now))
        # Revocation lists: an entry past the expiry of what it revokes serves no purpose.
        await self._by_key("revoked_access_tokens", RevokedAccessToken.jti, RevokedAccessToken.expires_at < self.now)
        await self._by_key("revoked_sessions", RevokedSession.sid, RevokedSession.expires_at < self.now)

    async def consents(self) -> None:
        cutoff = _cutoff(self.now, self.cfg.consent_days)
        if cutoff is not None:
            await self._by_key("consent_records", ConsentRecord.id, _superseded_consents(cutoff))

    async def audit(self) -> None:
        entries = _cutoff(self.now, self.cfg.audit_days)
        if entries is not None:
            await self._by_key("audit_entries", AuditLog.id, AuditLog.created_at < entries, audit=True)
        addresses = _cutoff(self.now, self.cfg.audit_ip_days)
        if addresses is None:
            return
        has_ip = (AuditLog.created_at < addresses) & AuditLog.ip_address.is_not(None)
        if self.report.dry_run:
            # Entries the previous rule would have deleted are not counted twice.
            kept = AuditLog.created_at >= entries if entries is not None else true()
            self.report.counts["audit_ips"] = await self.count(select(AuditLog.id).where(has_ip, kept))
            return

        async def step() -> int:
            ids = select(AuditLog.id).where(has_ip).limit(self.cfg.batch_size).scalar_subquery()
            return await self._statement(
                update(AuditLog).where(AuditLog.id.in_(ids)).values(ip_address=None), audit=True
            )

        await self.batches("audit_ips", step)

    async def record(self) -> None:
        """The run in the audit trail (what went, under which periods): also what
        GET /api/v1/privacy/retention shows as the last removal, whichever instance ran it."""
        cfg = self.cfg
        details = {
            "counts": {rule: n for rule, n in self.report.counts.items() if n},
            "days": {
                "conversations": cfg.conversation_days,
                "refresh_tokens": cfg.refresh_token_days,
                "consent_records": cfg.consent_days,
                "audit_entries": cfg.audit_days,
                "audit_ips": cfg.audit_ip_days,
            },
        }
        async with self.conn.begin():
            await self.conn.execute(
                insert(AuditLog).values(action=RETENTION_ACTION, actor_user_id=None, target_type=None, details=details)
            )

    async def _by_key(self, rule: str, key: Any, condition: ColumnElement[bool], *, audit: bool = False) -> None:
        """Delete the rows matching ``condition``, ``batch_size`` at a time (by primary key)."""
        table = key.class_
        if self.report.dry_run:
            self.report.counts[rule] = await self.count(select(key).where(condition))
            return

        async def step() -> int:
            ids = select(key).where(condition).limit(self.cfg.batch_size).scalar_subquery()
            return await self._statement(delete(table).where(key.in_(ids)), audit=audit)

        await self.batches(rule, step)


async def run_retention(runtime: Runtime, *, dry_run: bool = False, now: datetime | None = None) -> RetentionReport:
    """Apply every retention rule once (``dry_run``: only count what would go). Returns the
    report; ``skipped`` when another run holds the lock."""
    now = now or datetime.now(UTC)
    report = RetentionReport(dry_run=dry_run, started_at=datetime.now(UTC))
    async with runtime.engine.connect() as conn:
        got = bool((await conn.execute(select(func.pg_try_advisory_lock(LOCK_KEY)))).scalar_one())
        await conn.commit()
        if not got:
            report.skipped = True
            report.finished_at = datetime.now(UTC)
            return report
        try:
            run = _Run(runtime, conn, report, now)
            await run.conversations()
            await run.refresh_tokens()
            await run.consents()
            await run.audit()
            if not dry_run and report.total:
                await run.record()
        finally:
            # Session-level: it outlives the transactions, so it is released by hand (or, should
            # the connection die, by the server).
            await conn.rollback()
            await conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
            await conn.commit()
    report.finished_at = datetime.now(UTC)
    if not dry_run:
        runtime.retention_last_report = report
    return report
