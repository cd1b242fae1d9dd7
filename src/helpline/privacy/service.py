"""A user's privacy rights: consents (and their history), data exports. Erasure is in
privacy.erasure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.service import record_consents
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import Conflict, NotFound, RateLimited
from helpline.core.runtime import Runtime
from helpline.models import AuditLog, ConsentRecord, ConsentType, PrivacyExport, User
from helpline.privacy.schemas import Consents, ConsentUpdate, ExportRead, RetentionRun, RetentionStatus

# A job that has not finished in this time died with its process: it no longer blocks a new one.
STALE_EXPORT = timedelta(minutes=30)
ACTIVE = ("queued", "running")


async def read_consents(session: AsyncSession, runtime: Runtime, user: User) -> Consents:
    latest = (
        await session.execute(
            select(ConsentRecord.granted, ConsentRecord.policy_version)
            .where(ConsentRecord.user_id == user.id, ConsentRecord.consent_type == ConsentType.data_processing)
            .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id.desc())
            .limit(1)
        )
    ).first()
    current = runtime.settings.auth.policy_version
    accepted = latest.policy_version if latest is not None and latest.granted else None
    return Consents(
        data_processing=user.data_processing_consent,
        marketing=user.marketing_consent,
        analytics=user.analytics_consent,
        policy_version=current,
        accepted_policy_version=accepted,
        needs_reconsent=not user.data_processing_consent or accepted != current,
    )


async def update_consents(
    session: AsyncSession, runtime: Runtime, user: User, data: ConsentUpdate, client: Client
) -> Consents:
    """Change the consents given; each change becomes a consent record. Giving data-processing
    consent is recorded even when it was already given: under a new policy version that is the
    user's consent to the new policy. Withdrawing it stops chat at once (chat.repository._CALLER)."""
    changes: dict[ConsentType, bool] = {}
    if data.data_processing is not None:
        if data.data_processing or user.data_processing_consent:
            changes[ConsentType.data_processing] = data.data_processing
            # The spec's general GDPR consent follows the processing consent it is the basis of.
            changes[ConsentType.gdpr] = data.data_processing
        user.data_processing_consent = user.gdpr_consent = data.data_processing
    if data.marketing is not None and data.marketing != user.marketing_consent:
        changes[ConsentType.marketing] = user.marketing_consent = data.marketing
    if data.analytics is not None and data.analytics != user.analytics_consent:
        changes[ConsentType.analytics] = user.analytics_consent = data.analytics
    if changes:
        # The address is truncated where it is stored (models.base.TruncatedInet).
        record_consents(session, runtime, user.id, changes, client, source=data.source)
        audit.record(
            session,
            "privacy.consents_updated",
            actor_user_id=user.id,
            client=client,
            details={k.value: v for k, v in changes.items()} | {"policy_version": runtime.settings.auth.policy_version},
        )
        await session.flush()
    return await read_consents(session, runtime, user)


def export_read(export: PrivacyExport) -> ExportRead:
    done = export.status == "done" and export.expires_at is not None and export.expires_at > datetime.now(UTC)
    return ExportRead(
        id=export.id,
        status=export.status,  # the table's CHECK holds it to the four values
        created_at=export.created_at,
        finished_at=export.finished_at,
        expires_at=export.expires_at,
        size_bytes=export.size_bytes,
        download_url=f"/api/v1/privacy/export/{export.id}/download" if done else None,
    )


async def start_export(session: AsyncSession, runtime: Runtime, user: User, client: Client) -> PrivacyExport:
    """Queue an export of the user's data; the caller starts the job once this has committed.
    One at a time per user, and HELPLINE_PRIVACY_EXPORTS_PER_DAY in 24 hours."""
    now = datetime.now(UTC)
    # Serialises this user's concurrent requests (the checks below would race otherwise).
    await session.execute(select(User.id).where(User.id == user.id).with_for_update())
    # Expired archives go (everyone's: the table holds them only for the download window).
    await session.execute(delete(PrivacyExport).where(PrivacyExport.expires_at < now))
    await session.execute(
        update(PrivacyExport)
        .where(
            PrivacyExport.user_id == user.id,
            PrivacyExport.status.in_(ACTIVE),
            PrivacyExport.created_at < now - STALE_EXPORT,
        )
        .values(status="failed", finished_at=now, error="interrupted")
    )
    active = await session.scalar(
        select(PrivacyExport.id).where(PrivacyExport.user_id == user.id, PrivacyExport.status.in_(ACTIVE)).limit(1)
    )
    if active is not None:
        raise Conflict("An export of your data is already being prepared.", export_id=str(active))
    day_ago = now - timedelta(days=1)
    recent = (
        await session.execute(
            select(func.count(), func.min(PrivacyExport.created_at)).where(
                PrivacyExport.user_id == user.id, PrivacyExport.created_at > day_ago
            )
        )
    ).one()
    limit = runtime.settings.privacy.exports_per_day
    if recent[0] >= limit:
        wait = int((recent[1] + timedelta(days=1) - now).total_seconds()) + 1
        raise RateLimited(f"You can export your data {limit} times a day; try again in {wait} seconds.", wait)
    export = PrivacyExport(id=uuid.uuid4(), user_id=user.id, status="queued")
    session.add(export)
    await session.flush()
    await session.refresh(export, ["created_at"])
    audit.record(
        session, "privacy.export_requested", actor_user_id=user.id, client=client, details={"export": str(export.id)}
    )
    return export


async def get_export(session: AsyncSession, user: User, export_id: uuid.UUID) -> PrivacyExport:
    """The user's own export, or 404 (another user's is as unknown as a made-up id)."""
    export = await session.scalar(
        select(PrivacyExport).where(PrivacyExport.id == export_id, PrivacyExport.user_id == user.id)
    )
    if export is None:
        raise NotFound("No export with this id")
    return export


async def download_export(session: AsyncSession, user: User, export_id: uuid.UUID, client: Client) -> bytes:
    content = await session.scalar(
        select(PrivacyExport.content).where(
            PrivacyExport.id == export_id,
            PrivacyExport.user_id == user.id,
            PrivacyExport.status == "done",
            PrivacyExport.expires_at > datetime.now(UTC),
        )
    )
    if content is None:
        raise NotFound("No export ready with this id: it is not finished, has expired, or is not yours")
    audit.record(
        session, "privacy.export_downloaded", actor_user_id=user.id, client=client, details={"export": str(export_id)}
    )
    return content


async def retention_status(session: AsyncSession, runtime: Runtime) -> RetentionStatus:
    from helpline.privacy.retention import RETENTION_ACTION

    cfg = runtime.settings.retention
    last = (
        await session.execute(
            select(AuditLog.created_at, AuditLog.details)
            .where(AuditLog.action == RETENTION_ACTION)
            .order_by(AuditLog.id.desc())
            .limit(1)
        )
    ).first()
    counts = (last.details or {}).get("counts", {}) if last is not None else {}
    return RetentionStatus(
        enabled=cfg.enabled,
        interval_minutes=cfg.interval_minutes,
        conversation_days=cfg.conversation_days,
        refresh_token_days=cfg.refresh_token_days,
        consent_days=cfg.consent_days,
        audit_ip_days=cfg.audit_ip_days,
        audit_days=cfg.audit_days,
        last_removal=None if last is None else RetentionRun(at=last.created_at, counts=counts),
    )
