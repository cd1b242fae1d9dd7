"""Administration: accounts as staff see them (with their usage), force logout, and reads of the
audit trail. Role and status changes are users.service.admin_update; erasure is privacy.erasure.
Every staff read of personal data here is itself audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.admin.schemas import AdminUserDetail, AdminUserRead, AuditEntry, UserUsage
from helpline.auth.service import end_every_login
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.cursors import decode_cursor, encode_cursor, int8
from helpline.core.errors import BadRequest, NotFound
from helpline.core.runtime import Runtime
from helpline.models import AuditLog, Conversation, FAQVote, MessageFeedback, User, UserRole, UserStatus
from helpline.users import service as users

AUDIT_READ = "admin.audit_read"


def user_read(user: User) -> AdminUserRead:
    return AdminUserRead(
        id=user.id,
        email=user.email,
        username=user.username,
        role=user.role,
        status=user.status,
        is_guest=user.is_guest,
        created_at=user.created_at,
        last_login_at=user.last_login,
    )


async def list_users(
    session: AsyncSession,
    actor: User,
    client: Client,
    *,
    q: str | None,
    role: UserRole | None,
    status: UserStatus | None,
    guest: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AdminUserRead], str | None]:
    """Accounts in id order, by search and filters (users.service.list_users: audited there)."""
    rows, next_cursor = await users.list_users(
        session, actor, client, q=q, cursor=cursor, limit=limit, role=role, status=status, guest=guest
    )
    return [user_read(u) for u in rows], next_cursor


async def _usage(session: AsyncSession, user_id: int) -> UserUsage:
    """One statement: the conversations' counters (kept on write) for conversations, messages,
    tokens and the last message; counts of the feedback and votes, which keep no counter."""
    conv = (
        select(
            func.count().label("conversations"),
            func.coalesce(func.sum(Conversation.message_count), 0).label("messages"),
            func.coalesce(func.sum(Conversation.total_tokens), 0).label("tokens"),
            func.max(Conversation.last_message_at).label("last_message_at"),
        )
        .where(Conversation.user_id == user_id)
        .subquery()
    )
    feedback = select(func.count()).where(MessageFeedback.user_id == user_id).scalar_subquery()
    votes = select(func.count()).where(FAQVote.user_id == user_id).scalar_subquery()
    row = (
        await session.execute(
            select(conv.c.conversations, conv.c.messages, conv.c.tokens, conv.c.last_message_at, feedback, votes)
        )
    ).one()
    conversations, messages, tokens, last_message_at, feedback_given, faq_votes = row
    return UserUsage(
        conversations=conversations,
        messages=messages,
        feedback_given=feedback_given,
        faq_votes=faq_votes,
        total_tokens=tokens,
        last_activity_at=last_message_at,
    )


async def get_user(session: AsyncSession, actor: User, user_id: int, client: Client) -> AdminUserDetail:
    """An account's profile and usage, for staff (audited: a read of the user's data)."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id")
    usage = await _usage(session, user.id)
    activity = [t for t in (usage.last_activity_at, user.last_login) if t is not None]
    usage.last_activity_at = max(activity) if activity else None
    audit.record(session, "admin.user_viewed", actor_user_id=actor.id, target_id=user.id, client=client)
    return AdminUserDetail(
        **user_read(user).model_dump(),
        first_name=user.first_name,
        last_name=user.last_name,
        language=user.language,
        timezone=user.timezone,
        updated_at=user.updated_at,
        password_changed_at=user.password_changed_at,
        gdpr_consent=user.gdpr_consent,
        data_processing_consent=user.data_processing_consent,
        marketing_consent=user.marketing_consent,
        analytics_consent=user.analytics_consent,
        usage=usage,
    )


async def force_logout(session: AsyncSession, runtime: Runtime, actor: User, user_id: int, client: Client) -> None:
    """End every login of the user: refresh tokens revoked, access tokens refused (their logins
    in revoked_sessions). The caller closes the user's sockets once this has committed. Not
    one's own account: signing oneself out is POST /api/v1/auth/logout."""
    if user_id == actor.id:
        raise BadRequest("Administrators cannot force their own logout here: sign out instead")
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id")
    logins = await end_every_login(session, runtime, user.id)
    audit.record(
        session,
        "admin.user_logged_out",
        actor_user_id=actor.id,
        target_id=user.id,
        client=client,
        details={"logins": logins},
    )


def _action_filter(action: str) -> ColumnElement[bool]:
    """``auth.`` or ``auth.*``: every action under that prefix; anything else: that action."""
    if action.endswith("*"):
        action = action[:-1]
    elif not action.endswith("."):
        return AuditLog.action == action
    escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return AuditLog.action.like(escaped + "%")


async def read_audit(
    session: AsyncSession,
    actor: User,
    client: Client,
    *,
    actor_user_id: int | None,
    action: str | None,
    target_type: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditEntry], str | None]:
    """Audit entries, newest first, by id (ids grow with time). The read is itself audited,
    with the filters used (ids and action names, no personal data)."""
    # A time without a zone is UTC, as every time the API returns is.
    since, until = (t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t for t in (since, until))
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit + 1)
    if cursor:
        stmt = stmt.where(AuditLog.id < decode_cursor(cursor, int8)[0])
    if actor_user_id is not None:
        stmt = stmt.where(AuditLog.actor_user_id == actor_user_id)
    if action:
        stmt = stmt.where(_action_filter(action))
    if target_type:
        stmt = stmt.where(AuditLog.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditLog.target_id == target_id)
    if since is not None:
        stmt = stmt.where(AuditLog.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditLog.created_at < until)
    rows = list((await session.scalars(stmt)).all())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    filters = {
        "actor_user_id": actor_user_id,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    audit.record(
        session,
        AUDIT_READ,
        actor_user_id=actor.id,
        target_type=None,
        client=client,
        details={"filters": {k: v for k, v in filters.items() if v is not None}, "count": min(len(rows), limit)},
    )
    return [_entry(row) for row in rows[:limit]], next_cursor


def _entry(row: AuditLog) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        created_at=row.created_at,
        actor_user_id=row.actor_user_id,
        actor_pseudonym=row.actor_pseudonym,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        ip_address=None if row.ip_address is None else str(row.ip_address),
        user_agent=row.user_agent,
        request_id=row.request_id,
        details=row.details,
        note=row.note,
    )
